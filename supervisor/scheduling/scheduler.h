// Runs what ctx.scheduler scheduled and what a deployment's crons export registered
// (CONVEX_SEMANTICS.md §4), for every deployment this supervisor serves.
//
//   Scheduler scheduler(live, [&](FunctionCallRequest r, FunctionCallback done) { runner.Run(...); }, clock);
//   live.SetCommitObserver([&](const std::string& d, const PublishedCommit& c) { scheduler.Observe(d, c); });
//   RETURN_IF_ERROR(scheduler.Start());   // recovers, then serves every deployment with jobs or crons
//   ...
//   scheduler.Stop(absl::Now() + absl::Seconds(20));   // starts nothing more; waits for running jobs
//
// Jobs are documents of `_scheduled_functions` (scheduling.h makes them). Due pending jobs start in
// order of scheduledTime, at most `parallelism` at once per deployment.
//  - A mutation runs exactly once: the job becomes `success` in the mutation's own transaction
//    (FunctionCallRequest::before_commit, which also checks that it is still pending). A user error
//    marks it `failed` in a transaction of its own; a system error (a worker died, the database was
//    away, conflicts beyond the runner's retries) leaves it pending, to run again after a backoff
//    (500 ms doubling to 2 h, kept in memory).
//  - An action runs at most once: `inProgress` commits before it starts, `success` or `failed` after
//    it ends. One found `inProgress` at start-up (the supervisor died meanwhile) becomes `failed` with
//    "Transient error while executing action" and never runs again.
// Crons (`_cron_jobs`, registered by each push) keep their next run time in their own document
// (`nextRun`, ms since the epoch): a cron's mutation moves it on in the mutation's transaction (one run
// per due time, exactly once), a cron's action just before it starts (at most once). Runs missed while
// the supervisor was down are logged and skipped: only the latest due run happens.
//
// Never polls: a deployment is looked at when a commit touches its jobs or crons, when one of its
// jobs ends, and at its next due time (Clock::WakeAt). One thread does the scheduler's own reads and
// writes; the functions themselves run on the runner.
#ifndef ISOBAR_SUPERVISOR_SCHEDULING_SCHEDULER_H_
#define ISOBAR_SUPERVISOR_SCHEDULING_SCHEDULER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/log_limiter.h"
#include "storage/committer.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/runner/function_runner.h"

namespace isobar::supervisor {

// Runs one function call (FunctionRunner::Run in production).
using RunFunction = std::function<void(FunctionCallRequest, FunctionCallback)>;

struct SchedulerOptions {
  int parallelism = 8;  // jobs and cron runs at once, per deployment
  absl::Duration retry_backoff_min = absl::Milliseconds(500);
  absl::Duration retry_backoff_max = absl::Hours(2);
  absl::Duration mutation_deadline = absl::Minutes(2);
  absl::Duration action_deadline = absl::Minutes(15);
};

class Scheduler {
 public:
  struct Stats {
    uint64_t started = 0;    // job runs and cron runs begun
    uint64_t succeeded = 0;
    uint64_t failed = 0;     // marked failed (user errors, actions that failed)
    uint64_t retried = 0;    // mutations left pending after a system error
    uint64_t superseded = 0; // canceled (or already done) by the time the mutation committed
    uint64_t recovered = 0;  // actions found inProgress at start-up, marked failed
    uint64_t cron_runs = 0;
    uint64_t cron_runs_skipped = 0;
  };

  // Not owned; `deployments` and `clock` must outlive the scheduler.
  Scheduler(LiveDeployments& deployments, RunFunction run, Clock& clock, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Finds every deployment that has jobs or crons and starts serving; the scheduler's thread opens
  // each (failing the actions a previous run left in progress) without holding up the caller.
  absl::Status Start();
  // Starts nothing more; waits until the running jobs end or `deadline`, then stops the thread. Jobs
  // still running then are left to the next start (a mutation reruns, an action becomes failed).
  void Stop(absl::Time deadline);

  // A deployment published `commit` (LiveDeployments' commit observer): looks again if it touched
  // jobs or crons. Cheap; any thread.
  void Observe(const std::string& deployment, const storage::PublishedCommit& commit);
  // Looks at `deployment` again soon: after a commit, or when its code version changed (a push's
  // crons may name functions only the new version has). Any thread.
  void Wake(const std::string& deployment);
  // Another supervisor held `deployment` last and is gone (LiveDeployments' adoption observer): its
  // actions left in progress become failed, as after a restart, then the jobs run here. Any thread.
  void Adopt(const std::string& deployment);
  // Several supervisors on one database: whether another one serves a deployment not open here
  // (placement.h). Those are left alone, not opened. Before Start.
  void SetHeldElsewhere(std::function<bool(const std::string& deployment)> held_elsewhere) {
    held_elsewhere_ = std::move(held_elsewhere);
  }
  // Told, as each due job starts, how late it starts (now minus its scheduledTime). Before Start.
  void SetLagObserver(std::function<void(absl::Duration lag)> observer) { lag_observer_ = std::move(observer); }

  Stats stats() const ABSL_LOCKS_EXCLUDED(inbox_->mu);
  // Tests: true once the scheduler's thread has nothing left to do and waits (false at `deadline`).
  bool WaitIdle(absl::Time deadline) ABSL_LOCKS_EXCLUDED(inbox_->mu);

 private:
  // Warnings that repeat while a database is away (several a second) are logged with a count.
  LogLimiter log_limiter_{absl::Seconds(30)};
  // What other threads hand to the scheduler's thread. Shared with callbacks and clock wakes, which
  // may outlive the scheduler (they then post into an inbox nobody reads).
  struct Inbox {
    absl::Mutex mu;
    absl::CondVar changed;
    std::set<std::string> dirty ABSL_GUARDED_BY(mu);
    std::set<std::string> adopted ABSL_GUARDED_BY(mu);  // to recover before their next look
    std::deque<std::function<void()>> completions ABSL_GUARDED_BY(mu);
    bool stopping ABSL_GUARDED_BY(mu) = false;
    bool idle ABSL_GUARDED_BY(mu) = false;  // the thread waits for work
    absl::Time stop_deadline ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
    Stats stats ABSL_GUARDED_BY(mu);

    void Post(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu) {
      absl::MutexLock lock(&mu);
      completions.push_back(std::move(work));
      changed.SignalAll();
    }
  };
  struct Retry {
    int attempts = 0;
    absl::Time not_before;
  };
  // The scheduler thread's own state of one deployment.
  struct DeploymentState {
    std::set<std::string> running;  // job ids and cron ids with a run under way
    std::map<std::string, Retry> retries;
    absl::Time armed = absl::InfiniteFuture();  // the earliest wake asked of the clock
    std::set<std::string> bad_crons;            // logged once
    // Crons whose function the active version lacks, since when. A push registers its crons just
    // before its version becomes active, so that is normal for a moment; only when it lasts past
    // kCronFunctionGrace (the version never became active) is it an error to log.
    std::map<std::string, absl::Time> missing_function_since;
  };

  void Loop();
  void Scan(const std::string& name);
  // Each returns the earliest future time it needs another look at (InfiniteFuture: none).
  absl::Time ScanJobs(const std::shared_ptr<LiveDeployment>& deployment, DeploymentState& state, absl::Time now,
                      bool stopping);
  absl::Time ScanCrons(const std::shared_ptr<LiveDeployment>& deployment, DeploymentState& state, absl::Time now,
                       bool stopping);
  void StartJob(const std::shared_ptr<LiveDeployment>& deployment, DeploymentState& state, const storage::Value& job,
                absl::Time now);
  // Whether the interrupted actions are now marked failed.
  bool RecoverActions(LiveDeployment& deployment);
  void Arm(const std::string& name, DeploymentState& state, absl::Time when, absl::Time now);
  // A run of job or cron `id` of deployment `name` ended: its slot is free. Its deployment's state.
  DeploymentState& RunEnded(const std::string& name, const std::string& id);
  // `id` runs again after a backoff that grows with its attempts; how many attempts it has had.
  int RetryLater(DeploymentState& state, const std::string& id);
  template <typename F>
  void Count(F f) {
    absl::MutexLock lock(&inbox_->mu);
    f(inbox_->stats);
  }

  LiveDeployments& deployments_;
  std::function<bool(const std::string&)> held_elsewhere_;
  std::function<void(absl::Duration)> lag_observer_;
  const RunFunction run_;
  Clock& clock_;
  const SchedulerOptions options_;
  const std::shared_ptr<Inbox> inbox_;
  std::map<std::string, DeploymentState> states_;  // the scheduler's thread only
  std::set<std::string> recover_;                   // ditto (set before it starts): not looked at yet
  int running_ = 0;                                // ditto: runs under way, all deployments
  std::thread thread_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_SCHEDULING_SCHEDULER_H_
