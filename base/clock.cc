#include "base/clock.h"

#include <vector>

namespace isobar {

absl::Time ManualClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void ManualClock::WakeAt(absl::Time when, absl::AnyInvocable<void() &&> wake) {
  {
    absl::MutexLock lock(&mu_);
    if (when > now_) {
      wakes_.emplace(std::make_pair(when, sequence_++), std::move(wake));
      return;
    }
  }
  executor_.Run(std::move(wake));
}

void ManualClock::Advance(absl::Duration by) {
  absl::Time to;
  {
    absl::MutexLock lock(&mu_);
    to = now_ + std::max(by, absl::ZeroDuration());
  }
  Set(to);
}

void ManualClock::Set(absl::Time to) {
  std::vector<absl::AnyInvocable<void() &&>> due;
  {
    absl::MutexLock lock(&mu_);
    now_ = std::max(now_, to);
    while (!wakes_.empty() && wakes_.begin()->first.first <= now_) {
      due.push_back(std::move(wakes_.begin()->second));
      wakes_.erase(wakes_.begin());
    }
  }
  for (auto& wake : due) executor_.Run(std::move(wake));
}

size_t ManualClock::waiting() const {
  absl::MutexLock lock(&mu_);
  return wakes_.size();
}

}  // namespace isobar
