#include "base/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <string>

#include "base/utf8.h"

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

std::atomic<LogFormat>& FormatSetting() {
  static std::atomic<LogFormat> format{LogFormat::kText};
  return format;
}

// `text` as a JSON string, quotes included: escaped, and invalid UTF-8 replaced by U+FFFD.
void AppendJsonString(absl::string_view text, std::string* out) {
  const std::string valid = ToValidUtf8(text);
  out->push_back('"');
  for (unsigned char c : valid) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out->append(escaped);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void SetMinLogLevel(LogLevel level) { Level().store(level); }
LogLevel MinLogLevel() { return Level().load(std::memory_order_relaxed); }
void SetLogFormat(LogFormat format) { FormatSetting().store(format); }
LogFormat CurrentLogFormat() { return FormatSetting().load(std::memory_order_relaxed); }

LogLine::LogLine(LogLevel level, absl::string_view component) : level_(level), component_(component) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
  time_ = stamp;
}

LogLine& LogLine::Field(absl::string_view name, absl::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
  return *this;
}

std::string LogLine::Format() const {
  std::string line;
  if (CurrentLogFormat() == LogFormat::kJson) {
    std::string level = LevelName(level_);
    for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    line = "{\"time\":\"" + time_ + "\",\"level\":\"" + level + "\",\"component\":";
    AppendJsonString(component_, &line);
    line += ",\"message\":";
    AppendJsonString(stream_.str(), &line);
    for (const auto& [name, value] : fields_) {
      line.push_back(',');
      AppendJsonString(name, &line);
      line.push_back(':');
      AppendJsonString(value, &line);
    }
    line.push_back('}');
    return line;
  }
  line = time_ + " " + LevelName(level_) + " " + component_ + ": " + stream_.str();
  for (const auto& [name, value] : fields_) line += " " + name + "=" + value;
  return line;
}

LogLine::~LogLine() {
  const std::string line = Format() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

}  // namespace isobar
