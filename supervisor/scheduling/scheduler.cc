#include "supervisor/scheduling/scheduler.h"

#include <atomic>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/index_key.h"
#include "storage/system_tables.h"
#include "supervisor/deploy/cron_schedule.h"
#include "supervisor/deploy/function_path.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr char kComponent[] = "scheduler";
constexpr char kTransientActionError[] = "Transient error while executing action";
constexpr size_t kMaxCrons = 1000;
// How long a cron may name a function the active version lacks before that is logged as an error.
constexpr absl::Duration kCronFunctionGrace = absl::Seconds(30);
constexpr int kMaxCommitAttempts = 8;
constexpr int kMaxSkippedRunsCounted = 100000;

double Millis(absl::Time t) { return static_cast<double>(absl::ToUnixMillis(t)); }

Value State(absl::string_view kind, std::optional<std::string> error = std::nullopt) {
  if (!error.has_value()) return Value::MakeSortedObject({{"kind", Value::String(std::string(kind))}});
  return Value::MakeSortedObject({{"error", Value::String(*std::move(error))}, {"kind", Value::String(std::string(kind))}});
}

// `change` in a transaction of its own, run again (from a fresh snapshot) while it conflicts.
absl::Status CommitWithRetries(LiveDeployment& deployment, const std::function<absl::Status(storage::Transaction&)>& change) {
  absl::Status last;
  for (int attempt = 0; attempt < kMaxCommitAttempts; ++attempt) {
    std::unique_ptr<storage::Transaction> txn = deployment.db().Begin();
    RETURN_IF_ERROR(change(*txn));
    absl::StatusOr<storage::Timestamp> committed = deployment.db().Commit(*txn);
    if (committed.ok()) return absl::OkStatus();
    last = committed.status();
    if (!absl::IsAborted(last)) break;
  }
  return last;
}

// The documents of `index` whose first field is `kind` ("pending", "inProgress"), by scheduledTime.
absl::StatusOr<std::vector<Value>> JobsInState(storage::Transaction& txn, absl::string_view kind, size_t limit) {
  ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table,
                   txn.schemas().ByName(storage::kScheduledFunctionsTable, /*create=*/false));
  if (table == nullptr) return std::vector<Value>();
  const storage::IndexInfo* by_state = table->Find("by_state");
  if (by_state == nullptr) return absl::DataLossError("_scheduled_functions has no by_state index");
  storage::KeyRange range;
  range.start = storage::EncodeIndexKey({Value::String(std::string(kind))});
  range.end = storage::WholeValuesEnd(range.start);
  ASSIGN_OR_RETURN(storage::ScanResult found, txn.Scan(table, *by_state, range, storage::Order::kAsc, limit));
  return std::move(found.documents);
}

absl::StatusOr<storage::DocumentId> IdOf(const Value& document) {
  const Value& id = document.Get("_id");
  if (id.type() != Value::Type::kString) return absl::DataLossError("a document without an _id");
  return storage::DecodeDocumentId(id.string());
}

// In `txn`: job `id`, if it is in state `from`, moves to `to`; terminal states get a completedTime.
// Whether it moved (it may have been canceled, or have run, meanwhile).
absl::StatusOr<bool> MoveJob(storage::Transaction& txn, const storage::DocumentId& id, absl::string_view from,
                             Value to, std::optional<absl::Time> completed) {
  ASSIGN_OR_RETURN(std::optional<Value> current, txn.Get(id));
  if (!current.has_value() || current->GetPath("state.kind") != Value::String(std::string(from))) return false;
  Value::Object patch = {{"state", std::move(to)}};
  if (completed.has_value()) patch.emplace_back("completedTime", Value::Float64(Millis(*completed)));
  ASSIGN_OR_RETURN(Value fields, Value::MakeObject(std::move(patch)));
  RETURN_IF_ERROR(txn.Patch(id, fields, storage::Access::kSystem).status());
  return true;
}

// A run's bookkeeping found its job or cron moved on by someone else: nothing of the run committed.
constexpr char kNoLongerPending[] = "the scheduled function is no longer pending";
bool Superseded(const isobar::v1::ErrorDetail& error) {
  return error.kind() == isobar::v1::ErrorDetail::PRECONDITION && error.message() == kNoLongerPending;
}

// The function `path` (a string Value) names in `code`; null if there is none.
const FunctionDef* FindFunction(const CodeVersion* code, const Value& path) {
  if (code == nullptr || path.type() != Value::Type::kString) return nullptr;
  absl::StatusOr<FunctionPath> parsed = ParseFunctionPath(path.string());
  return parsed.ok() ? code->Find(*parsed) : nullptr;
}

// A failed call's message as the job's `failed` state shows it.
std::string FailureMessage(const FunctionOutcome& outcome) {
  std::string message = outcome.error.detail.message();
  if (message.empty()) message = "the function failed";
  return message;
}

}  // namespace

Scheduler::Scheduler(LiveDeployments& deployments, RunFunction run, Clock& clock, SchedulerOptions options)
    : deployments_(deployments), run_(std::move(run)), clock_(clock), options_(options), inbox_(std::make_shared<Inbox>()) {}

Scheduler::~Scheduler() { Stop(absl::Now()); }

absl::Status Scheduler::Start() {
  std::set<std::string> names;
  for (const storage::SystemTable* table : {storage::FindSystemTable(storage::kScheduledFunctionsTable),
                                            storage::FindSystemTable(storage::kCronJobsTable)}) {
    ASSIGN_OR_RETURN(std::vector<std::string> found,
                     deployments_.catalog().DeploymentsWithTable(storage::TableNumber(table->number)));
    names.insert(found.begin(), found.end());
  }
  // Each is opened and looked at on the scheduler's thread, one after another, while the API already
  // serves: start-up does not wait for every deployment with jobs to load.
  recover_ = names;
  for (const std::string& name : names) Wake(name);
  thread_ = std::thread([this] { Loop(); });
  ISOBAR_LOG(kInfo, kComponent) << "serving the jobs and crons of " << names.size() << " deployment(s)";
  return absl::OkStatus();
}

void Scheduler::Stop(absl::Time deadline) {
  {
    absl::MutexLock lock(&inbox_->mu);
    if (inbox_->stopping) return;
    inbox_->stopping = true;
    inbox_->stop_deadline = deadline;
    inbox_->changed.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (running_ > 0) {
    ISOBAR_LOG(kWarning, kComponent) << running_ << " scheduled run(s) still under way at shutdown";
  }
}

void Scheduler::Observe(const std::string& deployment, const storage::PublishedCommit& commit) {
  for (const storage::PublishedCommit::Change& change : commit.changes) {
    if (change.table == storage::kScheduledFunctionsTable || change.table == storage::kCronJobsTable) {
      Wake(deployment);
      return;
    }
  }
}

void Scheduler::Adopt(const std::string& deployment) {
  absl::MutexLock lock(&inbox_->mu);
  inbox_->adopted.insert(deployment);
  inbox_->dirty.insert(deployment);
  inbox_->changed.SignalAll();
}

void Scheduler::Wake(const std::string& deployment) {
  absl::MutexLock lock(&inbox_->mu);
  inbox_->dirty.insert(deployment);
  inbox_->changed.SignalAll();
}

bool Scheduler::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&inbox_->mu);
  while (!(inbox_->idle && inbox_->completions.empty() && inbox_->dirty.empty())) {
    if (inbox_->changed.WaitWithDeadline(&inbox_->mu, deadline)) {
      return inbox_->idle && inbox_->completions.empty() && inbox_->dirty.empty();
    }
  }
  return true;
}

Scheduler::Stats Scheduler::stats() const {
  absl::MutexLock lock(&inbox_->mu);
  return inbox_->stats;
}

void Scheduler::Loop() {
  for (;;) {
    std::deque<std::function<void()>> completions;
    std::set<std::string> dirty;
    {
      absl::MutexLock lock(&inbox_->mu);
      // Stopping: only what is under way still matters, until the deadline.
      auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(inbox_->mu) {
        return inbox_->stopping && (running_ == 0 || absl::Now() >= inbox_->stop_deadline);
      };
      while (inbox_->completions.empty() && inbox_->dirty.empty() && !done()) {
        inbox_->idle = true;
        inbox_->changed.SignalAll();  // WaitIdle
        if (inbox_->stopping) {
          inbox_->changed.WaitWithDeadline(&inbox_->mu, inbox_->stop_deadline);
        } else {
          inbox_->changed.Wait(&inbox_->mu);
        }
      }
      inbox_->idle = false;
      if (done()) return;
      completions.swap(inbox_->completions);
      dirty.swap(inbox_->dirty);
      recover_.insert(inbox_->adopted.begin(), inbox_->adopted.end());
      inbox_->adopted.clear();
    }
    for (std::function<void()>& completion : completions) completion();
    for (const std::string& name : dirty) Scan(name);
  }
}

void Scheduler::Scan(const std::string& name) {
  // Another member of the cluster serves it: its scheduler runs the jobs (and a commit here would
  // fail on the lease anyway). It is looked at again if it comes here (Adopt, or a commit here).
  if (held_elsewhere_ && deployments_.FindOpen(name) == nullptr && held_elsewhere_(name)) return;
  absl::StatusOr<std::shared_ptr<LiveDeployment>> deployment = deployments_.Get(name);
  if (!deployment.ok()) {
    const std::string problem = absl::StrCat("cannot look at the jobs of \"", name, "\": ", deployment.status().ToString());
    if (std::optional<std::string> note = log_limiter_.Admit(problem, absl::Now())) {
      ISOBAR_LOG(kWarning, kComponent) << problem << *note;
    }
    if (!absl::IsNotFound(deployment.status())) {
      const absl::Time now = clock_.Now();
      Arm(name, states_[name], now + options_.retry_backoff_min, now);  // the database may be back soon
    }
    return;
  }
  bool stopping;
  {
    absl::MutexLock lock(&inbox_->mu);
    stopping = inbox_->stopping;
  }
  DeploymentState& state = states_[name];
  const absl::Time now = clock_.Now();
  // The first look since start-up; again after a backoff until it succeeds.
  if (recover_.count(name) > 0) {
    if (RecoverActions(**deployment)) {
      recover_.erase(name);
    } else {
      Arm(name, state, now + options_.retry_backoff_min, now);
    }
  }
  const absl::Time jobs_next = ScanJobs(*deployment, state, now, stopping);
  const absl::Time crons_next = ScanCrons(*deployment, state, now, stopping);
  Arm(name, state, std::min(jobs_next, crons_next), now);
}

void Scheduler::Arm(const std::string& name, DeploymentState& state, absl::Time when, absl::Time now) {
  if (when == absl::InfiniteFuture()) return;
  if (state.armed > now && state.armed <= when) return;  // an earlier wake is coming anyway
  state.armed = when;
  const std::weak_ptr<Inbox> weak = inbox_;
  clock_.WakeAt(when, [weak, name] {
    std::shared_ptr<Inbox> inbox = weak.lock();
    if (inbox == nullptr) return;
    absl::MutexLock lock(&inbox->mu);
    inbox->dirty.insert(name);
    inbox->changed.SignalAll();
  });
}

Scheduler::DeploymentState& Scheduler::RunEnded(const std::string& name, const std::string& id) {
  --running_;
  DeploymentState& state = states_[name];
  state.running.erase(id);
  Wake(name);  // a slot is free
  return state;
}

int Scheduler::RetryLater(DeploymentState& state, const std::string& id) {
  Retry& retry = state.retries[id];
  ++retry.attempts;
  retry.not_before = clock_.Now() + JitteredBackoff(options_.retry_backoff_min, options_.retry_backoff_max,
                                                    retry.attempts - 1);
  Count([](Stats& s) { ++s.retried; });
  return retry.attempts;
}

bool Scheduler::RecoverActions(LiveDeployment& deployment) {
  absl::Status recovered = CommitWithRetries(deployment, [&](storage::Transaction& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<Value> jobs, JobsInState(txn, "inProgress", 10000));
    const absl::Time now = clock_.Now();
    for (const Value& job : jobs) {
      ASSIGN_OR_RETURN(storage::DocumentId id, IdOf(job));
      RETURN_IF_ERROR(MoveJob(txn, id, "inProgress", State("failed", kTransientActionError), now).status());
      ISOBAR_LOG(kWarning, kComponent) << deployment.info().name << ": the action " << job.Get("name").string()
                                       << " (job " << job.Get("_id").string()
                                       << ") was running when the supervisor stopped; it is marked failed";
      Count([](Stats& s) { ++s.recovered; });
    }
    return absl::OkStatus();
  });
  if (!recovered.ok()) {
    ISOBAR_LOG(kError, kComponent) << deployment.info().name << ": cannot fail the interrupted actions (tried "
                                   << "again at its next look): " << recovered;
  }
  return recovered.ok();
}

absl::Time Scheduler::ScanJobs(const std::shared_ptr<LiveDeployment>& live, DeploymentState& state, absl::Time now,
                               bool stopping) {
  LiveDeployment& deployment = *live;
  std::unique_ptr<storage::Transaction> txn = deployment.db().Begin();
  // Enough to get past every job already running or waiting out a backoff.
  const size_t limit = state.running.size() + state.retries.size() + static_cast<size_t>(options_.parallelism) + 1;
  absl::StatusOr<std::vector<Value>> pending = JobsInState(*txn, "pending", limit);
  if (!pending.ok()) {
    const std::string problem = absl::StrCat(deployment.info().name, ": cannot read the pending jobs: ",
                                             pending.status().ToString());
    if (std::optional<std::string> note = log_limiter_.Admit(problem, absl::Now())) {
      ISOBAR_LOG(kWarning, kComponent) << problem << *note;
    }
    return now + options_.retry_backoff_min;
  }
  txn.reset();
  absl::Time next = absl::InfiniteFuture();
  for (const Value& job : *pending) {
    const std::string& id = job.Get("_id").string();
    if (state.running.count(id) > 0) continue;
    auto retry = state.retries.find(id);
    if (retry != state.retries.end() && retry->second.not_before > now) {
      next = std::min(next, retry->second.not_before);
      continue;
    }
    const Value& scheduled = job.Get("scheduledTime");
    const absl::Time due = scheduled.type() == Value::Type::kFloat64 ? absl::FromUnixMillis(static_cast<int64_t>(scheduled.float64()))
                                                                      : now;
    if (due > now) {
      next = std::min(next, due);
      break;  // in time order: the rest are later still
    }
    if (stopping || static_cast<int>(state.running.size()) >= options_.parallelism) break;  // a run's end looks again
    if (lag_observer_) lag_observer_(now - due);
    StartJob(live, state, job, now);
  }
  return next;
}

void Scheduler::StartJob(const std::shared_ptr<LiveDeployment>& live, DeploymentState& state, const Value& job,
                         absl::Time now) {
  LiveDeployment& deployment = *live;
  const std::string name = deployment.info().name;
  const std::string id_text = job.Get("_id").string();
  absl::StatusOr<storage::DocumentId> id = IdOf(job);
  std::shared_ptr<const CodeVersion> code = deployment.code();
  const Value& path_value = job.Get("name");
  const FunctionDef* function = FindFunction(code.get(), path_value);
  const Value& args = job.Get("args");
  if (!id.ok() || function == nullptr || function->kind == FunctionKind::kQuery || args.type() != Value::Type::kArray ||
      args.array().size() != 1) {
    // Its function is gone (a later push removed it) or the job is malformed: it cannot run.
    std::string why = function == nullptr ? absl::StrCat("Could not find function for '", path_value.type() == Value::Type::kString ? path_value.string() : "?", "'")
                                          : "the scheduled call is malformed";
    if (function != nullptr && function->kind == FunctionKind::kQuery) {
      // Convex lets a query be scheduled, and fails it when it is due, in these words.
      const size_t colon = function->path.rfind(':');
      why = absl::StrCat("Unsupported function type. \"", function->path.substr(colon + 1), "\" in module \"",
                         function->path.substr(0, colon), ".js\" is defined as a query. Only mutation and action can be scheduled.");
    }
    if (id.ok()) {
      absl::Status marked = CommitWithRetries(deployment, [&](storage::Transaction& txn) {
        return MoveJob(txn, *id, "pending", State("failed", why), clock_.Now()).status();
      });
      if (!marked.ok()) ISOBAR_LOG(kWarning, kComponent) << name << ": job " << id_text << ": " << marked;
    }
    Count([](Stats& s) { ++s.failed; });
    return;
  }
  FunctionCallRequest request;
  request.deployment = name;
  request.path = function->path;
  request.kind = function->kind;
  request.args_json = storage::ToConvexJson(args.array()[0]);
  request.allow_internal = true;
  request.scheduled_job = *id;

  if (function->kind == FunctionKind::kAction) {
    // At most once: inProgress is durable before the action starts.
    bool claimed = false;
    absl::Status marked = CommitWithRetries(deployment, [&](storage::Transaction& txn) -> absl::Status {
      ASSIGN_OR_RETURN(claimed, MoveJob(txn, *id, "pending", State("inProgress"), std::nullopt));
      return absl::OkStatus();
    });
    if (!marked.ok() || !claimed) {
      if (!marked.ok()) {
        ISOBAR_LOG(kWarning, kComponent) << name << ": cannot start job " << id_text << ": " << marked;
        state.retries[id_text] = Retry{1, now + options_.retry_backoff_min};
      }
      return;
    }
    request.deadline = absl::Now() + options_.action_deadline;
  } else {
    request.deadline = absl::Now() + options_.mutation_deadline;
    Clock* clock = &clock_;
    request.before_commit = [job_id = *id, clock](storage::Transaction& txn) -> absl::Status {
      ASSIGN_OR_RETURN(bool moved, MoveJob(txn, job_id, "pending", State("success"), clock->Now()));
      return moved ? absl::OkStatus() : absl::FailedPreconditionError(kNoLongerPending);
    };
  }
  state.running.insert(id_text);
  ++running_;
  Count([](Stats& s) { ++s.started; });
  const bool action = function->kind == FunctionKind::kAction;
  run_(std::move(request), [this, inbox = std::weak_ptr<Inbox>(inbox_), keep = live, name, id_text, job_id = *id,
                            action](FunctionOutcome outcome) mutable {
    std::shared_ptr<Inbox> alive = inbox.lock();
    if (alive == nullptr) return;
    alive->Post([this, keep, name, id_text, job_id, action, outcome = std::make_shared<FunctionOutcome>(std::move(outcome))] {
      DeploymentState& state = RunEnded(name, id_text);
      if (action) {
        // The action ran (or failed trying): record how it ended, unless it was canceled meanwhile.
        absl::Status recorded = CommitWithRetries(*keep, [&](storage::Transaction& txn) {
          return MoveJob(txn, job_id, "inProgress", outcome->ok ? State("success") : State("failed", FailureMessage(*outcome)),
                         clock_.Now())
              .status();
        });
        if (!recorded.ok()) {
          ISOBAR_LOG(kError, kComponent) << name << ": job " << id_text << " ended but its state was not saved: " << recorded;
        }
        Count([&](Stats& s) { ++(outcome->ok ? s.succeeded : s.failed); });
        return;
      }
      if (outcome->ok) {
        state.retries.erase(id_text);
        Count([](Stats& s) { ++s.succeeded; });
        return;
      }
      if (Superseded(outcome->error.detail)) {
        state.retries.erase(id_text);
        Count([](Stats& s) { ++s.superseded; });
        return;
      }
      if (outcome->error.detail.retryable()) {
        const int attempts = RetryLater(state, id_text);
        ISOBAR_LOG(kWarning, kComponent) << name << ": job " << id_text << " will run again (attempt "
                                         << attempts + 1 << "): " << outcome->error.detail.message();
        return;
      }
      state.retries.erase(id_text);
      absl::Status marked = CommitWithRetries(*keep, [&](storage::Transaction& txn) {
        return MoveJob(txn, job_id, "pending", State("failed", FailureMessage(*outcome)), clock_.Now()).status();
      });
      if (!marked.ok()) ISOBAR_LOG(kError, kComponent) << name << ": job " << id_text << " failed, unrecorded: " << marked;
      Count([](Stats& s) { ++s.failed; });
    });
  });
}

absl::Time Scheduler::ScanCrons(const std::shared_ptr<LiveDeployment>& live, DeploymentState& state, absl::Time now,
                                bool stopping) {
  LiveDeployment& deployment = *live;
  const std::string name = deployment.info().name;
  std::vector<Value> crons;
  {
    std::unique_ptr<storage::Transaction> txn = deployment.db().Begin();
    absl::StatusOr<std::shared_ptr<const storage::TableSchema>> table =
        txn->schemas().ByName(storage::kCronJobsTable, /*create=*/false);
    if (!table.ok() || *table == nullptr) return absl::InfiniteFuture();
    absl::StatusOr<storage::ScanResult> found =
        txn->Scan(*table, (*table)->by_creation_time(), {}, storage::Order::kAsc, kMaxCrons);
    if (!found.ok()) {
      ISOBAR_LOG(kWarning, kComponent) << name << ": cannot read the crons: " << found.status();
      return now + options_.retry_backoff_min;
    }
    crons = std::move(found->documents);
  }
  std::shared_ptr<const CodeVersion> code = deployment.code();
  absl::Time next = absl::InfiniteFuture();
  // What is kept about crons that are gone (a push removed them) goes too.
  std::set<std::string> present;
  for (const Value& cron : crons) present.insert(cron.Get("_id").string());
  for (auto it = state.bad_crons.begin(); it != state.bad_crons.end();) {
    it = present.count(*it) > 0 ? std::next(it) : state.bad_crons.erase(it);
  }
  for (auto it = state.missing_function_since.begin(); it != state.missing_function_since.end();) {
    it = present.count(it->first) > 0 ? std::next(it) : state.missing_function_since.erase(it);
  }
  for (const Value& cron : crons) {
    const std::string id_text = cron.Get("_id").string();
    const std::string cron_name = cron.Get("name").type() == Value::Type::kString ? cron.Get("name").string() : id_text;
    if (state.running.count(id_text) > 0) continue;
    auto retry = state.retries.find(id_text);
    if (retry != state.retries.end() && retry->second.not_before > now) {
      next = std::min(next, retry->second.not_before);
      continue;
    }
    absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(cron.Get("schedule"));
    absl::StatusOr<storage::DocumentId> id = IdOf(cron);
    const FunctionDef* function = FindFunction(code.get(), cron.Get("function"));
    if (schedule.ok() && id.ok() && function == nullptr) {
      // Registered by a push whose version is not active yet (its activation wakes us), or by one
      // that never became active.
      const absl::Time since = state.missing_function_since.try_emplace(id_text, now).first->second;
      if (now < since + kCronFunctionGrace) {
        next = std::min(next, since + kCronFunctionGrace);
        continue;
      }
    } else {
      state.missing_function_since.erase(id_text);
    }
    if (!schedule.ok() || !id.ok() || function == nullptr || function->kind == FunctionKind::kQuery) {
      if (state.bad_crons.insert(id_text).second) {
        ISOBAR_LOG(kError, kComponent) << name << ": cron \"" << cron_name << "\" cannot run: "
                                       << (!schedule.ok() ? schedule.status().ToString()
                                                          : "its function is not in the active version");
      }
      continue;
    }
    state.bad_crons.erase(id_text);
    const Value& stored_next = cron.Get("nextRun");
    if (stored_next.type() != Value::Type::kFloat64) {
      // Newly registered (or changed by a push): its first run.
      const absl::Time first = schedule->First(now);
      absl::Status saved = CommitWithRetries(deployment, [&](storage::Transaction& txn) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<Value> current, txn.Get(*id));
        if (!current.has_value() || current->Get("nextRun").type() == Value::Type::kFloat64) return absl::OkStatus();
        return txn.Patch(*id, Value::MakeSortedObject({{"nextRun", Value::Float64(Millis(first))}}), storage::Access::kSystem)
            .status();
      });
      if (!saved.ok()) ISOBAR_LOG(kWarning, kComponent) << name << ": cron \"" << cron_name << "\": " << saved;
      // Its commit brings this deployment back here, with nextRun set.
      continue;
    }
    const absl::Time due = absl::FromUnixMillis(static_cast<int64_t>(stored_next.float64()));
    if (due > now) {
      next = std::min(next, due);
      continue;
    }
    if (stopping || static_cast<int>(state.running.size()) >= options_.parallelism) continue;
    // Due. Runs missed while nobody was serving are skipped: only the latest due one happens.
    absl::Time latest = due;
    int skipped = 0;
    for (absl::Time following = schedule->NextAfter(latest); following <= now && skipped < kMaxSkippedRunsCounted;
         following = schedule->NextAfter(latest)) {
      latest = following;
      ++skipped;
    }
    const absl::Time following = schedule->NextAfter(latest);
    if (skipped > 0) {
      ISOBAR_LOG(kWarning, kComponent) << name << ": cron \"" << cron_name << "\" skips " << skipped
                                       << " run(s) missed between " << absl::FormatTime(due) << " and "
                                       << absl::FormatTime(latest);
      Count([skipped](Stats& s) { s.cron_runs_skipped += static_cast<uint64_t>(skipped); });
    }
    const double expected_next = stored_next.float64();
    std::function<absl::Status(storage::Transaction&)> advance = [job_id = *id, expected_next, following,
                                                                   latest](storage::Transaction& txn) -> absl::Status {
      ASSIGN_OR_RETURN(std::optional<Value> current, txn.Get(job_id));
      if (!current.has_value() || current->Get("nextRun") != Value::Float64(expected_next)) {
        return absl::FailedPreconditionError(kNoLongerPending);
      }
      const double next_ms = following == absl::InfiniteFuture() ? 8.64e15 : Millis(following);
      return txn
          .Patch(job_id,
                 Value::MakeSortedObject({{"lastRun", Value::Float64(Millis(latest))}, {"nextRun", Value::Float64(next_ms)}}),
                 storage::Access::kSystem)
          .status();
    };
    FunctionCallRequest request;
    request.deployment = name;
    request.path = function->path;
    request.kind = function->kind;
    request.args_json = storage::ToConvexJson(cron.Get("args").type() == Value::Type::kObject ? cron.Get("args")
                                                                                              : Value::MakeSortedObject({}));
    request.allow_internal = true;
    if (function->kind == FunctionKind::kAction) {
      absl::Status advanced = CommitWithRetries(deployment, advance);
      if (!advanced.ok()) {
        if (!absl::IsFailedPrecondition(advanced)) {
          ISOBAR_LOG(kWarning, kComponent) << name << ": cron \"" << cron_name << "\" did not start: " << advanced;
          state.retries[id_text] = Retry{1, now + options_.retry_backoff_min};
        }
        continue;
      }
      request.deadline = absl::Now() + options_.action_deadline;
    } else {
      request.before_commit = advance;
      request.deadline = absl::Now() + options_.mutation_deadline;
    }
    state.running.insert(id_text);
    ++running_;
    Count([](Stats& s) {
      ++s.started;
      ++s.cron_runs;
    });
    const bool action = function->kind == FunctionKind::kAction;
    run_(std::move(request), [this, inbox = std::weak_ptr<Inbox>(inbox_), live, name, id_text, cron_name, action,
                              advance](FunctionOutcome outcome) {
      std::shared_ptr<Inbox> alive = inbox.lock();
      if (alive == nullptr) return;
      alive->Post([this, live, name, id_text, cron_name, action, advance, ok = outcome.ok, error = outcome.error.detail] {
        DeploymentState& state = RunEnded(name, id_text);
        if (ok) {
          state.retries.erase(id_text);
          Count([](Stats& s) { ++s.succeeded; });
          return;
        }
        if (Superseded(error)) return;  // another run (or a push) moved it on
        ISOBAR_LOG(kWarning, kComponent) << name << ": cron \"" << cron_name << "\" failed: " << error.message();
        if (!action && error.retryable()) {
          // Nothing of the mutation committed: the run is still due, after a backoff.
          RetryLater(state, id_text);
          return;
        }
        state.retries.erase(id_text);
        Count([](Stats& s) { ++s.failed; });
        if (!action) {
          // The mutation failed for good: the run is over all the same, and the cron moves on.
          absl::Status moved = CommitWithRetries(*live, advance);
          if (!moved.ok() && !absl::IsFailedPrecondition(moved)) {
            ISOBAR_LOG(kError, kComponent) << name << ": cron \"" << cron_name << "\" cannot move on: " << moved;
          }
        }
      });
    });
  }
  return next;
}

}  // namespace isobar::supervisor
