#include "supervisor/runner/admission.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

// Collects what happened to each call, by name.
struct Log {
  absl::Mutex mu;
  std::vector<std::string> started;
  std::vector<std::pair<std::string, absl::Status>> refused;
  std::map<std::string, Admission::Ticket> tickets;

  void Admit(Admission& admission, const std::string& name, const std::string& deployment, FunctionKind kind,
             absl::Time deadline = absl::InfiniteFuture()) {
    admission.Admit(
        deployment, kind, deadline,
        [this, name](Admission::Ticket ticket) {
          absl::MutexLock lock(&mu);
          started.push_back(name);
          tickets.emplace(name, std::move(ticket));
        },
        [this, name](absl::Status status) {
          absl::MutexLock lock(&mu);
          refused.emplace_back(name, status);
        });
  }
  // Ends a running call (its ticket frees the slot).
  void Finish(const std::string& name) {
    Admission::Ticket ticket;
    {
      absl::MutexLock lock(&mu);
      ticket = std::move(tickets.at(name));
      tickets.erase(name);
    }
  }
  bool AwaitStarted(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return started.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
};

// Destruction order matters: the executor stops first (its due tasks may still start calls), then the
// log's tickets free their slots into the admission, which outlives them.
struct World {
  explicit World(AdmissionLimits limits, int threads = 2) : executor("test", threads), admission(limits, executor) {}
  ~World() { executor.Shutdown(); }
  Executor executor;
  Admission admission;
  Log log;
};

AdmissionLimits Small() {
  AdmissionLimits limits;
  limits.per_deployment = {2, 1, 1};
  limits.total = {3, 3, 3};
  limits.queue_per_deployment = 2;
  return limits;
}

TEST(AdmissionTest, CapsQueuesAndRefusesWithTheLimitNamed) {
  World world(Small());
  Admission& admission = world.admission;
  Log& log = world.log;
  for (const char* name : {"a1", "a2", "a3", "a4", "a5"}) log.Admit(admission, name, "alpha", FunctionKind::kQuery);
  {
    absl::MutexLock lock(&log.mu);
    EXPECT_EQ(log.started, (std::vector<std::string>{"a1", "a2"}));  // the per-deployment cap
    ASSERT_EQ(log.refused.size(), 1u);                               // a3, a4 wait; a5 finds the queue full
    EXPECT_EQ(log.refused[0].first, "a5");
    EXPECT_EQ(log.refused[0].second.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(log.refused[0].second.message(),
                HasSubstr("deployment \"alpha\" has too many queries in flight: 2 running and 2 waiting is its limit"));
  }
  // Kinds are counted apart.
  log.Admit(admission, "m1", "alpha", FunctionKind::kMutation);
  ASSERT_TRUE(log.AwaitStarted(3));
  log.Finish("a1");
  ASSERT_TRUE(log.AwaitStarted(4));
  {
    absl::MutexLock lock(&log.mu);
    EXPECT_EQ(log.started.back(), "a3");
  }
  Admission::Stats stats = admission.stats();
  EXPECT_EQ(stats.running[0], 2);
  EXPECT_EQ(stats.waiting[0], 1u);
  EXPECT_EQ(stats.refused, 1u);
}

TEST(AdmissionTest, FreedSlotsGoRoundRobinBetweenDeployments) {
  AdmissionLimits limits = Small();
  limits.per_deployment = {3, 1, 1};
  limits.total = {1, 3, 3};  // one query at a time in all
  limits.queue_per_deployment = 8;
  World world(limits);
  Admission& admission = world.admission;
  Log& log = world.log;
  log.Admit(admission, "first", "alpha", FunctionKind::kQuery);
  for (int i = 0; i < 3; ++i) log.Admit(admission, absl::StrCat("a", i), "alpha", FunctionKind::kQuery);
  for (int i = 0; i < 3; ++i) log.Admit(admission, absl::StrCat("b", i), "beta", FunctionKind::kQuery);
  std::string running = "first";
  for (size_t n = 2; n <= 7; ++n) {
    log.Finish(running);
    ASSERT_TRUE(log.AwaitStarted(n));
    absl::MutexLock lock(&log.mu);
    running = log.started.back();
  }
  absl::MutexLock lock(&log.mu);
  EXPECT_EQ(log.started, (std::vector<std::string>{"first", "b0", "a0", "b1", "a1", "b2", "a2"}));
}

TEST(AdmissionTest, AQueuedCallGivesUpAtItsDeadline) {
  World world(Small(), 1);
  Admission& admission = world.admission;
  Log& log = world.log;
  log.Admit(admission, "running", "alpha", FunctionKind::kAction);
  log.Admit(admission, "waiting", "alpha", FunctionKind::kAction, absl::Now() + absl::Milliseconds(50));
  {
    absl::MutexLock lock(&log.mu);
    auto refused = [&log]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(log.mu) { return !log.refused.empty(); };
    ASSERT_TRUE(log.mu.AwaitWithTimeout(absl::Condition(&refused), absl::Seconds(10)));
    EXPECT_EQ(log.refused[0].first, "waiting");
    EXPECT_EQ(log.refused[0].second.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_THAT(log.refused[0].second.message(), HasSubstr("had 1 actions running"));
  }
  // Its slot was never taken: the next call after the running one finishes starts at once.
  log.Finish("running");
  log.Admit(admission, "next", "alpha", FunctionKind::kAction);
  absl::MutexLock lock(&log.mu);
  EXPECT_EQ(log.started.back(), "next");
  EXPECT_EQ(admission.stats().expired, 1u);
}

TEST(AdmissionTest, LimitsScaleWithCores) {
  AdmissionLimits one = AdmissionLimits::ForCores(1);
  EXPECT_EQ(one.total[0], 16);
  AdmissionLimits eight = AdmissionLimits::ForCores(8);
  EXPECT_EQ(eight.per_deployment[2], 64);
  EXPECT_EQ(eight.total[2], 512);
}

}  // namespace
}  // namespace isobar::supervisor
