// The scheduler and crons end to end (CONVEX_SEMANTICS.md §4): tests/apps/tasks, bundled from the real
// convex npm package, on a real supervisor with sandboxed workers and embedded PostgreSQL. Scheduled
// work happens in the background, so the tests wait for its visible outcome (a query's answer), with a
// deadline; the clock-driven cases (due times, missed cron runs) are in supervisor/scheduling/scheduler_test.cc,
// on a manual clock.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using storage::Value;
using ::testing::HasSubstr;

using Kind = CallKind;

class SchedulerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = false});
    ASSERT_TRUE(supervisor_->Start().ok());
    absl::StatusOr<std::string> key = supervisor_->Deploy("tasks", "tests/apps/tasks.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = new std::string(*key);
  }
  static void TearDownTestSuite() {
    delete supervisor_;
    delete key_;
  }

  // The call's value (Convex JSON), or the test fails.
  static Value Call(Kind kind, const std::string& path, const std::string& args_json) {
    auto stub = isobar::v1::Functions::NewStub(
        grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    FunctionResult called = CallFunction(
        *stub, kind,
        {.deployment = "tasks", .key = *key_, .path = path, .args_json = args_json, .timeout = absl::Seconds(30)});
    EXPECT_TRUE(called.status.ok()) << path << ": " << called.status.error_message();
    if (!called.status.ok()) return Value::Null();
    absl::StatusOr<Value> value = storage::ParseConvexJson(called.response.result_json());
    EXPECT_TRUE(value.ok()) << called.response.result_json();
    return value.ok() ? *value : Value::Null();
  }

  // Asks `path` until its answer, as JSON, is `wanted` (or `timeout` passes): the answer last seen.
  static std::string AwaitAnswer(const std::string& path, const std::string& args_json, const std::string& wanted,
                                 absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string seen;
    while (absl::Now() < deadline) {
      seen = storage::ToConvexJson(Call(Kind::kQuery, path, args_json));
      if (seen == wanted) break;
      absl::SleepFor(absl::Milliseconds(25));  // the next look at progress made in the background
    }
    return seen;
  }

  static std::string Ids(const Value& ids) { return absl::StrCat(R"({"ids":)", storage::ToConvexJson(ids), "}"); }
  static std::string Steps(int n) {
    std::vector<int> steps;
    for (int i = 0; i < n; ++i) steps.push_back(i);
    return absl::StrCat("[", absl::StrJoin(steps, ","), "]");
  }

  static SupervisorProcess* supervisor_;
  static std::string* key_;
};

SupervisorProcess* SchedulerE2eTest::supervisor_ = nullptr;
std::string* SchedulerE2eTest::key_ = nullptr;

TEST_F(SchedulerE2eTest, ScheduledMutationsAndActionsRunAndFailuresAreRecorded) {
  const Value batch = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"batch","count":20,"delayMs":0})");
  ASSERT_EQ(batch.array().size(), 20u);
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(batch), R"({"success":20})"), R"({"success":20})");
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:steps", R"({"label":"batch"})")), Steps(20));

  // An action run by the scheduler, which calls a mutation.
  const Value action = Call(Kind::kMutation, "jobs:scheduleAction", R"({"label":"act","delayMs":0})");
  const std::string action_job = absl::StrCat(R"({"id":)", storage::ToConvexJson(action), "}");
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(Value::MakeArray({action})), R"({"success":1})"), R"({"success":1})");
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:steps", R"({"label":"act"})")), "[0]");
  const Value done = Call(Kind::kQuery, "jobs:job", action_job);
  EXPECT_EQ(done.Get("name").string(), "jobs.js:viaAction");  // as Convex names it
  EXPECT_GE(done.Get("completedTime").float64(), done.Get("scheduledTime").float64());

  // A function that throws: failed, with its message.
  const Value boom = Call(Kind::kMutation, "jobs:scheduleBoom", "{}");
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(Value::MakeArray({boom})), R"({"failed":1})"), R"({"failed":1})");
  const Value failed = Call(Kind::kQuery, "jobs:job", absl::StrCat(R"({"id":)", storage::ToConvexJson(boom), "}"));
  EXPECT_THAT(failed.GetPath("state.error").string(), HasSubstr("boom"));

  // Due later: pending until then.
  const Value later = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"later","count":1,"delayMs":1500})");
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:states", Ids(later))), R"({"pending":1})");
  EXPECT_EQ(AwaitAnswer("jobs:steps", R"({"label":"later"})", "[0]"), "[0]");
}

TEST_F(SchedulerE2eTest, ASelfReschedulingChainRunsEveryStepOnce) {
  Call(Kind::kMutation, "jobs:chain", R"({"label":"chain","steps":25})");
  EXPECT_EQ(AwaitAnswer("jobs:steps", R"({"label":"chain"})", Steps(25)), Steps(25));
}

TEST_F(SchedulerE2eTest, CanceledJobsNeverRunAndFinishedOnesStayFinished) {
  const Value jobs = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"canceled","count":3,"delayMs":2000})");
  for (const Value& id : jobs.array()) {
    Call(Kind::kMutation, "jobs:cancel", absl::StrCat(R"({"id":)", storage::ToConvexJson(id), "}"));
  }
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:states", Ids(jobs))), R"({"canceled":3})");
  // A job that ran stays a success when canceled afterwards.
  const Value ran = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"ran","count":1,"delayMs":0})");
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(ran), R"({"success":1})"), R"({"success":1})");
  Call(Kind::kMutation, "jobs:cancel", absl::StrCat(R"({"id":)", storage::ToConvexJson(ran.array()[0]), "}"));
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:states", Ids(ran))), R"({"success":1})");
  // Once the canceled ones were due, they still have not run.
  EXPECT_EQ(AwaitAnswer("jobs:steps", R"({"label":"ran"})", "[0]"), "[0]");
  const Value late = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"after","count":1,"delayMs":2500})");
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(late), R"({"success":1})"), R"({"success":1})");
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:steps", R"({"label":"canceled"})")), "[]");
}

TEST_F(SchedulerE2eTest, ACronKeepsATableClear) {
  Call(Kind::kMutation, "jobs:addScratch", R"({"n":5})");
  EXPECT_EQ(AwaitAnswer("jobs:scratchCount", "{}", "0"), "0");
}

TEST_F(SchedulerE2eTest, ScheduledMutationsRunExactlyOnceAcrossASupervisorKill) {
  const Value jobs = Call(Kind::kMutation, "jobs:enqueue", R"({"label":"killed","count":300,"delayMs":0})");
  ASSERT_EQ(jobs.array().size(), 300u);
  // Killed once the jobs are running; they go on after the restart.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  Value seen = Call(Kind::kQuery, "jobs:states", Ids(jobs));
  while (seen.Get("success").is_undefined() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    seen = Call(Kind::kQuery, "jobs:states", Ids(jobs));
  }
  ASSERT_TRUE(supervisor_->Kill().ok());
  std::printf("at the last look before the kill: %s\n", storage::ToConvexJson(seen).c_str());
  ASSERT_TRUE(supervisor_->Start().ok());
  EXPECT_EQ(AwaitAnswer("jobs:states", Ids(jobs), R"({"success":300})", absl::Seconds(60)), R"({"success":300})");
  EXPECT_EQ(storage::ToConvexJson(Call(Kind::kQuery, "jobs:steps", R"({"label":"killed"})")), Steps(300));
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  std::printf("after the restart: %s\n", stats->functions().scheduler().ShortDebugString().c_str());
}

}  // namespace
}  // namespace isobar::testing
