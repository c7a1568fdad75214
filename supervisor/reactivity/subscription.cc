#include "supervisor/reactivity/subscription.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

using isobar::v1::QueryModification;
using isobar::v1::SubscribeRequest;
using isobar::v1::Transition;

void SetVersion(const QuerySetVersion& version, isobar::v1::StateVersion* out) {
  out->set_query_set(version.query_set);
  out->set_identity(version.identity);
  out->set_ts(version.ts.value());
}

class Subscription final : public grpc::ServerBidiReactor<SubscribeRequest, Transition>,
                           public LiveQuerySet::Sink,
                           public RelaySink,
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
    env_.query_set.executor->Run(
        [self = shared_from_this(), request = std::move(request)]() mutable { self->Apply(std::move(request)); });
  }

  void OnWriteDone(bool ok) override {
    std::shared_ptr<LiveQuerySet> set;
    std::function<void()> written;
    {
      absl::MutexLock lock(&mu_);
      written = std::move(outbox_.front().written);
      outbox_.pop_front();
      writing_ = false;
      if (!ok) {
        closed_ = true;  // the client is gone; OnDone follows
        return;
      }
      WriteNextLocked();
      set = set_;
    }
    if (set != nullptr) set->Delivered();
    if (written) written();
  }

  void OnDone() override {
    std::shared_ptr<Subscription> self;  // the last reference may go here, after the lock
    std::shared_ptr<Relay> relay;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      self = std::move(self_);
      set_.reset();
      relay = std::move(relay_);
    }
    if (relay != nullptr) relay->Cancel();
  }

  // RelaySink.
  void RelayTransition(Transition transition, std::function<void()> written) override {
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) return;
    outbox_.push_back(Outgoing{std::move(transition), std::move(written)});
    WriteNextLocked();
  }
  void RelayEnded(grpc::Status status, std::vector<std::pair<std::string, std::string>> trailers) override {
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) return;  // after OnDone the context is gone
    for (auto& [key, value] : trailers) context_->AddTrailingMetadata(key, value);
    FinishLocked(std::move(status));
  }

  // LiveQuerySet::Sink.
  void Send(QuerySetTransition transition) override {
    Transition out;
    SetVersion(transition.start, out.mutable_start_version());
    SetVersion(transition.end, out.mutable_end_version());
    for (const QueryChange& change : transition.changes) {
      QueryModification* m = out.add_modifications();
      m->set_query_id(change.query_id);
      if (change.kind == QueryChange::Kind::kRemoved) {
        m->set_removed(true);
        continue;
      }
      const FunctionOutcome& outcome = change.result->outcome();
      if (outcome.ok) {
        m->mutable_updated()->set_value_json(outcome.result_json);
        for (const auto& line : outcome.logs) *m->mutable_updated()->add_log_lines() = line;
      } else {
        *m->mutable_failed()->mutable_error() = outcome.error.detail;
        for (const auto& line : outcome.logs) *m->mutable_failed()->add_log_lines() = line;
      }
    }
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) return;
    outbox_.push_back(Outgoing{std::move(out), nullptr});
    WriteNextLocked();
  }
  void Fail(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    FinishLocked(WithDetail(*context_, status));
  }

 private:
  // A client request, on the executor.
  void Apply(SubscribeRequest request) {
    std::shared_ptr<LiveQuerySet> set;
    std::shared_ptr<Relay> relay;
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || finishing_) return;
      set = set_;
      relay = relay_;
    }
    if (relay != nullptr) {  // relayed: the member that serves the deployment applies it
      relay->Send(std::move(request));
      absl::MutexLock lock(&mu_);
      if (!closed_ && !finishing_) StartRead(&incoming_);
      return;
    }
    if (set == nullptr && env_.relay) {
      absl::StatusOr<std::shared_ptr<Relay>> relayed = env_.relay(context_, request, weak_from_this());
      std::shared_ptr<Relay> cancel;  // told outside our lock
      {
        absl::MutexLock lock(&mu_);
        if (!relayed.ok()) {
          FinishLocked(WithDetail(*context_, relayed.status()));
          return;
        }
        if (*relayed != nullptr && closed_) {
          cancel = *relayed;  // the client left while the relay started
        } else if (*relayed != nullptr) {
          relay_ = *relayed;
          if (!finishing_) StartRead(&incoming_);
        }
      }
      if (cancel != nullptr) cancel->Cancel();
      if (*relayed != nullptr) return;
    }
    std::optional<std::string> user;  // the end user's identity, from their token, once
    absl::Time expires = absl::InfiniteFuture();
    if (set == nullptr) {
      absl::StatusOr<bool> admin = env_.authorize(*context_, request.deployment());
      absl::StatusOr<std::optional<std::string>> token_identity =
          admin.ok() && env_.user_identity ? env_.user_identity(*context_, request.deployment(), &expires)
                                           : absl::StatusOr<std::optional<std::string>>(std::nullopt);
      absl::StatusOr<std::shared_ptr<LiveDeployment>> live =
          !admin.ok()            ? absl::StatusOr<std::shared_ptr<LiveDeployment>>(admin.status())
          : !token_identity.ok() ? absl::StatusOr<std::shared_ptr<LiveDeployment>>(token_identity.status())
                                 : env_.deployments->Get(request.deployment());
      absl::MutexLock lock(&mu_);
      if (!live.ok()) {
        FinishLocked(WithDetail(*context_, live.status()));
        return;
      }
      admin_ = *admin;
      user = *std::move(token_identity);
      set_ = set = LiveQuerySet::Open(env_.query_set, *std::move(live), *admin, weak_from_this());
      if (user.has_value() && expires != absl::InfiniteFuture() && env_.query_set.executor != nullptr) {
        // The token's identity ends with it, as Convex ends a session's.
        env_.query_set.executor->RunAt(expires, [weak = weak_from_this()] {
          std::shared_ptr<Subscription> self = weak.lock();
          if (self == nullptr) return;
          absl::MutexLock lock(&self->mu_);
          if (self->closed_ || self->finishing_) return;
          self->FinishLocked(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Convex token identity expired"));
        });
      }
    }
    bool admin = false;
    {
      absl::MutexLock lock(&mu_);
      admin = admin_;
    }
    // Acting as a user is for admin keys only; an end user's identity comes from their token.
    const bool acting = request.set_identity() && !request.identity_json().empty() && request.identity_json() != "null";
    absl::Status identity = acting && !admin ? absl::PermissionDeniedError(
                                                   "identity_json (acting as a user) needs an admin key; an end user's "
                                                   "identity comes from their token ('authorization: Bearer <JWT>')")
                            : request.set_identity() ? env_.check_identity(request.identity_json())
                                                     : absl::OkStatus();
    LiveQuerySet::Modification modification;
    if (user.has_value()) modification.identity_json = *user;
    for (const isobar::v1::QuerySetChange& change : request.changes()) {
      LiveQuerySet::Change& out = modification.changes.emplace_back();
      if (change.has_add()) {
        out.add = LiveQuerySet::Add{change.add().query_id(), change.add().path(), change.add().args_json()};
      } else {
        out.remove = change.remove();
      }
    }
    if (request.set_identity()) modification.identity_json = request.identity_json();
    absl::Status modified = identity.ok() ? set->Modify(std::move(modification)) : identity;
    absl::MutexLock lock(&mu_);
    if (closed_ || finishing_) return;
    if (!modified.ok()) {
      FinishLocked(WithDetail(*context_, modified));
      return;
    }
    StartRead(&incoming_);
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
    StartWrite(&outbox_.front().transition);  // deque: the element stays put while others are appended
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
  std::shared_ptr<LiveQuerySet> set_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Relay> relay_ ABSL_GUARDED_BY(mu_);  // another member serves the stream
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool admin_ ABSL_GUARDED_BY(mu_) = false;  // the key admits internal functions (and acting as a user)
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  struct Outgoing {
    Transition transition;
    std::function<void()> written;  // a relayed one's: the relay reads the next
  };
  std::deque<Outgoing> outbox_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
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
