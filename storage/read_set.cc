#include "storage/read_set.h"

#include "absl/strings/str_cat.h"

namespace isobar::storage {

absl::Status ReadSet::Add(IndexId index, KeyRange interval) {
  if (interval.end.has_value() && *interval.end <= interval.start) return absl::OkStatus();  // empty
  std::string held = absl::StrCat(index.value(), ":", interval.start.size(), ":", interval.start, ":",
                                  interval.end.has_value() ? absl::StrCat("=", *interval.end) : "+");
  if (held_.contains(held)) return absl::OkStatus();
  if (count_ >= max_intervals_) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many reads in a single function execution (limit: ",
                                                     max_intervals_, "). ", kReadLimitHelp));
  }
  held_.insert(std::move(held));
  intervals_[index].push_back(std::move(interval));
  ++count_;
  return absl::OkStatus();
}

bool ReadSet::Contains(IndexId index, const std::string& key) const {
  auto it = intervals_.find(index);
  if (it == intervals_.end()) return false;
  for (const KeyRange& range : it->second) {
    if (key >= range.start && (!range.end.has_value() || key < *range.end)) return true;
  }
  return false;
}

}  // namespace isobar::storage
