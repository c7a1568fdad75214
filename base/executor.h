// A fixed set of threads that run tasks now or at a time.
//
//   Executor executor("isobar-host", 16);
//   executor.Run([] { ... });                                     // as soon as a thread is free
//   executor.RunAt(absl::Now() + absl::Milliseconds(100), [] { ... });  // not before then
//
// Tasks run in due order (FIFO among tasks due at the same time). Tasks may block (that is what the
// threads are for), and may schedule more tasks. Shutdown (and the destructor) runs every task already
// due, including those they schedule, drops the ones not yet due, and joins the threads; a task given
// after that is dropped.
#ifndef ISOBAR_BASE_EXECUTOR_H_
#define ISOBAR_BASE_EXECUTOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace isobar {

class Executor {
 public:
  // `name` names the threads (at most 15 characters show).
  Executor(std::string name, int threads);
  ~Executor() { Shutdown(); }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Run(absl::AnyInvocable<void() &&> task) ABSL_LOCKS_EXCLUDED(mu_) { RunAt(absl::InfinitePast(), std::move(task)); }
  void RunAt(absl::Time when, absl::AnyInvocable<void() &&> task) ABSL_LOCKS_EXCLUDED(mu_);

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks waiting (due or not).
  size_t Pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace isobar

#endif  // ISOBAR_BASE_EXECUTOR_H_
