// The scheduler on real storage (embedded PostgreSQL) with a manual clock: the function runner below
// it is a fake that runs a few C++ "functions" against the deployment's database the way the real
// runner does (a mutation's writes and its before_commit step in one transaction).
#include "supervisor/scheduling/scheduler.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "base/clock.h"
#include "base/executor.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"
#include "storage/pg_testing.h"
#include "storage/system_tables.h"
#include "storage/versions.h"
#include "supervisor/deploy/crons.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/runner/scheduled_jobs.h"

namespace isobar::supervisor {
namespace {

using storage::Value;
using ::testing::ElementsAre;

constexpr char kAnalysis[] = R"({"functions":[
  {"path":"jobs:record","module":"jobs.js","name":"record","kind":"mutation","visibility":"internal"},
  {"path":"jobs:fail","module":"jobs.js","name":"fail","kind":"mutation","visibility":"internal"},
  {"path":"jobs:flaky","module":"jobs.js","name":"flaky","kind":"mutation","visibility":"internal"},
  {"path":"jobs:cancelSelf","module":"jobs.js","name":"cancelSelf","kind":"mutation","visibility":"internal"},
  {"path":"jobs:act","module":"jobs.js","name":"act","kind":"action","visibility":"internal"},
  {"path":"jobs:read","module":"jobs.js","name":"read","kind":"query","visibility":"public"}]})";

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::PgPool& pool = storage::testing::SharedPostgres().pool();
    storage::Catalog catalog(pool);
    static int counter = 0;
    name_ = absl::StrCat("sched", getpid(), "n", counter++);
    absl::StatusOr<storage::DeploymentInfo> created = catalog.CreateDeployment(name_);
    ASSERT_TRUE(created.ok()) << created.status();
    storage::Versions versions(pool);
    const std::string source = "export const record = 1;";
    ASSERT_TRUE(versions.Publish(created->id, {storage::ModuleInfo{"jobs.js", Sha256(source), source, ""}}, kAnalysis).ok());
    live_ = std::make_unique<LiveDeployments>(pool);
    live_->SetCommitObserver([this](const std::string& deployment, const storage::PublishedCommit& commit) {
      absl::MutexLock lock(&observer_mu_);
      if (scheduler_ != nullptr) scheduler_->Observe(deployment, commit);
    });
    absl::StatusOr<std::shared_ptr<LiveDeployment>> deployment = live_->Get(name_);
    ASSERT_TRUE(deployment.ok()) << deployment.status();
    deployment_ = *deployment;
  }

  void TearDown() override {
    StopScheduler();
    deployment_.reset();
    live_.reset();
  }

  void StartScheduler() {
    auto scheduler = std::make_unique<Scheduler>(
        *live_, [this](FunctionCallRequest request, FunctionCallback done) { Run(std::move(request), std::move(done)); },
        clock_);
    {
      absl::MutexLock lock(&observer_mu_);
      scheduler_ = std::move(scheduler);
    }
    ASSERT_TRUE(scheduler_->Start().ok());
    Settle();
  }

  void StopScheduler(absl::Duration wait = absl::Seconds(10)) {
    std::unique_ptr<Scheduler> scheduler;
    {
      absl::MutexLock lock(&observer_mu_);
      scheduler = std::move(scheduler_);
    }
    if (scheduler != nullptr) scheduler->Stop(absl::Now() + wait);
  }

  // Waits until every wake the clock handed out has reached the scheduler and it has nothing to do.
  void Settle() {
    absl::Notification flushed;
    wakes_.Run([&] { flushed.Notify(); });  // one thread: every earlier wake has run
    flushed.WaitForNotification();
    ASSERT_TRUE(scheduler_->WaitIdle(absl::Now() + absl::Seconds(20)));
  }

  void Advance(absl::Duration by) {
    clock_.Advance(by);
    Settle();
  }

  // Schedules `path` with `args` at `at` the way ctx.scheduler does, in a committed transaction.
  std::string Schedule(const std::string& path, const std::string& args_json, absl::Time at) {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    absl::StatusOr<Value> envelope = storage::ParseConvexJson(absl::StrCat(
        R"({"name":")", path, R"(","ts":)", absl::StrFormat("%.3f", absl::ToDoubleSeconds(at - absl::UnixEpoch())), R"(,"args":)", args_json, "}"));
    EXPECT_TRUE(envelope.ok()) << envelope.status();
    absl::StatusOr<std::string> id = ScheduleJob(*txn, *deployment_->code(), *envelope, clock_.Now());
    EXPECT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(deployment_->db().Commit(*txn).ok());
    Settle();
    return id.value_or("");
  }

  Value Job(const std::string& id) {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    absl::StatusOr<storage::DocumentId> decoded = storage::DecodeDocumentId(id);
    EXPECT_TRUE(decoded.ok());
    absl::StatusOr<std::optional<Value>> job = txn->Get(*decoded);
    EXPECT_TRUE(job.ok() && job->has_value());
    return job.ok() && job->has_value() ? **job : Value::Null();
  }
  std::string StateOf(const std::string& id) { return Job(id).GetPath("state.kind").string(); }

  std::vector<std::string> Runs() {
    absl::MutexLock lock(&runs_mu_);
    return runs_;
  }

  // The fake runner: "record" inserts a document and keeps the marker; "fail" throws a user error;
  // "flaky" fails with a system error the first time; "cancelSelf" cancels its own job meanwhile;
  // "act" is an action that records; "hold" makes the next action never finish.
  void Run(FunctionCallRequest request, FunctionCallback done) {
    absl::StatusOr<Value> args = storage::ParseConvexJson(request.args_json);
    const std::string marker = args.ok() && args->Get("marker").type() == Value::Type::kString ? args->Get("marker").string() : "";
    FunctionOutcome outcome;
    auto record = [&](storage::Transaction& txn) {
      return txn.Insert("runs", Value::MakeSortedObject({{"marker", Value::String(marker)}})).status();
    };
    if (request.path == "jobs:act") {
      if (hold_actions_) {
        held_.push_back(std::move(done));
        return;
      }
      std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
      EXPECT_TRUE(record(*txn).ok());
      EXPECT_TRUE(deployment_->db().Commit(*txn).ok());
      Ran(marker);
      outcome.ok = true;
      std::move(done)(std::move(outcome));
      return;
    }
    if (request.path == "jobs:fail") {
      outcome.error.code = grpc::StatusCode::UNKNOWN;
      outcome.error.detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
      outcome.error.detail.set_message("Uncaught Error: boom");
      std::move(done)(std::move(outcome));
      return;
    }
    if (request.path == "jobs:flaky" && flaky_failures_-- > 0) {
      outcome.error = Describe(absl::UnavailableError("the worker died"));
      std::move(done)(std::move(outcome));
      return;
    }
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    EXPECT_TRUE(record(*txn).ok());
    if (request.path == "jobs:cancelSelf") {
      std::unique_ptr<storage::Transaction> other = deployment_->db().Begin();
      EXPECT_TRUE(CancelJob(*other, storage::EncodeDocumentId(*request.scheduled_job)).ok());
      EXPECT_TRUE(deployment_->db().Commit(*other).ok());
    }
    absl::Status before = request.before_commit ? request.before_commit(*txn) : absl::OkStatus();
    absl::StatusOr<storage::Timestamp> committed = before.ok() ? deployment_->db().Commit(*txn) : before;
    if (absl::IsAborted(committed.status())) {
      // The real runner reruns the whole mutation from a new snapshot.
      Run(std::move(request), std::move(done));
      return;
    }
    if (!committed.ok()) {
      outcome.error = Describe(committed.status());
    } else {
      outcome.ok = true;
      Ran(marker);
    }
    std::move(done)(std::move(outcome));
  }
  void Ran(const std::string& marker) {
    absl::MutexLock lock(&runs_mu_);
    runs_.push_back(marker);
  }

  const absl::Time start_ = absl::FromUnixSeconds(1'800'000'000);  // 2027-01-15T08:00:00Z
  Executor wakes_{"sched-wakes", 1};
  ManualClock clock_{wakes_, start_};
  std::string name_;
  std::unique_ptr<LiveDeployments> live_;
  std::shared_ptr<LiveDeployment> deployment_;
  absl::Mutex observer_mu_;
  std::unique_ptr<Scheduler> scheduler_;
  absl::Mutex runs_mu_;
  std::vector<std::string> runs_ ABSL_GUARDED_BY(runs_mu_);
  int flaky_failures_ = 1;
  bool hold_actions_ = false;
  std::vector<FunctionCallback> held_;
};

TEST_F(SchedulerTest, DueJobsRunOnceAndLaterOnesWhenTheClockGetsThere) {
  StartScheduler();
  const std::string now = Schedule("jobs:record", R"({"marker":"now"})", start_);
  const std::string hour = Schedule("jobs:record", R"({"marker":"in an hour"})", start_ + absl::Hours(1));
  const std::string two = Schedule("jobs:record", R"({"marker":"in two hours"})", start_ + absl::Hours(2));
  EXPECT_THAT(Runs(), ElementsAre("now"));
  EXPECT_EQ(StateOf(now), "success");
  EXPECT_EQ(Job(now).Get("completedTime").float64(), static_cast<double>(absl::ToUnixMillis(start_)));
  EXPECT_EQ(StateOf(hour), "pending");
  EXPECT_GE(clock_.waiting(), 1u) << "a wake for the next due job, not polling";
  Advance(absl::Minutes(59));
  EXPECT_THAT(Runs(), ElementsAre("now"));
  Advance(absl::Minutes(1));
  EXPECT_THAT(Runs(), ElementsAre("now", "in an hour"));
  EXPECT_EQ(StateOf(two), "pending");
  Advance(absl::Hours(5));
  EXPECT_THAT(Runs(), ElementsAre("now", "in an hour", "in two hours"));
  // Nothing runs twice, whatever wakes the scheduler again.
  scheduler_->Wake(name_);
  Settle();
  EXPECT_EQ(Runs().size(), 3u);
  EXPECT_EQ(scheduler_->stats().succeeded, 3u);
}

TEST_F(SchedulerTest, CanceledJobsNeverRunAndACancelDuringTheRunWins) {
  StartScheduler();
  const std::string later = Schedule("jobs:record", R"({"marker":"canceled"})", start_ + absl::Minutes(5));
  {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    ASSERT_TRUE(CancelJob(*txn, later).ok());
    ASSERT_TRUE(deployment_->db().Commit(*txn).ok());
  }
  Advance(absl::Minutes(10));
  EXPECT_EQ(StateOf(later), "canceled");
  // Canceled while its mutation ran: the mutation's writes do not commit.
  const std::string racing = Schedule("jobs:cancelSelf", R"({"marker":"raced"})", start_);
  EXPECT_EQ(StateOf(racing), "canceled");
  EXPECT_TRUE(Runs().empty());
  EXPECT_EQ(scheduler_->stats().superseded, 1u);
}

TEST_F(SchedulerTest, UserErrorsFailTheJobAndSystemErrorsRetryAfterABackoff) {
  StartScheduler();
  const std::string fails = Schedule("jobs:fail", "{}", start_);
  Value failed = Job(fails);
  EXPECT_EQ(failed.GetPath("state.kind").string(), "failed");
  EXPECT_EQ(failed.GetPath("state.error").string(), "Uncaught Error: boom");
  EXPECT_EQ(failed.Get("completedTime").type(), Value::Type::kFloat64);

  const std::string flaky = Schedule("jobs:flaky", R"({"marker":"second try"})", start_);
  EXPECT_EQ(StateOf(flaky), "pending") << "a worker that died is not the function's fault";
  EXPECT_TRUE(Runs().empty());
  Advance(absl::Milliseconds(500));  // the first backoff is at most 500 ms
  EXPECT_EQ(StateOf(flaky), "success");
  EXPECT_THAT(Runs(), ElementsAre("second try"));
  EXPECT_EQ(scheduler_->stats().retried, 1u);
}

TEST_F(SchedulerTest, ActionsRunAtMostOnceAndOnesCutShortByACrashFail) {
  StartScheduler();
  const std::string ok = Schedule("jobs:act", R"({"marker":"acted"})", start_);
  EXPECT_EQ(StateOf(ok), "success");
  EXPECT_THAT(Runs(), ElementsAre("acted"));

  hold_actions_ = true;
  const std::string cut = Schedule("jobs:act", R"({"marker":"never"})", start_);
  EXPECT_EQ(StateOf(cut), "inProgress") << "durable before the action starts";
  ASSERT_EQ(held_.size(), 1u);
  // The supervisor dies here: a new scheduler finds the job in progress and fails it.
  StopScheduler(absl::Milliseconds(100));  // the held action never ends
  hold_actions_ = false;
  StartScheduler();
  Value job = Job(cut);
  EXPECT_EQ(job.GetPath("state.kind").string(), "failed");
  EXPECT_EQ(job.GetPath("state.error").string(), "Transient error while executing action");
  EXPECT_EQ(scheduler_->stats().recovered, 1u);
  EXPECT_THAT(Runs(), ElementsAre("acted")) << "never run again";
  held_.clear();
}

TEST_F(SchedulerTest, ARunningActionCanceledKeepsRunningButWhatItSchedulesIsCanceled) {
  StartScheduler();
  hold_actions_ = true;
  const std::string running = Schedule("jobs:act", R"({"marker":"long"})", start_);
  ASSERT_EQ(StateOf(running), "inProgress");
  {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    ASSERT_TRUE(CancelJob(*txn, running).ok());
    ASSERT_TRUE(deployment_->db().Commit(*txn).ok());
  }
  EXPECT_EQ(StateOf(running), "canceled");
  // The action schedules something (ctx.scheduler from the run of a canceled job): created canceled.
  std::string child;
  {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    absl::StatusOr<Value> envelope = storage::ParseConvexJson(absl::StrFormat(
        R"({"name":"jobs:record","ts":%.3f,"args":{"marker":"child"}})", absl::ToDoubleSeconds(start_ - absl::UnixEpoch())));
    ASSERT_TRUE(envelope.ok());
    absl::StatusOr<std::string> id =
        ScheduleJob(*txn, *deployment_->code(), *envelope, clock_.Now(), storage::DecodeDocumentId(running).value());
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(deployment_->db().Commit(*txn).ok());
    child = *id;
  }
  Settle();
  EXPECT_EQ(StateOf(child), "canceled");
  // The action ends: its job stays canceled.
  ASSERT_EQ(held_.size(), 1u);
  FunctionOutcome finished;
  finished.ok = true;
  std::move(held_[0])(std::move(finished));
  held_.clear();
  Settle();
  EXPECT_EQ(StateOf(running), "canceled");
  EXPECT_TRUE(Runs().empty());
}

TEST_F(SchedulerTest, CronsPersistTheirNextRunAndSkipRunsMissedWhileDown) {
  ASSERT_TRUE(RegisterCrons(*deployment_, {CronSpec{"tick", "jobs:record", Value::MakeSortedObject({{"marker", Value::String("tick")}}),
                                                    Value::MakeSortedObject({{"minutes", Value::Float64(10)},
                                                                             {"type", Value::String("interval")}})},
                                           CronSpec{"nightly", "jobs:act", Value::MakeSortedObject({{"marker", Value::String("nightly")}}),
                                                    Value::MakeSortedObject({{"hourUTC", Value::Float64(3)},
                                                                             {"minuteUTC", Value::Float64(30)},
                                                                             {"type", Value::String("daily")}})}})
                  .ok());
  StartScheduler();
  auto cron = [&](const std::string& wanted) {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    absl::StatusOr<std::shared_ptr<const storage::TableSchema>> table = txn->schemas().ByName(storage::kCronJobsTable, false);
    EXPECT_TRUE(table.ok() && *table != nullptr);
    absl::StatusOr<storage::ScanResult> all = txn->Scan(*table, (*table)->by_creation_time(), {}, storage::Order::kAsc, 10);
    EXPECT_TRUE(all.ok()) << all.status();
    if (all.ok()) {
      for (const Value& doc : all->documents) {
        if (doc.Get("name").string() == wanted) return doc;
      }
    }
    return Value::Null();
  };
  auto ms = [](absl::Time t) { return static_cast<double>(absl::ToUnixMillis(t)); };
  // An interval's first run is at once; the next one is persisted.
  EXPECT_THAT(Runs(), ElementsAre("tick"));
  EXPECT_EQ(cron("tick").Get("nextRun").float64(), ms(start_ + absl::Minutes(10)));
  EXPECT_EQ(cron("nightly").Get("nextRun").float64(), ms(absl::FromUnixSeconds(1'800'000'000 - 8 * 3600 + 24 * 3600 + 3 * 3600 + 1800)));
  Advance(absl::Minutes(10));
  EXPECT_THAT(Runs(), ElementsAre("tick", "tick"));

  // Down for 65 minutes: the runs due at +20 .. +60 are skipped, the one due at +70 runs.
  StopScheduler();
  clock_.Advance(absl::Minutes(65));
  StartScheduler();
  EXPECT_THAT(Runs(), ElementsAre("tick", "tick", "tick"));
  EXPECT_EQ(scheduler_->stats().cron_runs_skipped, 5u);
  EXPECT_EQ(cron("tick").Get("lastRun").float64(), ms(start_ + absl::Minutes(70)));
  EXPECT_EQ(cron("tick").Get("nextRun").float64(), ms(start_ + absl::Minutes(80)));
  // The daily action at 03:30 UTC.
  Advance(absl::Hours(19) + absl::Minutes(30) - absl::Minutes(75));
  const std::vector<std::string> runs = Runs();
  EXPECT_EQ(std::count(runs.begin(), runs.end(), "nightly"), 1);
  EXPECT_EQ(cron("nightly").Get("nextRun").float64(), ms(absl::FromUnixSeconds(1'800'000'000 - 8 * 3600 + 48 * 3600 + 3 * 3600 + 1800)));
}

}  // namespace
}  // namespace isobar::supervisor
