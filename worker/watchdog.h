// Enforces a CPU-time budget on the JS thread by terminating the running isolate.
//
//   Watchdog watchdog;                     // starts its thread; create before the sandbox
//   watchdog.Arm(isolate, js_thread_clock, absl::Seconds(1));
//   ... run JS ...
//   bool fired = watchdog.Disarm();        // true: TerminateExecution was called
//
// The budget counts the JS thread's CPU time (pthread_getcpuclockid), so time the thread spends blocked
// waiting for host results is not charged. The watchdog sleeps until the earliest moment the budget
// could be spent (wall time >= CPU time), checks the CPU clock, and either fires or sleeps again for
// the remainder: no polling. Arm wakes the thread only when it is idle or would look too late, and
// Disarm never does, so back-to-back invocations cost no thread switches.
#ifndef ISOBAR_WORKER_WATCHDOG_H_
#define ISOBAR_WORKER_WATCHDOG_H_

#include <time.h>

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "v8-isolate.h"

namespace isobar::worker {

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts charging `budget` of CPU time on `cpu_clock` (the JS thread's clock) to `isolate`.
  void Arm(v8::Isolate* isolate, clockid_t cpu_clock, absl::Duration budget) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops charging. Returns true if the budget ran out and the isolate was terminated.
  bool Disarm() ABSL_LOCKS_EXCLUDED(mu_);

  // The CPU time `cpu_clock` has used.
  static absl::Duration CpuTime(clockid_t cpu_clock);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  v8::Isolate* isolate_ ABSL_GUARDED_BY(mu_) = nullptr;  // not owned; armed while non-null
  clockid_t cpu_clock_ ABSL_GUARDED_BY(mu_) = CLOCK_THREAD_CPUTIME_ID;
  absl::Duration cpu_deadline_ ABSL_GUARDED_BY(mu_);  // CPU time at which to fire
  absl::Time wake_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // when the thread looks next
  bool kick_ ABSL_GUARDED_BY(mu_) = false;  // look now: a budget shorter than the current sleep
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_WATCHDOG_H_
