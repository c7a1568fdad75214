#include "base/executor.h"

#include <sys/prctl.h>

namespace isobar {

Executor::Executor(std::string name, int threads) : name_(std::move(name)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

void Executor::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  std::map<std::pair<absl::Time, uint64_t>, absl::AnyInvocable<void() &&>> dropped;
  {
    absl::MutexLock lock(&mu_);
    joined_ = true;
    dropped.swap(tasks_);
  }
  // Destroyed without the lock: what they hold may schedule more work (which is dropped).
  dropped.clear();
}

void Executor::RunAt(absl::Time when, absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mu_);
  if (joined_) return;
  tasks_.emplace(std::make_pair(when, sequence_++), std::move(task));
}

size_t Executor::Pending() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

void Executor::Loop() {
  prctl(PR_SET_NAME, name_.substr(0, 15).c_str());
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        const absl::Time now = absl::Now();
        if (!tasks_.empty() && tasks_.begin()->first.first <= now) break;
        if (stopping_) return;  // what is left is not due yet
        // Wake for a new task, for stopping, or when the earliest task falls due.
        const absl::Time earliest = tasks_.empty() ? absl::InfiniteFuture() : tasks_.begin()->first.first;
        const size_t count = tasks_.size();
        auto changed = [this, count, earliest]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || tasks_.size() != count ||
                 (!tasks_.empty() && tasks_.begin()->first.first != earliest);
        };
        mu_.AwaitWithDeadline(absl::Condition(&changed), earliest);
      }
      auto first = tasks_.begin();
      task = std::move(first->second);
      tasks_.erase(first);
    }
    std::move(task)();
  }
}

}  // namespace isobar
