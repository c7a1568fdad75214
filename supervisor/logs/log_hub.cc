#include "supervisor/logs/log_hub.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace isobar::supervisor {

LogHub::Subscription::~Subscription() { hub_.Unsubscribe(this); }

void LogHub::Subscription::Push(const isobar::v1::LogEntry& entry) {
  if (!deployment_.empty() && entry.deployment() != deployment_) return;
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= capacity_) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(entry);
}

bool LogHub::Subscription::closed() {
  absl::MutexLock lock(&mu_);
  return closed_ && queue_.empty() && dropped_ == 0;
}

void LogHub::Subscription::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::optional<isobar::v1::LogEntry> LogHub::Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || dropped_ > 0 || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (dropped_ > 0) {
    isobar::v1::LogEntry notice;
    notice.set_level("warn");
    notice.set_message(absl::StrCat("... ", dropped_, " log lines dropped: this tail fell behind"));
    notice.set_unix_time_ms(absl::ToUnixMillis(absl::Now()));
    dropped_ = 0;
    return notice;
  }
  if (queue_.empty()) return std::nullopt;
  isobar::v1::LogEntry entry = std::move(queue_.front());
  queue_.pop_front();
  return entry;
}

LogHub::~LogHub() { Close(); }

std::unique_ptr<LogHub::Subscription> LogHub::Subscribe(std::string deployment) {
  std::unique_ptr<Subscription> subscription(new Subscription(*this, std::move(deployment), capacity_));
  absl::MutexLock lock(&mu_);
  if (closed_) subscription->Close();
  subscriptions_.insert(subscription.get());
  return subscription;
}

void LogHub::Publish(const isobar::v1::LogEntry& entry) {
  absl::MutexLock lock(&mu_);
  for (Subscription* subscription : subscriptions_) subscription->Push(entry);
}

void LogHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (Subscription* subscription : subscriptions_) subscription->Close();
}

void LogHub::Unsubscribe(Subscription* subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(subscription);
}

}  // namespace isobar::supervisor
