// Faults (SECURITY.md §5, cases 37-40) on a real supervisor with real workers and PostgreSQL:
//   37: a worker SIGKILLed in the middle of a mutation leaves none of its writes, and a retry with the
//       same idempotency key applies it exactly once;
//   38: the supervisor SIGKILLed under load and restarted: every acknowledged mutation is there, retries
//       of the unacknowledged ones by key apply each exactly once, and no worker outlives it;
//   39: PostgreSQL restarted under load: see postgres_outage_test.cc;
//   40: PostgreSQL stalled by a lock: calls fail soon and retryably, memory stays put, and it serves again.
// And the SIGTERM drain: running calls finish, new ones are refused, everything stops cleanly.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/pg_conn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

using Outcome = FunctionResult;
using Kind = CallKind;

// A call to the "faults" deployment, on a channel of its own (the supervisor may have restarted).
Outcome Call(SupervisorProcess& supervisor, const std::string& key, Kind kind, const std::string& path,
             const std::string& args_json, const std::string& idempotency_key = "",
             absl::Duration timeout = absl::Seconds(30)) {
  auto stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  return CallFunction(*stub, kind,
                      {.deployment = "faults",
                       .key = key,
                       .path = path,
                       .args_json = args_json,
                       .idempotency_key = idempotency_key,
                       .timeout = timeout});
}

int CountNamed(SupervisorProcess& supervisor, const std::string& key, const std::string& name) {
  Outcome counted = Call(supervisor, key, Kind::kQuery, "counters:countNamed", absl::StrCat(R"({"name":")", name, "\"}"));
  EXPECT_TRUE(counted.status.ok()) << counted.status.error_message();
  return counted.status.ok() ? static_cast<int>(std::stod(counted.response.result_json())) : -1;
}

std::string Mark(const std::string& name, bool spin) {
  return absl::StrCat(R"({"name":")", name, R"(","spin":)", spin ? "true" : "false", "}");
}

// Waits until `pid` (not our child) exits; false if it still runs after `timeout`.
bool AwaitExit(pid_t pid, absl::Duration timeout) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno == ESRCH;  // gone already
  struct pollfd exited = {pidfd, POLLIN, 0};
  const bool done = poll(&exited, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1;
  close(pidfd);
  return done;
}

TEST(FaultsTest, AWorkerKilledMidMutationLeavesNoWritesAndTheKeyedRetryAppliesOnce) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> key = supervisor.Deploy("faults", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();

  // The mutation inserts its marker, then burns CPU; the worker is killed while it runs.
  Outcome killed;
  std::thread client([&] { killed = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("victim", true), "retry-me"); });
  absl::StatusOr<isobar::v1::StatsResponse> running = supervisor.AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.workers_size() == 1 && s.workers(0).in_flight() == 1; },
      absl::Seconds(30));
  ASSERT_TRUE(running.ok() && running->workers(0).in_flight() == 1);
  ASSERT_EQ(kill(static_cast<pid_t>(running->workers(0).pid()), SIGKILL), 0);
  client.join();
  EXPECT_EQ(killed.status.error_code(), grpc::StatusCode::UNAVAILABLE) << killed.status.error_message();
  EXPECT_TRUE(killed.detail.retryable());
  EXPECT_EQ(CountNamed(supervisor, *key, "victim"), 0) << "a killed mutation's write is visible";

  // The client retries with the same key: it runs (nothing was committed), once.
  Outcome retried = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("victim", false), "retry-me");
  ASSERT_TRUE(retried.status.ok()) << retried.status.error_message();
  Outcome repeated = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("victim", false), "retry-me");
  ASSERT_TRUE(repeated.status.ok()) << repeated.status.error_message();
  EXPECT_EQ(repeated.response.result_json(), retried.response.result_json());
  EXPECT_EQ(CountNamed(supervisor, *key, "victim"), 1);
}

// Clients sending keyed mutations until stopped; what each key's outcome was.
class Load {
 public:
  Load(SupervisorProcess& supervisor, std::string key, std::string name, int clients)
      : supervisor_(supervisor), key_(std::move(key)), name_(std::move(name)) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c] {
        for (int i = 0; !stop_.load(); ++i) {
          const std::string idempotency = absl::StrCat(name_, "-", c, "-", i);
          Outcome out = Call(supervisor_, key_, Kind::kMutation, "counters:mark", Mark(name_, false), idempotency,
                             absl::Seconds(10));
          absl::MutexLock lock(&mu_);
          if (out.status.ok()) {
            acknowledged_.insert(idempotency);
          } else {
            failed_[idempotency] = out.status.error_code();
            if (!out.detail.retryable() && out.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
              unexpected_.push_back(out.status.error_message());
            }
          }
        }
      });
    }
  }
  void AwaitAcknowledged(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return acknowledged_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  size_t acknowledged() {
    absl::MutexLock lock(&mu_);
    return acknowledged_.size();
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }
  // Retries every failed key until it succeeds (the server is back); all must succeed.
  void RetryFailed() {
    std::map<std::string, grpc::StatusCode> failed;
    {
      absl::MutexLock lock(&mu_);
      failed.swap(failed_);
    }
    for (const auto& [idempotency, code] : failed) {
      Outcome out = Call(supervisor_, key_, Kind::kMutation, "counters:mark", Mark(name_, false), idempotency);
      EXPECT_TRUE(out.status.ok()) << idempotency << ": " << out.status.error_message();
      absl::MutexLock lock(&mu_);
      if (out.status.ok()) acknowledged_.insert(idempotency);
    }
  }
  std::vector<std::string> unexpected() {
    absl::MutexLock lock(&mu_);
    return unexpected_;
  }
  size_t failures() {
    absl::MutexLock lock(&mu_);
    return failed_.size();
  }

 private:
  SupervisorProcess& supervisor_;
  const std::string key_, name_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::set<std::string> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, grpc::StatusCode> failed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unexpected_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Invokes carry module sources only the first time a worker process gets them; a worker that dropped
// them (here: it keeps none) says so before running anything and gets the same Invoke again, whole.
TEST(FaultsTest, AWorkerWithoutItsModuleSourcesIsSentThemAgain) {
  SupervisorProcess supervisor({.workers = 1, .extra_args = {"--worker-source-mb=0"}});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> key = supervisor.Deploy("faults", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  for (int i = 0; i < 3; ++i) {
    Outcome marked = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("sources", false));
    ASSERT_TRUE(marked.status.ok()) << marked.status.error_message();
  }
  EXPECT_EQ(CountNamed(supervisor, *key, "sources"), 3);
  EXPECT_THAT(supervisor.log(), HasSubstr("lacked module sources"));
}

TEST(FaultsTest, ASupervisorKilledUnderLoadLosesNothingAcknowledged) {
  SupervisorProcess supervisor({.workers = 2});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> key = supervisor.Deploy("faults", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor.Stats();
  ASSERT_TRUE(before.ok());

  Load load(supervisor, *key, "crash", 8);
  load.AwaitAcknowledged(40);
  ASSERT_TRUE(supervisor.Kill().ok());
  load.Stop();
  const size_t acknowledged_before_crash = load.acknowledged();
  EXPECT_TRUE(load.unexpected().empty()) << load.unexpected()[0];
  // Workers die with their supervisor (parent-death signal, and their stream's end).
  for (const auto& worker : before->workers()) {
    const pid_t pid = static_cast<pid_t>(worker.pid());
    EXPECT_TRUE(AwaitExit(pid, absl::Seconds(10))) << "worker pid " << pid << " outlived its supervisor";
  }

  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  load.RetryFailed();  // the ones whose outcome the clients never learned
  // Every key applied exactly once: acknowledged before the crash, or retried after it.
  EXPECT_EQ(CountNamed(supervisor, *key, "crash"), static_cast<int>(load.acknowledged()));
  EXPECT_GE(load.acknowledged(), acknowledged_before_crash);
  std::printf("supervisor crash: %zu acknowledged before it, %zu in all after retries\n", acknowledged_before_crash,
              load.acknowledged());
}

// Resident memory of process `pid`, in KiB (0 if unknown).
int64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// 40: PostgreSQL stalls: another session holds a lock every call needs. The supervisor's statements
// end at --pg-timeout-ms and its waits for a pooled connection too, so calls fail soon, retryably,
// long before their own deadline; it keeps answering what needs no database, its memory stays put, and
// once the lock goes it serves again: every mutation retried with its key applies exactly once.
TEST(FaultsTest, AStalledPostgresFailsCallsRetryablyAndServesAgainAfterIt) {
  SupervisorProcess supervisor({.workers = 2, .extra_args = {"--pg-timeout-ms=1000"}});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> key = supervisor.Deploy("faults", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  Outcome before = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("stall", false), "stall-first");
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  const int64_t rss_before = RssKib(supervisor.pid());
  ASSERT_GT(rss_before, 0);

  absl::StatusOr<std::unique_ptr<storage::PgConn>> locker = storage::PgConn::Connect(supervisor.pg_conninfo());
  ASSERT_TRUE(locker.ok()) << locker.status();
  ASSERT_TRUE((*locker)->Exec("BEGIN").ok());
  ASSERT_TRUE((*locker)->Exec("LOCK TABLE isobar.documents IN ACCESS EXCLUSIVE MODE").ok());

  // Three times the running-call limit, half mutations (each with its key), half queries; deadlines of
  // a minute that the database's stall must not get near.
  constexpr int kClients = 48;
  constexpr absl::Duration kDeadline = absl::Seconds(60);
  struct Attempt {
    std::string idempotency;  // empty for queries
    Outcome outcome;
    absl::Duration took;
  };
  std::vector<Attempt> attempts(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Attempt& attempt = attempts[c];
      const absl::Time begun = absl::Now();
      if (c % 2 == 0) {
        attempt.idempotency = absl::StrCat("stall-", c);
        attempt.outcome = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("stall", false), attempt.idempotency, kDeadline);
      } else {
        attempt.outcome = Call(supervisor, *key, Kind::kQuery, "counters:countNamed", R"({"name":"stall"})", "", kDeadline);
      }
      attempt.took = absl::Now() - begun;
    });
  }
  // Meanwhile what needs no database is answered.
  grpc::ClientContext ping_context;
  supervisor.Authorize(ping_context);
  isobar::v1::PingResponse pong;
  EXPECT_TRUE(supervisor.admin().Ping(&ping_context, {}, &pong).ok());
  for (std::thread& t : clients) t.join();
  std::map<grpc::StatusCode, int> codes;
  absl::Duration longest;
  for (const Attempt& attempt : attempts) {
    const grpc::Status& status = attempt.outcome.status;
    ++codes[status.error_code()];
    longest = std::max(longest, attempt.took);
    EXPECT_TRUE(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                status.error_code() == grpc::StatusCode::UNAVAILABLE)
        << status.error_code() << ": " << status.error_message();
    EXPECT_TRUE(attempt.outcome.detail.retryable()) << status.error_message();
    EXPECT_LT(attempt.took, kDeadline / 4) << status.error_message();
  }
  const int64_t rss_during = RssKib(supervisor.pid());
  EXPECT_LT(rss_during - rss_before, 64 * 1024) << "supervisor RSS grew from " << rss_before << " to " << rss_during
                                                << " KiB during the stall";
  ASSERT_TRUE((*locker)->Exec("ROLLBACK").ok());

  // Served again; every mutation retried with its key lands exactly once.
  int mutations = 1;
  for (const Attempt& attempt : attempts) {
    if (attempt.idempotency.empty()) continue;
    ++mutations;
    Outcome retried = Call(supervisor, *key, Kind::kMutation, "counters:mark", Mark("stall", false), attempt.idempotency);
    EXPECT_TRUE(retried.status.ok()) << retried.status.error_message();
  }
  EXPECT_EQ(CountNamed(supervisor, *key, "stall"), mutations);
  std::printf("stalled postgres: %d DEADLINE_EXCEEDED, %d UNAVAILABLE, slowest failure %s; RSS %lld -> %lld KiB\n",
              codes[grpc::StatusCode::DEADLINE_EXCEEDED], codes[grpc::StatusCode::UNAVAILABLE],
              absl::FormatDuration(longest).c_str(), static_cast<long long>(rss_before),
              static_cast<long long>(rss_during));
}

// SIGTERM drains: calls already running finish (nested calls included), new ones are refused with
// UNAVAILABLE, then the workers and the embedded PostgreSQL stop and the supervisor exits cleanly.
// A second supervisor told to listen on a port the first serves fails to start, with a message that
// says so, instead of sharing the port (no SO_REUSEPORT) and splitting connections.
TEST(FaultsTest, ASecondSupervisorCannotTakeABusyPort) {
  SupervisorProcess first({.workers = 1});
  ASSERT_TRUE(first.Start().ok());
  // Its HTTP listeners on ports of their own: by default they take the gRPC port's neighbours, which
  // may be the first one's HTTP ports (ephemeral ports often come in order), and would be refused first.
  SupervisorProcess second({.workers = 1,
                            .extra_args = {"--listen=" + first.address(), "--http-listen=127.0.0.1:0",
                                           "--site-listen=127.0.0.1:0"}});
  absl::Status started = second.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(std::string(started.message()), HasSubstr("cannot listen on " + first.address()));
}

TEST(FaultsTest, SigtermLetsRunningCallsFinishAndRefusesNewOnes) {
  SupervisorProcess supervisor({.workers = 2});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> key = supervisor.Deploy("faults", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_TRUE(Call(supervisor, *key, Kind::kMutation, "counters:increment", R"({"name":"drain"})").status.ok());
  const Outcome counter = Call(supervisor, *key, Kind::kQuery, "counters:get", R"({"name":"drain"})");
  ASSERT_TRUE(counter.status.ok()) << counter.status.error_message();
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor.Stats();
  ASSERT_TRUE(before.ok());

  // An action that keeps making nested calls for a while, in flight when the signal comes.
  Outcome in_flight;
  std::thread action([&] {
    in_flight = Call(supervisor, *key, Kind::kAction, "counters:readRepeatedly", R"({"name":"drain","times":1500})");
  });
  ASSERT_TRUE(supervisor
                  .AwaitStats([](const isobar::v1::StatsResponse& s) { return s.functions().running() >= 1; },
                              absl::Seconds(30))
                  .ok());
  ASSERT_EQ(kill(supervisor.pid(), SIGTERM), 0);
  // Once it says it is stopping, a new call is refused (or finds the API closed), retryably.
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       !absl::StrContains(supervisor.log(), "stopping (signal") && absl::Now() < give_up;) {
    absl::SleepFor(absl::Milliseconds(5));  // polling the log for the event, not waiting for time
  }
  Outcome refused = Call(supervisor, *key, Kind::kMutation, "counters:increment", R"({"name":"drain"})");
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.status.error_message();
  action.join();
  ASSERT_TRUE(in_flight.status.ok()) << in_flight.status.error_message() << supervisor.log();
  EXPECT_EQ(in_flight.response.result_json(), counter.response.result_json());  // the refused increment never ran

  absl::StatusOr<ExitStatus> stopped = supervisor.Stop();
  ASSERT_TRUE(stopped.ok() && stopped->Success()) << supervisor.log();
  for (const auto& worker : before->workers()) {
    EXPECT_TRUE(AwaitExit(static_cast<pid_t>(worker.pid()), absl::Seconds(10))) << "worker pid " << worker.pid();
  }
  EXPECT_THAT(supervisor.log(), HasSubstr("supervisor: stopped"));
  // The embedded PostgreSQL was shut down (its pid file goes with it).
  EXPECT_NE(access((supervisor.data_dir() + "/pgdata/postmaster.pid").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace isobar::testing
