// Repeated identical warnings, rate-limited with a count: the first of a key passes, the rest within
// `window` are counted, and the next one after the window passes with how many were left out.
//
//   LogLimiter limiter(absl::Seconds(10));
//   if (std::optional<std::string> note = limiter.Admit(key, now)) {
//     ISOBAR_LOG(kWarning, "scheduler") << "cannot read the pending jobs: " << status << *note;
//   }   // *note is "" or " (repeated 2314 times in 10s)"
//
// Thread-safe. At most `max_keys` keys are remembered (the oldest window's go first).
#ifndef ISOBAR_BASE_LOG_LIMITER_H_
#define ISOBAR_BASE_LOG_LIMITER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace isobar {

class LogLimiter {
 public:
  explicit LogLimiter(absl::Duration window, size_t max_keys = 1024) : window_(window), max_keys_(max_keys) {}

  // nullopt: leave this line out. Otherwise log it, followed by the returned note.
  std::optional<std::string> Admit(absl::string_view key, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    absl::Time window_start;
    uint64_t suppressed = 0;
  };
  const absl::Duration window_;
  const size_t max_keys_;
  absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar

#endif  // ISOBAR_BASE_LOG_LIMITER_H_
