#include "base/log_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace isobar {

std::optional<std::string> LogLimiter::Admit(absl::string_view key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.window_start < b.second.window_start;
      });
      entries_.erase(oldest);
    }
    entries_.emplace(std::string(key), Entry{now, 0});
    return std::string();
  }
  Entry& entry = it->second;
  if (now - entry.window_start < window_) {
    ++entry.suppressed;
    return std::nullopt;
  }
  std::string note = entry.suppressed == 0
                         ? std::string()
                         : absl::StrCat(" (repeated ", entry.suppressed, " times in ",
                                        absl::FormatDuration(now - entry.window_start), ")");
  entry = Entry{now, 0};
  return note;
}

}  // namespace isobar
