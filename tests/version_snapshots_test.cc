// Startup snapshots per code version, end to end (supervisor/workers/snapshot_maker.h): a real
// supervisor, its snapshot maker processes and its workers in the real sandbox, on by default.
//   - Once a version's blob is made, fresh calls get copies of it, and still share nothing: module
//     state, globals and builtins one call changed are pristine in the next.
//   - A maker past its memory limit (tests/apps/snapshot/convex/hog.js) dies alone: no worker is
//     harmed, the version runs on its modules.
//   - Blobs kept on disk are read back after a restart, and one damaged there is made again.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/classic_bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

// What touch returns in a context no call has used.
constexpr char kPristine[] = R"({"calls":1,"leaked":null,"max":2,"memo":0,"polluted":null})";

uint64_t SnapshotInvocations(const isobar::v1::StatsResponse& stats) {
  uint64_t n = 0;
  for (const auto& worker : stats.workers()) n += worker.snapshot_invocations();
  return n;
}

bool AllWorkersReady(const isobar::v1::StatsResponse& stats) {
  for (const auto& worker : stats.workers()) {
    if (worker.state() != "ready") return false;
  }
  return stats.workers_size() > 0;
}

class VersionSnapshotsTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra_args = {}) {
    supervisor_ = std::make_unique<SupervisorProcess>(
        SupervisorOptions{.workers = 2, .enable_eval = false, .extra_args = std::move(extra_args)});
    ASSERT_TRUE(supervisor_->Start().ok()) << supervisor_->log();
    absl::StatusOr<std::string> key = supervisor_->Deploy("snap", "tests/apps/snapshot.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    stub_ = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  }

  // Each call with other arguments: a query's cached result would answer a repeat without running it.
  std::string Touch() {
    FunctionResult result = CallFunction(
        *stub_, CallKind::kQuery,
        {.deployment = "snap", .key = key_, .path = "state:touch", .args_json = absl::StrCat(R"({"n":)", ++calls_, "}")});
    if (!result.status.ok()) return absl::StrCat("error: ", result.status.error_message());
    return result.response.result_json();
  }

  void ExpectNoWorkerHarmed(const isobar::v1::StatsResponse& stats) {
    for (const auto& worker : stats.workers()) {
      EXPECT_EQ(worker.starts(), 1u) << worker.DebugString();
      EXPECT_EQ(worker.crashes(), 0u) << worker.DebugString();
      EXPECT_EQ(worker.security_events(), 0u) << worker.DebugString();
    }
  }

  std::unique_ptr<SupervisorProcess> supervisor_;
  std::string key_;
  int calls_ = 0;
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
};

TEST_F(VersionSnapshotsTest, FreshCallsAreCopiesOfTheVersionsSnapshotAndShareNothing) {
  Start();
  // The first calls run on the modules; the second asks for the version's blob.
  EXPECT_EQ(Touch(), kPristine);
  EXPECT_EQ(Touch(), kPristine);
  absl::StatusOr<isobar::v1::StatsResponse> made = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.snapshot_makers().made() + s.snapshot_makers().failed() +
                                                      s.snapshot_makers().refused() > 0; },
      absl::Seconds(60));
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(made->snapshot_makers().made(), 1u) << made->snapshot_makers().DebugString() << supervisor_->log();
  EXPECT_EQ(made->snapshot_makers().cached(), 1u);
  EXPECT_GT(made->snapshot_makers().bytes(), 100u << 10);
  const uint64_t before = SnapshotInvocations(*made);

  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
  // A mutation's host calls are served in a copy too.
  FunctionResult noted = CallFunction(*stub_, CallKind::kMutation,
                                      {.deployment = "snap", .key = key_, .path = "state:note",
                                       .args_json = R"({"text":"hi"})"});
  ASSERT_TRUE(noted.status.ok()) << noted.status.error_message();
  EXPECT_EQ(noted.response.result_json(), R"({"calls":1,"text":"hi"})");

  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(SnapshotInvocations(*stats) - before, kCalls + 1u) << stats->DebugString();
  // Each worker was sent the blob once, however many calls it served from it.
  for (const auto& worker : stats->workers()) EXPECT_LE(worker.snapshots_made(), 1u) << worker.DebugString();
  ExpectNoWorkerHarmed(*stats);
  EXPECT_THAT(supervisor_->log(), HasSubstr("has a startup snapshot"));
}

TEST_F(VersionSnapshotsTest, AMakerPastItsMemoryLimitDiesAloneAndTheVersionRunsOnItsModules) {
  // Enough for a maker to make a snapshot of the version without hog.js (it peaks at about 40 MB of
  // private memory), not for hog.js's top-level code.
  Start({"--snapshot-maker-mb=64"});
  EXPECT_EQ(Touch(), kPristine);
  EXPECT_EQ(Touch(), kPristine);
  absl::StatusOr<isobar::v1::StatsResponse> failed = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.snapshot_makers().failed() > 0; }, absl::Seconds(60));
  ASSERT_TRUE(failed.ok()) << failed.status() << supervisor_->log();
  EXPECT_EQ(failed->snapshot_makers().made(), 0u);
  EXPECT_EQ(failed->snapshot_makers().failed(), 1u);
  // It is not tried again: every call of the version runs on its modules, as pristine.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->snapshot_makers().failed(), 1u);
  EXPECT_EQ(SnapshotInvocations(*stats), 0u);
  ExpectNoWorkerHarmed(*stats);
  // It died of its version's top-level code (V8 ends the process when the kernel refuses it memory).
  EXPECT_THAT(supervisor_->log(), HasSubstr("Fatal javascript OOM"));
  EXPECT_THAT(supervisor_->log(), HasSubstr("no snapshot for a version of deployment \"snap\""));
  // A maker's death is not a worker's: nothing is quarantined.
  EXPECT_EQ(stats->quarantined_deployments_size(), 0);
}

// The pid of a running snapshot maker started by `supervisor` (a child of it started with
// --make-snapshot: other tests' supervisors run makers on this machine too), polling /proc until one
// runs or `timeout` passes; 0 then.
pid_t AwaitMaker(pid_t supervisor, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream status(entry.path() / "status");
      pid_t parent = 0;
      for (std::string line; std::getline(status, line);) {
        absl::string_view field = line;
        if (absl::ConsumePrefix(&field, "PPid:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(field), &parent)) break;
      }
      if (parent != supervisor) continue;
      std::ifstream cmdline(entry.path() / "cmdline");
      std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
      if (args.find(std::string("--make-snapshot\0", 16)) != std::string::npos) return std::stoi(name);
    }
  }
  return 0;
}

// A maker that dies as an exploit attempt would (SIGSEGV here, sent by the test as soon as the maker
// runs: its version's top-level code cannot do it on purpose) is a security event of the deployment,
// and makers count towards its quarantine as workers do: the third one quarantines it. (Without the
// sandbox: in its own PID namespace a maker is its namespace's init, which only SIGKILL reaches from
// outside, and a SIGKILL is the supervisor's own doing.)
TEST_F(VersionSnapshotsTest, AMakerThatCrashesIsASecurityEventOfItsDeployment) {
  Start({"--sandbox=off"});
  for (int version = 1; version <= 3; ++version) {
    if (version > 1) {
      // A new version: the same app, its classic script changed by a comment (its ES modules are not).
      absl::StatusOr<isobar::v1::PushRequest> push = SupervisorProcess::BundlePush("snap", "tests/apps/snapshot.modules");
      ASSERT_TRUE(push.ok()) << push.status();
      for (auto& module : *push->mutable_modules()) {
        if (module.path() == kClassicBundlePath) module.mutable_source()->append(absl::StrCat("\n// version ", version, "\n"));
      }
      auto deployments = isobar::v1::Deployments::NewStub(
          grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      supervisor_->Authorize(context);
      isobar::v1::PushResponse pushed;
      grpc::Status status = deployments->Push(&context, *push, &pushed);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    EXPECT_EQ(Touch(), kPristine);
    EXPECT_EQ(Touch(), kPristine);  // its second call: a maker starts
    const pid_t maker = AwaitMaker(supervisor_->pid(), absl::Seconds(30));
    ASSERT_GT(maker, 0) << "no snapshot maker ran for version " << version;
    ASSERT_EQ(kill(maker, SIGSEGV), 0);
    absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->AwaitStats(
        [version](const isobar::v1::StatsResponse& s) {
          return s.snapshot_makers().failed() + s.snapshot_makers().made() >= static_cast<uint64_t>(version);
        },
        absl::Seconds(60));
    ASSERT_TRUE(stats.ok()) << stats.status();
    ASSERT_EQ(stats->snapshot_makers().security_events(), static_cast<uint64_t>(version)) << supervisor_->log();
    ExpectNoWorkerHarmed(*stats);
    EXPECT_EQ(stats->quarantined_deployments_size(), version < 3 ? 0 : 1);
  }
  EXPECT_THAT(supervisor_->log(), HasSubstr("security event: the snapshot maker of a version of deployment \"snap\" died"));
  FunctionResult refused = CallFunction(*stub_, CallKind::kQuery,
                                        {.deployment = "snap", .key = key_, .path = "state:touch", .args_json = R"({"n":0})"});
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.status.error_message();
}

// Blobs are kept on disk (<data-dir>/snapshots, supervisor/workers/snapshot_disk_cache.h): a restarted
// supervisor reads its version's blob back at the version's first call instead of making it again.
// A damaged file is refused, removed, and the blob made again.
TEST_F(VersionSnapshotsTest, ARestartReadsBlobsBackFromDiskAndADamagedOneIsMadeAgain) {
  Start();
  EXPECT_EQ(Touch(), kPristine);
  EXPECT_EQ(Touch(), kPristine);
  absl::StatusOr<isobar::v1::StatsResponse> stored = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.snapshot_makers().stored() > 0 || s.snapshot_makers().failed() > 0; },
      absl::Seconds(60));
  ASSERT_TRUE(stored.ok()) << stored.status() << supervisor_->log();
  ASSERT_EQ(stored->snapshot_makers().made(), 1u) << stored->snapshot_makers().DebugString();
  ASSERT_EQ(stored->snapshot_makers().stored(), 1u);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(supervisor_->data_dir() + "/snapshots")) {
    files.push_back(entry.path());
  }
  ASSERT_EQ(files.size(), 1u);

  ASSERT_TRUE(supervisor_->Stop().ok());
  ASSERT_TRUE(supervisor_->Start().ok()) << supervisor_->log();
  stub_ = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  // (A call before any worker said which build it is does not look: the build names the file.)
  ASSERT_TRUE(supervisor_->AwaitStats(AllWorkersReady, absl::Seconds(30)).ok());
  EXPECT_EQ(Touch(), kPristine);  // its first call since the restart looks on disk
  absl::StatusOr<isobar::v1::StatsResponse> loaded = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.snapshot_makers().loaded() > 0; }, absl::Seconds(60));
  ASSERT_TRUE(loaded.ok()) << loaded.status() << supervisor_->log();
  const uint64_t before = SnapshotInvocations(*loaded);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->snapshot_makers().made(), 0u) << "made again, not read back";
  EXPECT_EQ(stats->snapshot_makers().disk_rejected(), 0u);
  EXPECT_EQ(SnapshotInvocations(*stats) - before, 10u);
  ExpectNoWorkerHarmed(*stats);

  // One bit of the blob flipped while the supervisor was down.
  ASSERT_TRUE(supervisor_->Stop().ok());
  {
    std::fstream file(files[0], std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1000, std::ios::end);
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(-1000, std::ios::end);
    byte ^= 0x10;
    file.write(&byte, 1);
    ASSERT_TRUE(file.good());
  }
  ASSERT_TRUE(supervisor_->Start().ok()) << supervisor_->log();
  stub_ = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(supervisor_->AwaitStats(AllWorkersReady, absl::Seconds(30)).ok());
  EXPECT_EQ(Touch(), kPristine);  // looks on disk, and refuses what it finds
  EXPECT_EQ(Touch(), kPristine);  // a maker starts
  absl::StatusOr<isobar::v1::StatsResponse> remade = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.snapshot_makers().stored() > 0 || s.snapshot_makers().failed() > 0; },
      absl::Seconds(60));
  ASSERT_TRUE(remade.ok()) << remade.status() << supervisor_->log();
  EXPECT_EQ(remade->snapshot_makers().disk_rejected(), 1u);
  EXPECT_EQ(remade->snapshot_makers().loaded(), 0u);
  EXPECT_EQ(remade->snapshot_makers().made(), 1u);
  EXPECT_THAT(supervisor_->log(), HasSubstr("its SHA-256 does not match"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
}

// The switchable per-stage timings (supervisor/workers/stage_timings.h) on the same calls.
TEST_F(VersionSnapshotsTest, StageTimingsSayWhereTheCallsTimeWent) {
  Start({"--trace-stages=true"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::map<std::string, isobar::v1::StageTiming> query;
  for (const isobar::v1::StageTiming& t : stats->stage_timings()) {
    EXPECT_EQ(t.label(), "query/fresh") << t.DebugString();
    query[t.stage()] = t;
  }
  for (const char* stage : {"queue", "to_worker", "worker", "host_wait", "to_supervisor", "finish", "total"}) {
    ASSERT_EQ(query.count(stage), 1u) << stage;
    EXPECT_EQ(query[stage].count(), 5u) << stage;
  }
  EXPECT_EQ(query.count("host_serve"), 0u);  // touch makes no host call
  EXPECT_EQ(query["host_wait"].p90_us(), 0);
  // Each call's worker time lies within its total (one clock for both processes).
  EXPECT_GT(query["worker"].p50_us(), 0);
  EXPECT_GE(query["total"].p50_us(), query["worker"].p50_us());
  EXPECT_GE(query["total"].p90_us(), query["worker"].p90_us());
}

TEST_F(VersionSnapshotsTest, SnapshotsCanBeTurnedOff) {
  Start({"--snapshots=false"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Touch(), kPristine) << "call " << i;
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->snapshot_makers().made() + stats->snapshot_makers().failed(), 0u);
  EXPECT_EQ(SnapshotInvocations(*stats), 0u);
  EXPECT_EQ(stats->stage_timings_size(), 0);  // off by default
}

}  // namespace
}  // namespace isobar::testing
