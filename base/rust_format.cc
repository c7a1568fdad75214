#include "base/rust_format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace isobar {
namespace {

// `whole` followed by `fraction` (of `digits` digits) with its trailing zeros trimmed, then `unit`.
std::string WithFraction(uint64_t whole, uint64_t fraction, int digits, const char* unit) {
  std::string out = absl::StrCat(whole);
  if (fraction != 0) {
    std::string text = absl::StrFormat("%0*d", digits, fraction);
    while (!text.empty() && text.back() == '0') text.pop_back();
    absl::StrAppend(&out, ".", text);
  }
  return absl::StrCat(out, unit);
}

}  // namespace

std::string FormatBinarySize(size_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (value == std::floor(value)) return absl::StrFormat("%.0f %s", value, kUnits[unit]);
  return absl::StrFormat("%.2f %s", value, kUnits[unit]);
}

std::string FormatRustDuration(uint64_t seconds, uint32_t nanos) {
  if (seconds > 0) return WithFraction(seconds, nanos, 9, "s");
  if (nanos >= 1000000) return WithFraction(nanos / 1000000, nanos % 1000000, 6, "ms");
  if (nanos >= 1000) return WithFraction(nanos / 1000, nanos % 1000, 3, "µs");
  return absl::StrCat(nanos, "ns");
}

std::string FormatRustDuration(double seconds) {
  if (!(seconds > 0)) return "0ns";
  seconds = std::min(seconds, 1.8e19);  // within uint64_t seconds
  const double whole = std::floor(seconds);
  uint64_t s = static_cast<uint64_t>(whole);
  uint64_t nanos = static_cast<uint64_t>(std::llround((seconds - whole) * 1e9));
  if (nanos >= 1000000000) {
    ++s;
    nanos -= 1000000000;
  }
  return FormatRustDuration(s, static_cast<uint32_t>(nanos));
}

}  // namespace isobar
