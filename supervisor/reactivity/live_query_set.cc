#include "supervisor/reactivity/live_query_set.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace isobar::supervisor {
namespace {

// A query that could not run (admission refused it, its worker died) is tried again after this.
constexpr absl::Duration kRetryAfter = absl::Seconds(1);

}  // namespace

std::shared_ptr<LiveQuerySet> LiveQuerySet::Open(const QuerySetEnvironment& environment,
                                                 std::shared_ptr<LiveDeployment> deployment, bool internal,
                                                 std::weak_ptr<Sink> sink) {
  return std::make_shared<LiveQuerySet>(environment, std::move(deployment), internal, std::move(sink));
}

LiveQuerySet::LiveQuerySet(const QuerySetEnvironment& environment, std::shared_ptr<LiveDeployment> deployment,
                           bool internal, std::weak_ptr<Sink> sink)
    : env_(environment), live_(std::move(deployment)), sink_(std::move(sink)), internal_(internal) {
  open_count_.fetch_add(1, std::memory_order_relaxed);
}

LiveQuerySet::~LiveQuerySet() { open_count_.fetch_sub(1, std::memory_order_relaxed); }

std::atomic<int64_t> LiveQuerySet::open_count_{0};

absl::Status LiveQuerySet::Modify(Modification modification) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return absl::CancelledError("the query set has ended");
  // Checked first, so that a refused modification changes nothing.
  std::set<uint32_t> present;
  for (const auto& [id, query] : queries_) present.insert(id);
  for (const Change& change : modification.changes) {
    if (change.add.has_value() && !present.insert(change.add->query_id).second) {
      return absl::InvalidArgumentError(absl::StrCat("query ", change.add->query_id, " is already in the query set"));
    }
    if (!change.add.has_value() && present.erase(change.remove) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("query ", change.remove, " is not in the query set"));
    }
    if (present.size() > env_.max_queries) {
      return absl::InvalidArgumentError(absl::StrCat("a query set holds at most ", env_.max_queries, " queries"));
    }
  }
  for (Change& change : modification.changes) {
    if (!change.add.has_value()) {
      auto it = queries_.find(change.remove);
      if (!it->second.sent.empty()) removed_.insert(change.remove);
      queries_.erase(it);
      continue;
    }
    Query& q = queries_[change.add->query_id];
    q = Query{};
    q.path = std::move(change.add->path);
    q.args_json = change.add->args_json.empty() ? "{}" : std::move(change.add->args_json);
    if (env_.journals) q.journal = std::move(change.add->journal);
    q.generation = ++generations_;
    removed_.erase(change.add->query_id);
  }
  if (modification.internal.has_value() && *modification.internal != internal_) {
    internal_ = *modification.internal;
    for (auto& [id, query] : queries_) query.result.reset();  // evaluated again with the new access
  }
  if (modification.identity_json.has_value()) {
    identity_json_ = modification.identity_json->empty() ? "null" : *std::move(modification.identity_json);
    ++identity_version_;
  }
  if (modification.new_version.has_value()) {
    query_set_version_ = *modification.new_version;
  } else if (!modification.changes.empty()) {
    ++query_set_version_;
  }
  ScheduleLocked();
  return absl::OkStatus();
}

void LiveQuerySet::Delivered() {
  absl::MutexLock lock(&mu_);
  if (undelivered_ > 0) --undelivered_;
  if (dirty_ && !updating_) ScheduleLocked();
}

void LiveQuerySet::AdvanceTo(storage::Timestamp ts) {
  absl::MutexLock lock(&mu_);
  // Owed whatever the timestamps: the client resolves a mutation on the first transition after its
  // response that reaches its timestamp, and one sent before the response does not count.
  // The read tracker saw the commit at `ts` before its caller was answered, so the update's timestamp
  // (the tracker's) reaches it.
  (void)ts;
  owed_ = true;
  ScheduleLocked();
}

QuerySetVersion LiveQuerySet::sent() const {
  absl::MutexLock lock(&mu_);
  return sent_;
}

bool LiveQuerySet::ClaimUpdateLocked() {
  if (stopped_) return false;
  if (updating_ || undelivered_ >= 2) {
    dirty_ = true;
    return false;
  }
  updating_ = true;
  dirty_ = false;
  return true;
}

void LiveQuerySet::ScheduleLocked() {
  if (ClaimUpdateLocked()) env_.executor->Run([self = shared_from_this()] { self->Update(); });
}

void LiveQuerySet::Stop(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    updating_ = false;
  }
  if (std::shared_ptr<Sink> sink = sink_.lock()) sink->Fail(std::move(status));
}

// Evaluates what needs it at one timestamp; the transition follows in Complete.
void LiveQuerySet::Update() {
  if (!live_->db().committer().LeaseValid()) {
    // Not served here now (another supervisor took it over, or its lease could not be renewed): the
    // set ends rather than answer from what may be stale.
    Stop(absl::UnavailableError(absl::StrCat("deployment \"", live_->info().name,
                                             "\" is not served by this supervisor now; subscribe again")));
    return;
  }
  std::shared_ptr<const CodeVersion> code = live_->code();
  const int64_t version = code != nullptr ? code->version() : 0;
  std::vector<std::pair<uint32_t, FunctionCallRequest>> needed;
  std::vector<uint64_t> generations;
  storage::Timestamp at;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    // Under the lock: an AdvanceTo that this update pays for (it clears owed_ below) came after its
    // commit was published, so this timestamp reaches that commit.
    at = env_.tracker->Now(live_->info().name, live_->db());
    for (auto& [id, q] : queries_) {
      if (q.result != nullptr && q.identity_version == identity_version_ && q.code_version == version &&
          q.result->ValidAt(at)) {
        continue;
      }
      FunctionCallRequest request;
      request.deployment = live_->info().name;
      request.path = q.path;
      request.kind = FunctionKind::kQuery;
      request.args_json = q.args_json;
      request.journal = q.journal;
      request.identity_json = identity_json_;
      request.allow_internal = internal_;
      request.deadline = absl::Now() + env_.query_deadline;
      needed.emplace_back(id, std::move(request));
      generations.push_back(q.generation);
    }
    const bool versions_moved =
        !sent_any_ || query_set_version_ != sent_.query_set || identity_version_ != sent_.identity || owed_;
    if (needed.empty() && removed_.empty() && !versions_moved) {
      // Nothing changed (a result no longer used was invalidated, say).
      updating_ = false;
      if (dirty_) ScheduleLocked();
      return;
    }
    owed_ = false;  // this update's transition pays it
    pending_ = needed.size();
    evaluated_.clear();
    update_query_set_ = query_set_version_;
    update_ts_ = at.value() > sent_.ts.value() ? at : sent_.ts;  // never backwards
    update_identity_ = identity_version_;
    update_version_ = version;
  }
  if (needed.empty()) {
    Complete();
    return;
  }
  for (size_t i = 0; i < needed.size(); ++i) {
    const uint32_t id = needed[i].first;
    const uint64_t generation = generations[i];
    env_.cache->Evaluate(std::move(needed[i].second), version, at, env_.run,
                         [self = shared_from_this(), id, generation](std::shared_ptr<QueryResult> result) {
                           self->Evaluated(Evaluation{id, generation, std::move(result)});
                         });
  }
}

void LiveQuerySet::Evaluated(Evaluation evaluation) {
  bool last;
  {
    absl::MutexLock lock(&mu_);
    evaluated_.push_back(std::move(evaluation));
    last = --pending_ == 0;
  }
  if (last) Complete();
}

void LiveQuerySet::Complete() {
  std::vector<std::shared_ptr<QueryResult>> listen;
  QuerySetTransition transition;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    transition.start = sent_;
    transition.end = QuerySetVersion{update_query_set_, update_identity_, update_ts_};
    for (uint32_t id : removed_) transition.changes.push_back(QueryChange{id, QueryChange::Kind::kRemoved, nullptr});
    removed_.clear();
    for (Evaluation& e : evaluated_) {
      auto it = queries_.find(e.id);
      if (it == queries_.end() || it->second.generation != e.generation) continue;  // removed meanwhile
      Query& q = it->second;
      q.result = e.result;
      if (env_.journals && e.result->outcome().ok) q.journal = e.result->outcome().journal;
      q.identity_version = update_identity_;
      q.code_version = update_version_;
      listen.push_back(e.result);
      const std::string& fingerprint = e.result->fingerprint();
      if (fingerprint == q.sent) continue;  // unchanged: not sent again
      q.sent = fingerprint;
      transition.changes.push_back(QueryChange{
          e.id, e.result->outcome().ok ? QueryChange::Kind::kUpdated : QueryChange::Kind::kFailed, e.result});
    }
    evaluated_.clear();
    sent_ = transition.end;
    sent_any_ = true;
    ++undelivered_;
  }
  // Outside the lock, and before the next update may start (updating_ is still set): transitions
  // reach the sink in order.
  std::shared_ptr<Sink> sink = sink_.lock();
  if (sink == nullptr) {
    Stop(absl::CancelledError("the client has gone"));
    return;
  }
  sink->Send(std::move(transition));
  absl::MutexLock lock(&mu_);
  updating_ = false;
  // A commit that overlaps any of these results brings the next update.
  std::weak_ptr<LiveQuerySet> weak = shared_from_this();
  bool retry_later = false;
  for (const std::shared_ptr<QueryResult>& result : listen) {
    if (result->Listen([weak] {
          if (std::shared_ptr<LiveQuerySet> self = weak.lock(); self != nullptr) self->Invalidated();
        })) {
      continue;
    }
    // Invalid already: overtaken by a commit (update now), or it never ran (try again later, not in a
    // loop against a full queue).
    if (result->outcome().reads == nullptr && result->outcome().error.detail.retryable()) {
      retry_later = true;
    } else {
      dirty_ = true;
    }
  }
  if (retry_later) {
    env_.executor->RunAt(absl::Now() + kRetryAfter, [weak] {
      if (std::shared_ptr<LiveQuerySet> self = weak.lock(); self != nullptr) self->Invalidated();
    });
  }
  if (dirty_) ScheduleLocked();
}

// A result in use was invalidated. Called on an executor thread (or the committer's, for a few
// listeners); an update never blocks, so it runs right here.
void LiveQuerySet::Invalidated() {
  bool claimed;
  {
    absl::MutexLock lock(&mu_);
    claimed = ClaimUpdateLocked();
  }
  if (claimed) Update();
}

}  // namespace isobar::supervisor
