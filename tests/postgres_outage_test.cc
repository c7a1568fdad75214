// PostgreSQL goes away under load and comes back (issue 16, item 1), on a real supervisor with real
// workers, eight clients sending keyed mutations that each write a pair of documents tagged with
// their key:
//   - the embedded PostgreSQL SIGKILLed: the supervisor restarts it by itself;
//   - an external PostgreSQL stopped and started by its operator: the supervisor notices both.
// Three outages per test. In each the health service (the server's and a service's) and HTTP's
// /readyz must go NOT_SERVING (503, naming PostgreSQL) and then SERVING (200) again,
// and in the end, after every failed key is retried with the same key: no acknowledged write lost,
// none applied twice, none partial (one document of a pair), and every write whose outcome was
// reported unknown found committed exactly once. Each outage prints a row of the table the issue
// asks for.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/testing/temp_dir.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/value.h"
#include "storage/embedded_postgres.h"
#include "storage/pg_conn.h"
#include "storage/pg_testing.h"
#include "supervisor/http/raw_http_client_testing.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

// Polls what the supervisor tells of its health, three ways (gRPC's health service for the server
// and for isobar.v1.Functions, and HTTP's /readyz), and remembers every change of each, with when it
// was seen.
class HealthWatch {
 public:
  enum class Seen { kUnknown, kServing, kNotServing };
  static constexpr int kProbes = 3;

  explicit HealthWatch(const SupervisorProcess& supervisor)
      : stub_(grpc::health::v1::Health::NewStub(
            grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()))) {
    const int http_port = supervisor.http_port();
    EXPECT_GT(http_port, 0) << supervisor.http_url();
    thread_ = std::thread([this, http_port] {
      Seen last[kProbes] = {Seen::kUnknown, Seen::kUnknown, Seen::kUnknown};
      while (!stop_.load()) {
        const Seen now[kProbes] = {Grpc(""), Grpc("isobar.v1.Functions"), Readyz(http_port)};
        for (int probe = 0; probe < kProbes; ++probe) {
          if (now[probe] == last[probe]) continue;
          absl::MutexLock lock(&mu_);
          changes_[probe].emplace_back(absl::Now(), now[probe]);
          last[probe] = now[probe];
        }
        // The polling rate (outages last a second or more), not synchronisation.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  ~HealthWatch() {
    stop_ = true;
    thread_.join();
  }
  // Waits until every probe saw NOT_SERVING after `since`; whether they did.
  bool AwaitNotServing(absl::Time since) {
    absl::MutexLock lock(&mu_);
    auto down = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const auto& changes : changes_) {
        bool seen = false;
        for (const auto& [at, status] : changes) seen |= at >= since && status == Seen::kNotServing;
        if (!seen) return false;
      }
      return true;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&down), absl::Seconds(60));
  }
  // Waits until, after `since`, every probe saw NOT_SERVING and then SERVING; when the last of them
  // saw SERVING again.
  std::optional<absl::Time> AwaitOutageOver(absl::Time since) {
    absl::MutexLock lock(&mu_);
    std::optional<absl::Time> back;
    auto over = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      absl::Time last_back = absl::InfinitePast();
      for (const auto& changes : changes_) {
        bool down = false;
        std::optional<absl::Time> up;
        for (const auto& [at, status] : changes) {
          if (at < since) continue;
          if (status == Seen::kNotServing) down = true;
          if (down && status == Seen::kServing) {
            up = at;
            break;
          }
        }
        if (!up.has_value()) return false;
        last_back = std::max(last_back, *up);
      }
      back = last_back;
      return true;
    };
    mu_.AwaitWithTimeout(absl::Condition(&over), absl::Seconds(60));
    return back;
  }

 private:
  Seen Grpc(const std::string& service) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    if (!stub_->Check(&context, request, &response).ok()) return Seen::kUnknown;
    if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) return Seen::kServing;
    if (response.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) return Seen::kNotServing;
    return Seen::kUnknown;
  }
  // 200 is ready; 503 must say why, and PostgreSQL is the only reason an outage gives.
  static Seen Readyz(int port) {
    supervisor::RawClient client(port);
    if (!client.connected() || !client.Send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")) return Seen::kUnknown;
    const std::string response = client.ReadResponse();
    if (absl::StartsWith(response, "HTTP/1.1 200")) return Seen::kServing;
    if (absl::StartsWith(response, "HTTP/1.1 503")) {
      EXPECT_THAT(response, ::testing::HasSubstr("not ready: PostgreSQL is unreachable"));
      return Seen::kNotServing;
    }
    return Seen::kUnknown;
  }

  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<std::pair<absl::Time, Seen>> changes_[kProbes] ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Eight clients sending counters:markPair with a fresh idempotency key each, until stopped.
class PairLoad {
 public:
  PairLoad(SupervisorProcess& supervisor, std::string key, std::string channel)
      : supervisor_(supervisor), key_(std::move(key)), channel_(std::move(channel)) {
    for (int c = 0; c < 8; ++c) {
      threads_.emplace_back([this, c] {
        auto stub = isobar::v1::Functions::NewStub(
            grpc::CreateChannel(supervisor_.address(), grpc::InsecureChannelCredentials()));
        for (int i = 0; !stop_.load(); ++i) {
          const std::string tag = absl::StrCat(channel_, "-", c, "-", i);
          FunctionResult out = Send(*stub, tag);
          absl::ReleasableMutexLock lock(&mu_);
          if (out.status.ok()) {
            acknowledged_.insert(tag);
          } else if (out.detail.kind() == isobar::v1::ErrorDetail::OUTCOME_UNKNOWN) {
            unknown_.insert(tag);
            pending_.insert(tag);
          } else {
            pending_.insert(tag);
            if (!out.detail.retryable()) unexpected_.push_back(absl::StrCat(tag, ": ", out.status.error_message()));
          }
          if (!out.status.ok()) {
            lock.Release();
            // A client's backoff after a failure (its retry rate, not synchronisation).
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
      });
    }
  }
  ~PairLoad() { Stop(); }

  FunctionResult Send(isobar::v1::Functions::Stub& stub, const std::string& tag) {
    return CallFunction(stub, CallKind::kMutation,
                        {.deployment = "outage",
                         .key = key_,
                         .path = "counters:markPair",
                         .args_json = absl::StrCat(R"({"channel":")", channel_, R"(","tag":")", tag, "\"}"),
                         .idempotency_key = tag,
                         .timeout = absl::Seconds(10)});
  }
  size_t acknowledged() {
    absl::MutexLock lock(&mu_);
    return acknowledged_.size();
  }
  void AwaitAcknowledged(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return acknowledged_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(60));
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  // Retries every key not acknowledged, with that key; each must succeed now.
  void RetryPending() {
    auto stub =
        isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_.address(), grpc::InsecureChannelCredentials()));
    absl::MutexLock lock(&mu_);
    for (const std::string& tag : pending_) {
      FunctionResult out = Send(*stub, tag);
      EXPECT_TRUE(out.status.ok()) << tag << ": " << out.status.error_message();
      if (out.status.ok()) acknowledged_.insert(tag);
    }
    pending_.clear();
  }
  std::set<std::string> acknowledged_set() {
    absl::MutexLock lock(&mu_);
    return acknowledged_;
  }
  std::set<std::string> unknown() {
    absl::MutexLock lock(&mu_);
    return unknown_;
  }
  // Waits until some write was reported OUTCOME_UNKNOWN (a minute at most); whether one was.
  bool AwaitUnknown() {
    absl::MutexLock lock(&mu_);
    auto some = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !unknown_.empty(); };
    return mu_.AwaitWithTimeout(absl::Condition(&some), absl::Seconds(60));
  }
  size_t pending() {
    absl::MutexLock lock(&mu_);
    return pending_.size();
  }
  std::vector<std::string> unexpected() {
    absl::MutexLock lock(&mu_);
    return unexpected_;
  }

 private:
  SupervisorProcess& supervisor_;
  const std::string key_, channel_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::set<std::string> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> unknown_ ABSL_GUARDED_BY(mu_);  // reported OUTCOME_UNKNOWN at least once
  std::set<std::string> pending_ ABSL_GUARDED_BY(mu_);  // failed, not yet retried
  std::vector<std::string> unexpected_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// tag -> how many documents of its pair each author has: {first, second}.
std::map<std::string, std::pair<int, int>> StoredPairs(SupervisorProcess& supervisor, const std::string& key,
                                                       const std::string& channel) {
  auto stub =
      isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  FunctionResult read = CallFunction(*stub, CallKind::kQuery,
                                     {.deployment = "outage",
                                      .key = key,
                                      .path = "counters:pairsOf",
                                      .args_json = absl::StrCat(R"({"channel":")", channel, "\"}")});
  EXPECT_TRUE(read.status.ok()) << read.status.error_message();
  std::map<std::string, std::pair<int, int>> pairs;
  absl::StatusOr<storage::Value> rows = storage::ParseConvexJson(read.response.result_json());
  if (!read.status.ok() || !rows.ok()) return pairs;
  for (const storage::Value& row : rows->array()) {
    std::pair<int, int>& counts = pairs[row.array()[1].string()];
    (row.array()[0].string() == "first" ? counts.first : counts.second)++;
  }
  return pairs;
}

// Runs three outages (`fault` takes the database away, `repair` brings it back when the supervisor
// cannot by itself) under PairLoad, checks every write, and prints the table rows.
using Step = std::function<void(int round, PairLoad& load)>;
void ThreeOutagesUnderLoad(SupervisorProcess& supervisor, const std::string& label, const Step& fault,
                           const Step& repair) {
  absl::StatusOr<std::string> key = supervisor.Deploy("outage", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  HealthWatch health(supervisor);
  PairLoad load(supervisor, *key, label);
  load.AwaitAcknowledged(40);
  std::printf("| fault | round | acknowledged before | unknown outcomes | recovery (fault to SERVING) |\n");
  for (int round = 1; round <= 3; ++round) {
    const size_t before = load.acknowledged();
    const size_t unknown_before = load.unknown().size();
    const absl::Time faulted = absl::Now();
    fault(round, load);
    ASSERT_TRUE(health.AwaitNotServing(faulted)) << "health never went NOT_SERVING\n" << supervisor.log();
    if (repair) repair(round, load);
    std::optional<absl::Time> back = health.AwaitOutageOver(faulted);
    ASSERT_TRUE(back.has_value()) << "health never went NOT_SERVING then SERVING\n" << supervisor.log();
    load.AwaitAcknowledged(load.acknowledged() + 40);  // it serves again
    std::printf("| %s | %d | %zu | %zu | %s |\n", label.c_str(), round, before, load.unknown().size() - unknown_before,
                absl::FormatDuration(*back - faulted).c_str());
  }
  load.Stop();
  for (const std::string& problem : load.unexpected()) ADD_FAILURE() << "not retryable: " << problem;
  const size_t retried = load.pending();
  const std::set<std::string> acknowledged_before_retries = load.acknowledged_set();
  load.RetryPending();

  const std::set<std::string> acknowledged = load.acknowledged_set();
  const std::map<std::string, std::pair<int, int>> pairs = StoredPairs(supervisor, *key, label);
  size_t lost = 0, duplicated = 0, partial = 0;
  for (const std::string& tag : acknowledged) {
    auto it = pairs.find(tag);
    if (it == pairs.end()) ++lost;
  }
  for (const auto& [tag, counts] : pairs) {
    if (counts.first != counts.second) ++partial;
    if (counts.first > 1 || counts.second > 1) ++duplicated;
    EXPECT_EQ(acknowledged.count(tag), 1u) << tag << " is stored but was never acknowledged";
  }
  for (const std::string& tag : load.unknown()) {
    auto it = pairs.find(tag);
    EXPECT_TRUE(it != pairs.end() && it->second == std::make_pair(1, 1)) << tag << " (outcome unknown) is not stored once";
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(partial, 0u);
  EXPECT_EQ(pairs.size(), acknowledged.size());
  std::printf("%s: %zu acknowledged during the outages, %zu retried by key afterwards (%zu of them reported "
              "OUTCOME_UNKNOWN); lost %zu, duplicated %zu, partial %zu\n",
              label.c_str(), acknowledged_before_retries.size(), retried, load.unknown().size(), lost, duplicated,
              partial);
}

// The postmaster's pid, from its lock file in the supervisor's data directory.
pid_t EmbeddedPostgresPid(const SupervisorProcess& supervisor) {
  std::ifstream lock_file(supervisor.data_dir() + "/pgdata/postmaster.pid");
  std::string line;
  int pid = 0;
  if (!std::getline(lock_file, line) || !absl::SimpleAtoi(line, &pid)) return 0;
  return pid;
}

TEST(PostgresOutageTest, AKilledEmbeddedPostgresIsRestartedAndNothingIsLostOrDuplicated) {
  SupervisorProcess supervisor({.workers = 2});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ThreeOutagesUnderLoad(
      supervisor, "kill-9-embedded",
      [&](int, PairLoad&) {
        const pid_t pid = EmbeddedPostgresPid(supervisor);
        ASSERT_GT(pid, 0);
        ASSERT_EQ(kill(pid, SIGKILL), 0);
      },
      nullptr);
  EXPECT_NE(supervisor.log().find("PostgreSQL is available again after"), std::string::npos) << supervisor.log();
}

TEST(PostgresOutageTest, AnExternalPostgresStoppedAndStartedLosesNothing) {
  // A PostgreSQL of the test's own, which it stops and starts as an operator would.
  TempDir pg_dir;
  storage::EmbeddedPostgresOptions pg_options;
  pg_options.data_dir = pg_dir.path() + "/pg";
  absl::StatusOr<std::unique_ptr<storage::EmbeddedPostgres>> pg = storage::EmbeddedPostgres::Start(pg_options);
  ASSERT_TRUE(pg.ok()) << pg.status();
  SupervisorProcess supervisor({.workers = 2, .extra_args = {"--postgres-url=" + (*pg)->conninfo()}});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  // The third stop comes while commits have committed and wait for a synchronous standby that never
  // answers (a stalled replica): the shutdown cuts them after their commit. It lasts past the
  // clients' deadlines, so they hear OUTCOME_UNKNOWN, and their retries by key must find them applied.
  ThreeOutagesUnderLoad(
      supervisor, "stop-start-external",
      [&](int round, PairLoad&) {
        if (round == 3) {
          absl::StatusOr<std::unique_ptr<storage::PgConn>> admin = storage::PgConn::Connect((*pg)->conninfo());
          ASSERT_TRUE(admin.ok()) << admin.status();
          absl::StatusOr<std::unique_ptr<storage::testing::StalledCommits>> stalled =
              storage::testing::StalledCommits::Start(**admin);
          ASSERT_TRUE(stalled.ok()) << stalled.status();
          absl::StatusOr<int> waiting = (*stalled)->AwaitStalledCommit(absl::Seconds(30));
          // Reset on disk only, so the restart is normal and the stalled commits stay stalled.
          ASSERT_TRUE((*stalled)->Release(/*reload=*/false).ok());
          ASSERT_TRUE(waiting.ok()) << waiting.status() << "\n" << supervisor.log();
        }
        ASSERT_TRUE((*pg)->Stop().ok());
      },
      [&](int round, PairLoad& load) {
        if (round == 3) {
          EXPECT_TRUE(load.AwaitUnknown()) << "no client heard OUTCOME_UNKNOWN";
        }
        pg = storage::EmbeddedPostgres::Start(pg_options);
        ASSERT_TRUE(pg.ok()) << pg.status();
      });
}

}  // namespace
}  // namespace isobar::testing
