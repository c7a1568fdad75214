#include "tests/live_queries.h"

#include "absl/strings/str_cat.h"

namespace isobar::testing {

using isobar::v1::SubscribeRequest;
using isobar::v1::Transition;

LiveQueries::LiveQueries(const std::shared_ptr<grpc::Channel>& channel, const std::string& key, std::string deployment)
    : deployment_(std::move(deployment)), stub_(isobar::v1::Functions::NewStub(channel)) {
  context_.AddMetadata("authorization", absl::StrCat("Bearer ", key));
  stream_ = stub_->Subscribe(&context_);
  reader_ = std::thread([this] { Read(); });
}

LiveQueries::~LiveQueries() {
  {
    absl::MutexLock lock(&write_mu_);
    stream_->WritesDone();
  }
  context_.TryCancel();
  reader_.join();
  stream_->Finish().ok();  // cancelled: its status does not matter here
}

bool LiveQueries::Add(uint32_t id, const std::string& path, const std::string& args_json) {
  SubscribeRequest request;
  request.set_deployment(deployment_);
  auto* add = request.add_changes()->mutable_add();
  add->set_query_id(id);
  add->set_path(path);
  add->set_args_json(args_json);
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(request);
}

bool LiveQueries::Remove(uint32_t id) {
  SubscribeRequest request;
  request.set_deployment(deployment_);
  request.add_changes()->set_remove(id);
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(request);
}

void LiveQueries::Read() {
  Transition transition;
  while (stream_->Read(&transition)) {
    absl::MutexLock lock(&mu_);
    if (transition.start_version().ts() != ts_) {
      absl::StrAppend(&problems_, "a transition starts at ", transition.start_version().ts(), " after one ending at ",
                      ts_, "; ");
    }
    ts_ = transition.end_version().ts();
    for (const auto& m : transition.modifications()) {
      if (m.has_updated()) values_[m.query_id()] = m.updated().value_json();
      if (m.has_failed()) values_[m.query_id()] = "error: " + m.failed().error().message();
      if (m.removed()) values_.erase(m.query_id());
    }
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

bool LiveQueries::WaitFor(const std::function<bool(const Values&)>& ready, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ || ready(values_); };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return ready(values_);
}

bool LiveQueries::AwaitEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
}

LiveQueries::Values LiveQueries::values() const {
  absl::MutexLock lock(&mu_);
  return values_;
}

int64_t LiveQueries::ts() const {
  absl::MutexLock lock(&mu_);
  return ts_;
}

std::string LiveQueries::problems() const {
  absl::MutexLock lock(&mu_);
  return problems_;
}

}  // namespace isobar::testing
