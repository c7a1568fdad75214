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
  ++generation_;
}

bool Watchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  isolate_ = nullptr;
  ++generation_;
  return fired_;
}

void Watchdog::Run() {
  prctl(PR_SET_NAME, "isobar-watchdog");
  absl::MutexLock lock(&mu_);
  for (;;) {
    // Idle until armed (or stopping).
    // Conditions run with mu_ held.
    mu_.Await(absl::Condition(
        +[](Watchdog* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stop_ || w->isolate_ != nullptr; },
        this));
    if (stop_) return;
    const uint64_t generation = generation_;
    absl::Duration remaining = cpu_deadline_ - CpuTime(cpu_clock_);
    if (remaining <= absl::ZeroDuration()) {
      isolate_->TerminateExecution();
      fired_ = true;
      isolate_ = nullptr;
      continue;
    }
    // CPU time cannot run faster than wall time: nothing can happen before `remaining` has passed.
    struct Armed {
      Watchdog* watchdog;
      uint64_t generation;
    } armed{this, generation};
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Armed* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return a->watchdog->stop_ || a->watchdog->generation_ != a->generation;
                             },
                             &armed),
                         remaining);
  }
}

}  // namespace isobar::worker
