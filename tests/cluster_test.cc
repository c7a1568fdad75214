// Three supervisors on one external PostgreSQL (issue 21, item 6; supervisor/cluster/README.md).
// Deployments spread across the members; a call may reach any member and is forwarded to the one that
// serves its deployment. Under 16 clients spread over all three, one member is killed with SIGKILL
// three times: its deployments are served again by the others within the stated time (the lease
// duration, 5 s, and a heartbeat), no acknowledged write is lost or duplicated, a read made after
// each acknowledged write (on another member) sees it, every scheduled mutation ran exactly once and
// every scheduled action at most once. Prints the failover table.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/embedded_postgres.h"
#include "tests/live_queries.h"
#include "tests/metrics_scrape.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

constexpr int kMembers = 3;
constexpr int kChats = 8;    // deployments of the chat app
constexpr int kTasks = 2;    // deployments of the tasks app (scheduled jobs)
constexpr int kClients = 16;
// What the cluster promises (README.md): a dead member's deployments are served again within the
// lease duration (5 s) plus a heartbeat (1 s) plus a client's retry; measured ~6 s.
constexpr absl::Duration kFailoverBound = absl::Seconds(15);

std::string ChatName(int i) { return absl::StrCat("chat-", i); }
std::string TasksName(int i) { return absl::StrCat("tasks-", i); }

class Cluster {
 public:
  explicit Cluster(const std::string& conninfo, const std::string& key_file) {
    for (int m = 0; m < kMembers; ++m) {
      members_.push_back(std::make_unique<SupervisorProcess>(SupervisorOptions{
          .workers = 1,
          .extra_args = {"--postgres-url=" + conninfo, "--cluster", "--admin-key-file=" + key_file,
                         "--deployment-idle-seconds=0"}}));
    }
  }
  SupervisorProcess& member(int m) { return *members_[m]; }
  // A stub on member `m` (its address changes when it restarts), or null while it is down.
  std::unique_ptr<isobar::v1::Functions::Stub> Stub(int m) {
    absl::MutexLock lock(&mu_);
    if (down_.count(m) > 0) return nullptr;
    return isobar::v1::Functions::NewStub(
        grpc::CreateChannel(members_[m]->address(), grpc::InsecureChannelCredentials()));
  }
  void Restarting(int m, bool down) {
    absl::MutexLock lock(&mu_);
    if (down) down_.insert(m); else down_.erase(m);
  }
  // Calls until an answer that is not UNAVAILABLE (the member reached may be dying, or the deployment
  // moving), moving to the next member each time; the first answer of another kind, or the last.
  FunctionResult Call(int first_member, CallKind kind, const FunctionCall& call, absl::Duration patience) {
    const absl::Time deadline = absl::Now() + patience;
    FunctionResult out;
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<isobar::v1::Functions::Stub> stub = Stub((first_member + attempt) % kMembers);
      if (stub == nullptr) continue;
      out = CallFunction(*stub, kind, call);
      if (out.status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() > deadline) return out;
      // A client's backoff between retries (its retry rate, not synchronisation).
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

 private:
  std::vector<std::unique_ptr<SupervisorProcess>> members_;
  absl::Mutex mu_;
  std::set<int> down_ ABSL_GUARDED_BY(mu_);
};

struct Findings {
  absl::Mutex mu;
  std::map<std::string, std::set<std::string>> acknowledged ABSL_GUARDED_BY(mu);  // deployment -> tags
  std::vector<std::string> stale_reads ABSL_GUARDED_BY(mu);
  std::vector<std::string> failures ABSL_GUARDED_BY(mu);  // gave up, or an error no retry helps
  std::vector<std::string> scheduled_jobs ABSL_GUARDED_BY(mu);     // labels of acknowledged enqueues
  std::vector<std::string> scheduled_actions ABSL_GUARDED_BY(mu);  // labels of acknowledged scheduleAction
  size_t acks ABSL_GUARDED_BY(mu) = 0;
};

// tag -> documents of its pair, in deployment `name`'s channel.
std::map<std::string, int> Pairs(Cluster& cluster, int member, const std::string& name, const std::string& key,
                                 const std::string& channel, bool* ok) {
  FunctionResult read = cluster.Call(member, CallKind::kQuery,
                                     {.deployment = name, .key = key, .path = "counters:pairsOf",
                                      .args_json = absl::StrCat(R"({"channel":")", channel, "\"}"),
                                      .timeout = absl::Seconds(10)},
                                     absl::Seconds(60));
  std::map<std::string, int> pairs;
  absl::StatusOr<storage::Value> rows = storage::ParseConvexJson(read.response.result_json());
  *ok = read.status.ok() && rows.ok();
  if (!*ok) return pairs;
  for (const storage::Value& row : rows->array()) ++pairs[row.array()[1].string()];
  return pairs;
}

TEST(ClusterTest, ThreeMembersSpreadForwardAndFailOverWithNothingLostOrStale) {
  TempDir dir;
  storage::EmbeddedPostgresOptions pg_options;
  pg_options.data_dir = dir.path() + "/pg";
  absl::StatusOr<std::unique_ptr<storage::EmbeddedPostgres>> pg = storage::EmbeddedPostgres::Start(pg_options);
  ASSERT_TRUE(pg.ok()) << pg.status();
  Cluster cluster((*pg)->conninfo(), dir.path() + "/admin_key");
  for (int m = 0; m < kMembers; ++m) ASSERT_TRUE(cluster.member(m).Start().ok()) << cluster.member(m).log();

  // Deployments are created and pushed through member 0; each push is forwarded to its placement.
  std::map<std::string, std::string> keys;
  for (int i = 0; i < kChats; ++i) {
    absl::StatusOr<std::string> key = cluster.member(0).Deploy(ChatName(i), "tests/apps/chat.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    keys[ChatName(i)] = *key;
  }
  for (int i = 0; i < kTasks; ++i) {
    absl::StatusOr<std::string> key = cluster.member(0).Deploy(TasksName(i), "tests/apps/tasks.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    keys[TasksName(i)] = *key;
  }
  // Each deployment is owned by exactly one member, and not all by one.
  std::map<std::string, int> owner;
  std::set<int> owning;
  for (int m = 0; m < kMembers; ++m) {
    absl::StatusOr<isobar::v1::StatsResponse> stats = cluster.member(m).Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    for (const std::string& name : stats->owned_deployments()) {
      EXPECT_EQ(owner.count(name), 0u) << name << " is owned twice";
      owner[name] = m;
      owning.insert(m);
    }
  }
  EXPECT_EQ(owner.size(), static_cast<size_t>(kChats + kTasks));
  EXPECT_GE(owning.size(), 2u) << "every deployment was placed on one member";

  // A live query through a member that does not serve the deployment (relayed to the owner) sees a
  // write made through the third member; a bad key is refused by the owner, through the relay.
  {
    const int owner_of_0 = owner[ChatName(0)];
    const int relay = (owner_of_0 + 1) % kMembers, writer = (owner_of_0 + 2) % kMembers;
    LiveQueries watching(grpc::CreateChannel(cluster.member(relay).address(), grpc::InsecureChannelCredentials()),
                         keys[ChatName(0)], ChatName(0));
    ASSERT_TRUE(watching.Add(1, "counters:get", R"({"name":"live"})"));
    ASSERT_TRUE(watching.WaitFor([](const LiveQueries::Values& v) { return v.count(1) > 0; }, absl::Seconds(30)));
    EXPECT_EQ(watching.values().at(1), R"({"$integer":"AAAAAAAAAAA="})");  // 0n
    FunctionResult incremented = cluster.Call(writer, CallKind::kMutation,
                                              {.deployment = ChatName(0), .key = keys[ChatName(0)],
                                               .path = "counters:increment", .args_json = R"({"name":"live"})"},
                                              absl::Seconds(30));
    ASSERT_TRUE(incremented.status.ok()) << incremented.status.error_message();
    EXPECT_TRUE(watching.WaitFor(
        [](const LiveQueries::Values& v) { return v.at(1) == R"({"$integer":"AQAAAAAAAAA="})"; }, absl::Seconds(30)))
        << "the relayed live query never saw the write: " << watching.values().at(1);
    LiveQueries refused(grpc::CreateChannel(cluster.member(relay).address(), grpc::InsecureChannelCredentials()),
                        "not-a-key", ChatName(0));
    refused.Add(1, "counters:get", R"({"name":"live"})");
    EXPECT_TRUE(refused.AwaitEnd(absl::Seconds(30)));
    EXPECT_EQ(refused.values().count(1), 0u);
    absl::StatusOr<isobar::v1::StatsResponse> relay_stats = cluster.member(relay).Stats();
    ASSERT_TRUE(relay_stats.ok());
    EXPECT_THAT(relay_stats->owned_deployments(), ::testing::Not(::testing::Contains(ChatName(0))))
        << "the member that relayed the stream took the deployment instead";
  }

  Findings findings;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const bool scheduling = c < 2;  // two clients schedule jobs; the others write pairs
      const std::string name = scheduling ? TasksName(c) : ChatName(c % kChats);
      const std::string channel = absl::StrCat("client-", c);
      for (int n = 0; !stop.load(); ++n) {
        const std::string tag = absl::StrCat(c, "-", n);
        const int member = (c + n) % kMembers;
        FunctionCall call{.deployment = name, .key = keys[name], .idempotency_key = tag, .timeout = absl::Seconds(10)};
        if (scheduling) {
          call.path = n % 2 == 0 ? "jobs:enqueue" : "jobs:scheduleAction";
          call.args_json = n % 2 == 0 ? absl::StrCat(R"({"label":"job-)", tag, R"(","count":1,"delayMs":0})")
                                      : absl::StrCat(R"({"label":"action-)", tag, R"(","delayMs":0})");
        } else {
          call.path = "counters:markPair";
          call.args_json = absl::StrCat(R"({"channel":")", channel, R"(","tag":")", tag, "\"}");
        }
        FunctionResult wrote = cluster.Call(member, CallKind::kMutation, call, absl::Seconds(60));
        if (!wrote.status.ok()) {
          absl::MutexLock lock(&findings.mu);
          findings.failures.push_back(absl::StrCat(name, " ", tag, ": ", wrote.status.error_message()));
          continue;
        }
        if (scheduling) {
          absl::MutexLock lock(&findings.mu);
          (n % 2 == 0 ? findings.scheduled_jobs : findings.scheduled_actions)
              .push_back(absl::StrCat(n % 2 == 0 ? "job-" : "action-", tag));
          ++findings.acks;
          continue;
        }
        // Read it back on another member: an acknowledged write is never missing from a later read.
        bool read_ok = false;
        std::map<std::string, int> pairs = Pairs(cluster, member + 1, name, keys[name], channel, &read_ok);
        absl::MutexLock lock(&findings.mu);
        findings.acknowledged[name + "/" + channel].insert(tag);
        ++findings.acks;
        if (!read_ok) {
          findings.failures.push_back(absl::StrCat(name, " read after ", tag, " failed"));
        } else if (pairs[tag] != 2) {
          findings.stale_reads.push_back(absl::StrCat(name, " ", tag, ": ", pairs[tag], " documents"));
        }
      }
    });
  }
  auto await_acks = [&](size_t n) {
    absl::MutexLock lock(&findings.mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(findings.mu) { return findings.acks >= n; };
    return findings.mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(120));
  };
  ASSERT_TRUE(await_acks(100));

  std::printf("| round | killed | its deployments | acknowledged so far | failover (kill to all served again) |\n");
  std::printf("|---|---|---|---|---|\n");
  for (int round = 1; round <= 3; ++round) {
    // The member serving the most deployments now.
    int victim = 0;
    std::vector<std::string> victims_deployments;
    for (int m = 0; m < kMembers; ++m) {
      absl::StatusOr<isobar::v1::StatsResponse> stats = cluster.member(m).Stats();
      ASSERT_TRUE(stats.ok()) << stats.status();
      if (static_cast<size_t>(stats->owned_deployments_size()) > victims_deployments.size()) {
        victim = m;
        victims_deployments.assign(stats->owned_deployments().begin(), stats->owned_deployments().end());
      }
    }
    size_t acks_before;
    {
      absl::MutexLock lock(&findings.mu);
      acks_before = findings.acks;
    }
    // A live query relayed to the victim by another member: it must end (the client subscribes
    // again), not go silent, when the victim dies.
    std::unique_ptr<LiveQueries> relayed;
    if (const std::string& name = victims_deployments.front(); name.rfind("chat-", 0) == 0) {
      relayed = std::make_unique<LiveQueries>(
          grpc::CreateChannel(cluster.member((victim + 1) % kMembers).address(), grpc::InsecureChannelCredentials()),
          keys[name], name);
      ASSERT_TRUE(relayed->Add(1, "counters:get", R"({"name":"live"})"));
      ASSERT_TRUE(relayed->WaitFor([](const LiveQueries::Values& v) { return v.count(1) > 0; }, absl::Seconds(30)));
    }
    cluster.Restarting(victim, true);
    const absl::Time killed = absl::Now();
    ASSERT_TRUE(cluster.member(victim).Kill().ok());
    if (relayed != nullptr) {
      EXPECT_TRUE(relayed->AwaitEnd(absl::Seconds(30))) << "a relayed live query outlived its owner";
    }
    // Every one of its deployments answers again through the others.
    absl::Duration failover;
    for (const std::string& name : victims_deployments) {
      const bool chat = name.rfind("chat-", 0) == 0;
      FunctionResult read = cluster.Call(victim + 1, CallKind::kQuery,
                                         {.deployment = name, .key = keys[name],
                                          .path = chat ? "counters:get" : "jobs:scratchCount",
                                          .args_json = chat ? R"({"name":"probe"})" : "{}",
                                          .timeout = absl::Seconds(10)},
                                         absl::Seconds(60));
      ASSERT_TRUE(read.status.ok()) << name << ": " << read.status.error_message();
      failover = std::max(failover, absl::Now() - killed);
    }
    EXPECT_LE(failover, kFailoverBound);
    std::printf("| %d | member %d | %zu | %zu | %s |\n", round, victim, victims_deployments.size(), acks_before,
                absl::FormatDuration(failover).c_str());
    ASSERT_TRUE(cluster.member(victim).Start().ok()) << cluster.member(victim).log();
    cluster.Restarting(victim, false);
    ASSERT_TRUE(await_acks(acks_before + 100)) << "the cluster did not serve again after round " << round;
  }
  stop = true;
  for (std::thread& t : clients) t.join();

  absl::MutexLock lock(&findings.mu);
  for (const std::string& failure : findings.failures) ADD_FAILURE() << failure;
  for (const std::string& stale : findings.stale_reads) ADD_FAILURE() << "stale read: " << stale;
  // Nothing acknowledged lost or doubled: every tag has exactly its pair, and nothing else is there.
  size_t checked = 0;
  for (const auto& [where, tags] : findings.acknowledged) {
    const std::string name = where.substr(0, where.find('/'));
    bool ok = false;
    std::map<std::string, int> pairs = Pairs(cluster, 0, name, keys[name], where.substr(where.find('/') + 1), &ok);
    ASSERT_TRUE(ok) << where;
    for (const std::string& tag : tags) {
      EXPECT_EQ(pairs[tag], 2) << where << " " << tag << (pairs[tag] == 0 ? " lost" : " duplicated or partial");
      ++checked;
    }
    for (const auto& [tag, count] : pairs) {
      if (tags.count(tag) == 0) ADD_FAILURE() << where << " " << tag << " stored without being acknowledged";
    }
  }
  // Scheduled mutations: each ran exactly once (waiting for the last ones to run). Actions: at most once.
  auto steps = [&](const std::string& label, int tasks) {
    FunctionResult read = cluster.Call(0, CallKind::kQuery,
                                       {.deployment = TasksName(tasks), .key = keys[TasksName(tasks)],
                                        .path = "jobs:steps", .args_json = absl::StrCat(R"({"label":")", label, "\"}"),
                                        .timeout = absl::Seconds(10)},
                                       absl::Seconds(60));
    EXPECT_TRUE(read.status.ok()) << read.status.error_message();
    return read.response.result_json();
  };
  for (const std::string& label : findings.scheduled_jobs) {
    const int tasks = label[4] - '0';  // "job-<client>-<n>": client 0 or 1 wrote to tasks-<client>
    std::string ran = steps(label, tasks);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (ran == "[]" && absl::Now() < deadline) ran = steps(label, tasks);  // due at once; runs soon
    EXPECT_EQ(ran, "[0]") << label << " ran " << ran;
  }
  int actions_ran = 0;
  for (const std::string& label : findings.scheduled_actions) {
    const std::string ran = steps(label, label[7] - '0');  // "action-<client>-<n>"
    EXPECT_THAT(ran, ::testing::AnyOf("[]", "[0]")) << label << " ran more than once: " << ran;
    actions_ran += ran == "[0]";
  }
  // What the members' metrics tell: three live members, calls forwarded, scheduled jobs started.
  double forwarded = 0, lag_observations = 0;
  for (int m = 0; m < kMembers; ++m) {
    const std::string authorization = absl::StrCat("Authorization: Bearer ", cluster.member(m).admin_key(), "\r\n");
    // Members are seen at each heartbeat (a second): the one restarted last may not be yet.
    std::string text = ScrapeMetrics(cluster.member(m), authorization);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (MetricSample(text, "isobar_cluster_members") != kMembers && absl::Now() < deadline) {
      text = ScrapeMetrics(cluster.member(m), authorization);
    }
    EXPECT_EQ(MetricSample(text, "isobar_cluster_members"), kMembers) << "member " << m;
    forwarded += std::max(0.0, MetricSample(text, "isobar_forwarded_calls_total"));
    lag_observations += std::max(0.0, MetricSample(text, "isobar_scheduler_lag_seconds_count"));
  }
  EXPECT_GT(forwarded, 0);
  EXPECT_GT(lag_observations, 0);
  std::printf("acknowledged pair writes checked: %zu; scheduled mutations: %zu (each ran once); scheduled actions: "
              "%zu (%d ran, none twice)\n",
              checked, findings.scheduled_jobs.size(), findings.scheduled_actions.size(), actions_ran);
  EXPECT_GT(checked, 300u);
}

}  // namespace
}  // namespace isobar::testing
