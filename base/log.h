// A small structured logger: one line per event on stderr, with time, level, component and message,
// and fields, as text or as JSON lines (SetLogFormat; the supervisor's --log-format).
//
//   ISOBAR_LOG(kInfo, "pool") << "worker " << id << " started, pid " << pid;
//   -> 2026-11-22T10:00:00.123456Z INFO pool: worker 0 started, pid 1234
//   ISOBAR_LOG(kInfo, "calls").Field("request", id) << "messages:send ok";
//   -> 2026-11-22T10:00:00.123456Z INFO calls: messages:send ok request=8f3a...
//   -> {"time":"2026-11-22T10:00:00.123456Z","level":"info","component":"calls","message":"messages:send ok","request":"8f3a..."}
//
// JSON strings are escaped and made valid UTF-8, whatever the message holds.
// Debian's Abseil 20220623 has no absl/log. Lines are written with a single write(2) so that lines from
// several threads or processes sharing stderr do not interleave. Safe to use from any thread, and
// after the seccomp filter (it only calls write and clock_gettime).
#ifndef ISOBAR_BASE_LOG_H_
#define ISOBAR_BASE_LOG_H_

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace isobar {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kSecurity };

// Lines below this level are dropped. Default kInfo; ISOBAR_LOG_LEVEL=debug lowers it.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);
LogFormat CurrentLogFormat();

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
  // A named value beside the message (text: " name=value" after it; JSON: a member).
  LogLine& Field(absl::string_view name, absl::string_view value);

  // The line as it is written, without its newline (for tests).
  std::string Format() const;

 private:
  LogLevel level_;
  std::string component_;
  std::string time_;
  std::ostringstream stream_;
  std::vector<std::pair<std::string, std::string>> fields_;
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
