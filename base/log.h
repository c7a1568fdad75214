// A small structured logger: one line per event on stderr, with time, level, component and message.
//
//   ISOBAR_LOG(kInfo, "pool") << "worker " << id << " started, pid " << pid;
//   -> 2026-11-22T10:00:00.123456Z INFO pool: worker 0 started, pid 1234
//
// Debian's Abseil 20220623 has no absl/log. Lines are written with a single write(2) so that lines from
// several threads or processes sharing stderr do not interleave. Safe to use from any thread, and
// after the seccomp filter (it only calls write and clock_gettime).
#ifndef ISOBAR_BASE_LOG_H_
#define ISOBAR_BASE_LOG_H_

#include <sstream>
#include "absl/strings/string_view.h"

namespace isobar {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kSecurity };

// Lines below this level are dropped. Default kInfo; ISOBAR_LOG_LEVEL=debug lowers it.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

class LogLine {
 public:
  LogLine(LogLevel level, absl::string_view component);
  ~LogLine();  // Writes the line.
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns `LogLine(...) << a << b` into a void expression for ISOBAR_LOG's conditional.
struct LogVoidify {
  void operator&(const LogLine&) const {}
};

}  // namespace isobar

// An expression, so it is safe as the body of an unbraced if/else.
#define ISOBAR_LOG(level, component)                                \
  (::isobar::LogLevel::level < ::isobar::MinLogLevel())             \
      ? (void)0                                                     \
      : ::isobar::LogVoidify() & ::isobar::LogLine(::isobar::LogLevel::level, component)

#endif  // ISOBAR_BASE_LOG_H_
