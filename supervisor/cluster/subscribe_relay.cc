#include "supervisor/cluster/subscribe_relay.h"

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "supervisor/cluster/forwarding.h"

namespace isobar::supervisor {
namespace {

using isobar::v1::SubscribeRequest;
using isobar::v1::Transition;

class SubscribeRelay final : public grpc::ClientBidiReactor<SubscribeRequest, Transition>,
                             public Relay,
                             public std::enable_shared_from_this<SubscribeRelay> {
 public:
  SubscribeRelay(std::shared_ptr<grpc::Channel> channel, std::weak_ptr<RelaySink> sink, std::function<void()> not_reached)
      : stub_(isobar::v1::Functions::NewStub(std::move(channel))), sink_(std::move(sink)),
        not_reached_(std::move(not_reached)) {}

  void Start(const grpc::ServerContextBase& caller, const std::string& self, SubscribeRequest first) {
    PrepareForward(caller, self, out_);
    absl::MutexLock lock(&mu_);
    self_ = shared_from_this();  // until OnDone
    stub_->async()->Subscribe(&out_, this);
    to_send_.push_back(std::move(first));
    writing_ = true;
    StartWrite(&to_send_.front());
    StartRead(&incoming_);
    StartCall();
  }

  // Relay.
  void Send(SubscribeRequest request) override {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    to_send_.push_back(std::move(request));
    if (!writing_) {
      writing_ = true;
      StartWrite(&to_send_.front());
    }
  }
  void Cancel() override { out_.TryCancel(); }

  // grpc::ClientBidiReactor.
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    to_send_.pop_front();
    writing_ = false;
    if (!ok || to_send_.empty()) return;  // !ok: the stream ended; OnDone follows
    writing_ = true;
    StartWrite(&to_send_.front());
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    Transition transition = std::move(incoming_);
    incoming_.Clear();
    std::shared_ptr<RelaySink> sink = sink_.lock();
    if (sink == nullptr) return out_.TryCancel();
    // The next is read once this one was written to the client: a slow client holds the member's
    // stream back, not our memory, and the transitions keep their order.
    sink->RelayTransition(std::move(transition), [weak = weak_from_this()] {
      if (std::shared_ptr<SubscribeRelay> self = weak.lock()) self->ReadNext();
    });
  }
  void ReadNext() {
    absl::MutexLock lock(&mu_);
    if (!done_) StartRead(&incoming_);
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<SubscribeRelay> self;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      self = std::move(self_);  // may be the last reference: released when this returns
    }
    grpc::Status ended = status;
    if (NotReached(status, out_)) {
      if (not_reached_) not_reached_();
      ended = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           absl::StrCat("the supervisor serving this deployment did not answer (",
                                        status.error_message(), "); subscribe again"));
    }
    if (std::shared_ptr<RelaySink> sink = sink_.lock(); sink != nullptr) {
      sink->RelayEnded(ended, ForwardedTrailers(out_));
    }
  }

 private:
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
  const std::weak_ptr<RelaySink> sink_;
  const std::function<void()> not_reached_;
  grpc::ClientContext out_;
  Transition incoming_;
  absl::Mutex mu_;
  std::shared_ptr<SubscribeRelay> self_ ABSL_GUARDED_BY(mu_);
  std::deque<SubscribeRequest> to_send_ ABSL_GUARDED_BY(mu_);  // front: being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<Relay> StartSubscribeRelay(std::shared_ptr<grpc::Channel> channel, const grpc::ServerContextBase& caller,
                                           const std::string& self, SubscribeRequest first,
                                           std::weak_ptr<RelaySink> sink, std::function<void()> not_reached) {
  auto relay = std::make_shared<SubscribeRelay>(std::move(channel), std::move(sink), std::move(not_reached));
  relay->Start(caller, self, std::move(first));
  return relay;
}

}  // namespace isobar::supervisor
