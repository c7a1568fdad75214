#include "supervisor/reactivity/subscription.h"

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

using isobar::v1::QueryModification;
using isobar::v1::StateVersion;
using isobar::v1::SubscribeRequest;
using isobar::v1::Transition;

// A query that could not run (admission refused it, its worker died) is tried again after this.
constexpr absl::Duration kRetryAfter = absl::Seconds(1);

class Subscription final : public grpc::ServerBidiReactor<SubscribeRequest, Transition>,
                           public std::enable_shared_from_this<Subscription> {
 public:
  Subscription(grpc::CallbackServerContext* context, const SubscriptionEnvironment& env) : context_(context), env_(env) {}

  void Begin(std::shared_ptr<Subscription> self) {
    absl::MutexLock lock(&mu_);
    self_ = std::move(self);
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client sends nothing more: the stream ends once what is queued is written.
      absl::MutexLock lock(&mu_);
      FinishLocked(grpc::Status::OK);
      return;
    }
    SubscribeRequest request = std::move(incoming_);
    incoming_.Clear();
    env_.executor->Run([self = shared_from_this(), request = std::move(request)]() mutable { self->Apply(std::move(request)); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    outbox_.pop_front();
    writing_ = false;
    if (!ok) {
      closed_ = true;  // the client is gone; OnDone follows
      return;
    }
    WriteNextLocked();
    if (dirty_ && !updating_) ScheduleLocked();
  }

  void OnDone() override {
    std::shared_ptr<Subscription> self;  // the last reference may go here, after the lock
    absl::MutexLock lock(&mu_);
    closed_ = true;
    self = std::move(self_);
  }

 private:
  struct Query {
    std::string path;
    std::string args_json;
    uint64_t generation = 0;  // which add of this id
    std::shared_ptr<QueryResult> result;
    uint32_t identity_version = 0;
    int64_t code_version = -1;
    std::string sent;  // Fingerprint of what the client has
  };
  struct Evaluation {
    uint32_t id;
    uint64_t generation;
    std::shared_ptr<QueryResult> result;
  };

  // A client request, on the executor.
  void Apply(SubscribeRequest request) {
    bool first;
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || finishing_) return;
      first = live_ == nullptr;
    }
    if (first) {
      absl::StatusOr<bool> admin = env_.authorize(*context_, request.deployment());
      absl::StatusOr<std::shared_ptr<LiveDeployment>> live =
          admin.ok() ? env_.deployments->Get(request.deployment()) : absl::StatusOr<std::shared_ptr<LiveDeployment>>(admin.status());
      absl::MutexLock lock(&mu_);
      if (!live.ok()) {
        FinishLocked(WithDetail(*context_, live.status()));
        return;
      }
      live_ = *std::move(live);
      admin_ = *admin;
    }
    absl::Status identity = request.set_identity() ? env_.check_identity(request.identity_json()) : absl::OkStatus();
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) return;
    if (!identity.ok()) {
      FinishLocked(WithDetail(*context_, identity));
      return;
    }
    if (request.set_identity()) {
      identity_json_ = request.identity_json().empty() ? "null" : request.identity_json();
      ++identity_version_;
    }
    for (const isobar::v1::QuerySetChange& change : request.changes()) {
      if (change.has_add()) {
        const isobar::v1::AddQuery& add = change.add();
        if (queries_.count(add.query_id()) > 0) {
          FinishLocked(WithDetail(*context_, absl::InvalidArgumentError(absl::StrCat(
                                                 "query ", add.query_id(), " is already in the query set"))));
          return;
        }
        if (queries_.size() >= env_.max_queries) {
          FinishLocked(WithDetail(*context_, absl::InvalidArgumentError(absl::StrCat(
                                                 "a query set holds at most ", env_.max_queries, " queries"))));
          return;
        }
        Query& q = queries_[add.query_id()];
        q.path = add.path();
        q.args_json = add.args_json().empty() ? "{}" : add.args_json();
        q.generation = ++generations_;
        removed_.erase(add.query_id());
      } else {
        auto it = queries_.find(change.remove());
        if (it == queries_.end()) {
          FinishLocked(WithDetail(*context_, absl::InvalidArgumentError(absl::StrCat(
                                                 "query ", change.remove(), " is not in the query set"))));
          return;
        }
        if (!it->second.sent.empty()) removed_.insert(change.remove());
        queries_.erase(it);
      }
    }
    if (request.changes_size() > 0) ++query_set_version_;
    ScheduleLocked();
    StartRead(&incoming_);
  }

  // Whether an update should start now (the caller then runs it); if one is under way, or two
  // transitions wait unsent, the change is coalesced into the next one.
  bool ClaimUpdateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_ || finishing_ || live_ == nullptr) return false;
    if (updating_ || outbox_.size() >= 2) {
      dirty_ = true;
      return false;
    }
    updating_ = true;
    dirty_ = false;
    return true;
  }

  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ClaimUpdateLocked()) env_.executor->Run([self = shared_from_this()] { self->Update(); });
  }

  // Evaluates what needs it at one timestamp; the transition follows in Complete.
  void Update() {
    std::shared_ptr<LiveDeployment> live;
    {
      absl::MutexLock lock(&mu_);
      live = live_;
    }
    if (!live->db().committer().LeaseValid()) {
      // Not served here now (another supervisor took it over, or its lease could not be renewed):
      // the stream ends rather than answer from what may be stale.
      absl::MutexLock lock(&mu_);
      updating_ = false;
      FinishLocked(WithDetail(*context_, absl::UnavailableError(absl::StrCat(
                                             "deployment \"", live->info().name,
                                             "\" is not served by this supervisor now; subscribe again"))));
      return;
    }
    const storage::Timestamp at = env_.tracker->Now(live->info().name, live->db());
    std::shared_ptr<const CodeVersion> code = live->code();
    const int64_t version = code != nullptr ? code->version() : 0;
    std::vector<std::pair<uint32_t, FunctionCallRequest>> needed;
    std::vector<uint64_t> generations;
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || finishing_) {
        updating_ = false;
        return;
      }
      for (auto& [id, q] : queries_) {
        if (q.result != nullptr && q.identity_version == identity_version_ && q.code_version == version &&
            q.result->ValidAt(at)) {
          continue;
        }
        FunctionCallRequest request;
        request.deployment = live->info().name;
        request.path = q.path;
        request.kind = FunctionKind::kQuery;
        request.args_json = q.args_json;
        request.identity_json = identity_json_;
        request.allow_internal = admin_;
        request.deadline = absl::Now() + env_.query_deadline;
        needed.emplace_back(id, std::move(request));
        generations.push_back(q.generation);
      }
      const bool versions_moved =
          !sent_any_ || query_set_version_ != sent_.query_set() || identity_version_ != sent_.identity();
      if (needed.empty() && removed_.empty() && !versions_moved) {
        // Nothing changed (a result we no longer use was invalidated, say).
        updating_ = false;
        if (dirty_) ScheduleLocked();
        return;
      }
      pending_ = needed.size();
      evaluated_.clear();
      update_ts_ = at;
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

  void Evaluated(Evaluation evaluation) {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      evaluated_.push_back(std::move(evaluation));
      last = --pending_ == 0;
    }
    if (last) Complete();
  }

  void Complete() {
    std::vector<std::shared_ptr<QueryResult>> listen;
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) {
      updating_ = false;
      return;
    }
    Transition transition;
    *transition.mutable_start_version() = sent_;
    StateVersion* end = transition.mutable_end_version();
    end->set_query_set(query_set_version_);
    end->set_identity(update_identity_);
    end->set_ts(update_ts_.value());
    for (uint32_t id : removed_) {
      QueryModification* m = transition.add_modifications();
      m->set_query_id(id);
      m->set_removed(true);
    }
    removed_.clear();
    for (Evaluation& e : evaluated_) {
      auto it = queries_.find(e.id);
      if (it == queries_.end() || it->second.generation != e.generation) continue;  // removed meanwhile
      Query& q = it->second;
      const FunctionOutcome& outcome = e.result->outcome();
      const std::string& fingerprint = e.result->fingerprint();
      q.result = e.result;
      q.identity_version = update_identity_;
      q.code_version = update_version_;
      listen.push_back(e.result);
      if (fingerprint == q.sent) continue;  // unchanged: not sent again
      q.sent = fingerprint;
      QueryModification* m = transition.add_modifications();
      m->set_query_id(e.id);
      if (outcome.ok) {
        m->mutable_updated()->set_value_json(outcome.result_json);
        for (const auto& line : outcome.logs) *m->mutable_updated()->add_log_lines() = line;
      } else {
        *m->mutable_failed()->mutable_error() = outcome.error.detail;
        for (const auto& line : outcome.logs) *m->mutable_failed()->add_log_lines() = line;
      }
    }
    evaluated_.clear();
    sent_ = *end;
    sent_any_ = true;
    outbox_.push_back(std::move(transition));
    WriteNextLocked();
    updating_ = false;
    // A commit that overlaps any of these results brings the next update.
    std::weak_ptr<Subscription> weak = shared_from_this();
    bool retry_later = false;
    for (const std::shared_ptr<QueryResult>& result : listen) {
      if (result->Listen([weak] {
            if (std::shared_ptr<Subscription> self = weak.lock(); self != nullptr) self->Invalidated();
          })) {
        continue;
      }
      // Invalid already: overtaken by a commit (update now), or it never ran (try again later, not
      // in a loop against a full queue).
      if (result->outcome().reads == nullptr && result->outcome().error.detail.retryable()) {
        retry_later = true;
      } else {
        dirty_ = true;
      }
    }
    if (retry_later) {
      env_.executor->RunAt(absl::Now() + kRetryAfter, [weak] {
        if (std::shared_ptr<Subscription> self = weak.lock(); self != nullptr) self->Invalidated();
      });
    }
    if (dirty_) ScheduleLocked();
  }

  // A result in use was invalidated. Called on an executor thread (or the committer's, for a few
  // listeners); an update never blocks, so it runs right here.
  void Invalidated() {
    bool claimed;
    {
      absl::MutexLock lock(&mu_);
      claimed = ClaimUpdateLocked();
    }
    if (claimed) Update();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || closed_ || outbox_.empty()) {
      if (finishing_ && !writing_ && !finished_) {
        finished_ = true;
        Finish(final_status_);
      }
      return;
    }
    writing_ = true;
    StartWrite(&outbox_.front());  // deque: the element stays put while others are appended
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    final_status_ = std::move(status);
    if (!final_status_.ok()) {
      // An error ends the stream without what is queued (the write in flight completes first).
      outbox_.erase(outbox_.begin() + (writing_ ? 1 : 0), outbox_.end());
    }
    WriteNextLocked();
  }

  grpc::CallbackServerContext* const context_;
  const SubscriptionEnvironment& env_;
  SubscribeRequest incoming_;

  absl::Mutex mu_;
  std::shared_ptr<Subscription> self_ ABSL_GUARDED_BY(mu_);  // until OnDone
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<LiveDeployment> live_ ABSL_GUARDED_BY(mu_);
  bool admin_ ABSL_GUARDED_BY(mu_) = false;
  std::string identity_json_ ABSL_GUARDED_BY(mu_) = "null";
  std::map<uint32_t, Query> queries_ ABSL_GUARDED_BY(mu_);
  std::set<uint32_t> removed_ ABSL_GUARDED_BY(mu_);  // removals the client has not been told of
  uint64_t generations_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t query_set_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t identity_version_ ABSL_GUARDED_BY(mu_) = 0;
  StateVersion sent_ ABSL_GUARDED_BY(mu_);  // the end version of the newest transition
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Transition> outbox_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool updating_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  // The update under way.
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Evaluation> evaluated_ ABSL_GUARDED_BY(mu_);
  storage::Timestamp update_ts_ ABSL_GUARDED_BY(mu_){0};
  uint32_t update_identity_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t update_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

grpc::ServerBidiReactor<SubscribeRequest, Transition>* NewSubscription(grpc::CallbackServerContext* context,
                                                                       const SubscriptionEnvironment& environment) {
  auto subscription = std::make_shared<Subscription>(context, environment);
  Subscription* raw = subscription.get();
  raw->Begin(std::move(subscription));
  return raw;
}

}  // namespace isobar::supervisor
