#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace isobar {
namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("ISOBAR_LOG_LEVEL");
  if (env != nullptr && std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  return LogLevel::kInfo;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kSecurity:
      return "SECURITY";
  }
  return "?";
}

}  // namespace

void SetMinLogLevel(LogLevel level) { Level().store(level); }
LogLevel MinLogLevel() { return Level().load(std::memory_order_relaxed); }

LogLine::LogLine(LogLevel level, absl::string_view component) : level_(level) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
  stream_ << stamp << ' ' << LevelName(level_) << ' ' << component << ": ";
}

LogLine::~LogLine() {
  stream_ << '\n';
  const std::string line = stream_.str();
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

}  // namespace isobar
