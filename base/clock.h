// Time for the components whose behaviour depends on it (the scheduler, crons). Production uses the
// real clock; tests use a ManualClock and advance it instead of sleeping.
//
//   RealClock clock(executor);
//   clock.WakeAt(clock.Now() + absl::Seconds(5), [] { ... });   // on an executor thread, not before then
//
//   ManualClock manual(executor, absl::FromUnixSeconds(1'700'000'000));
//   manual.Advance(absl::Hours(1));                             // runs the wakes now due
#ifndef ISOBAR_BASE_CLOCK_H_
#define ISOBAR_BASE_CLOCK_H_

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/executor.h"

namespace isobar {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Runs `wake` on an executor thread (never inside this call) once Now() >= `when`.
  virtual void WakeAt(absl::Time when, absl::AnyInvocable<void() &&> wake) = 0;
};

class RealClock final : public Clock {
 public:
  explicit RealClock(Executor& executor) : executor_(executor) {}  // not owned
  absl::Time Now() override { return absl::Now(); }
  void WakeAt(absl::Time when, absl::AnyInvocable<void() &&> wake) override { executor_.RunAt(when, std::move(wake)); }

 private:
  Executor& executor_;
};

// Stands still until Advance or Set. Thread-safe.
class ManualClock final : public Clock {
 public:
  ManualClock(Executor& executor, absl::Time start) : executor_(executor), now_(start) {}

  absl::Time Now() override ABSL_LOCKS_EXCLUDED(mu_);
  void WakeAt(absl::Time when, absl::AnyInvocable<void() &&> wake) override ABSL_LOCKS_EXCLUDED(mu_);

  // Moves time forward (never back) and hands every wake now due to the executor, in due order.
  void Advance(absl::Duration by) ABSL_LOCKS_EXCLUDED(mu_);
  void Set(absl::Time to) ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes not yet due.
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Executor& executor_;
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, absl::AnyInvocable<void() &&>> wakes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar

#endif  // ISOBAR_BASE_CLOCK_H_
