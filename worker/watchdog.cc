#include "worker/watchdog.h"

#include <sys/prctl.h>

namespace isobar::worker {

Watchdog::Watchdog() : thread_([this] { Run(); }) {}

Watchdog::~Watchdog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

absl::Duration Watchdog::CpuTime(clockid_t cpu_clock) {
  struct timespec ts;
  clock_gettime(cpu_clock, &ts);
  return absl::DurationFromTimespec(ts);
}

void Watchdog::Arm(v8::Isolate* isolate, clockid_t cpu_clock, absl::Duration budget) {
  absl::Duration start = CpuTime(cpu_clock);
  absl::MutexLock lock(&mu_);
  isolate_ = isolate;
  cpu_clock_ = cpu_clock;
  cpu_deadline_ = start + budget;
  fired_ = false;
  // The thread need not wake if it will look again before this budget could possibly be spent (CPU
  // time cannot run faster than wall time). Back-to-back invocations then cost no thread switches.
  if (absl::Now() + budget < wake_at_) kick_ = true;
}

bool Watchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  isolate_ = nullptr;  // the thread notices when it next wakes; no need to wake it now
  return fired_;
}

void Watchdog::Run() {
  prctl(PR_SET_NAME, "isobar-watchdog");
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (stop_) return;
    if (isolate_ == nullptr) {
      // Idle until armed (or stopping). Conditions run with mu_ held.
      wake_at_ = absl::InfiniteFuture();
      mu_.Await(absl::Condition(
          +[](Watchdog* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stop_ || w->isolate_ != nullptr; }, this));
      continue;
    }
    absl::Duration remaining = cpu_deadline_ - CpuTime(cpu_clock_);
    if (remaining <= absl::ZeroDuration()) {
      isolate_->TerminateExecution();
      fired_ = true;
      isolate_ = nullptr;
      continue;
    }
    // Nothing can happen before `remaining` has passed; sleep until then unless a shorter budget is
    // armed meanwhile (Arm sets kick_).
    wake_at_ = absl::Now() + remaining;
    kick_ = false;
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Watchdog* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stop_ || w->kick_; }, this),
                         remaining);
  }
}

}  // namespace isobar::worker
