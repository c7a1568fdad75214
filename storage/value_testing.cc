#include "storage/value_testing.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace isobar::storage::testing {

std::string RandomValues::SmallString(bool printable_ascii) {
  static const char* kPieces[] = {"", "a", "b", "ab", "\x7f", "z", "_id", "$"};
  std::string s;
  int n = static_cast<int>(rng_() % 4);
  for (int i = 0; i < n; ++i) {
    if (printable_ascii) {
      s.push_back(static_cast<char>('a' + rng_() % 3));
    } else if (rng_() % 4 == 0) {
      s.push_back(static_cast<char>(rng_() % 3));  // NUL and other low bytes
    } else if (rng_() % 8 == 0) {
      s.append("\xc3\xa9");  // é, multi-byte UTF-8
    } else {
      s.append(kPieces[rng_() % 4]);
    }
  }
  return s;
}

Value RandomValues::Next(int max_depth, bool allow_undefined) {
  int kinds = max_depth > 0 ? 10 : 8;
  int kind = static_cast<int>(rng_() % static_cast<uint64_t>(kinds));
  switch (kind) {
    case 0:
      return allow_undefined && rng_() % 2 == 0 ? Value::Undefined() : Value::Null();
    case 1: {
      static const int64_t kInts[] = {0, 1, -1, 2, std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max(), 255, 256, -256};
      return Value::Int64(rng_() % 3 == 0 ? static_cast<int64_t>(rng_()) : kInts[rng_() % 9]);
    }
    case 2: {
      static const double kFloats[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e-300,
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN(),
                                       -std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::denorm_min(), 0.1, 1.0 / 3};
      if (rng_() % 3 == 0) {
        double d = std::ldexp(static_cast<double>(rng_() % 1000000) - 500000, static_cast<int>(rng_() % 40) - 20);
        return Value::Float64(d);
      }
      return Value::Float64(kFloats[rng_() % 14]);
    }
    case 3:
      return Value::Boolean(rng_() % 2 == 0);
    case 4:
    case 5:
      return Value::String(SmallString(false));
    case 6:
    case 7:
      return Value::Bytes(SmallString(false));
    case 8: {
      Value::Array items;
      int n = static_cast<int>(rng_() % 4);
      for (int i = 0; i < n; ++i) items.push_back(Next(max_depth - 1, false));
      return Value::MakeArray(std::move(items));
    }
    default: {
      Value::Object fields;
      int n = static_cast<int>(rng_() % 4);
      for (int i = 0; i < n; ++i) fields.emplace_back(SmallString(true), Next(max_depth - 1, false));
      std::sort(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      fields.erase(std::unique(fields.begin(), fields.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
                   fields.end());
      return Value::MakeSortedObject(std::move(fields));
    }
  }
}

Value ParseForTest(absl::string_view json, const ConvexJsonOptions& options) {
  absl::StatusOr<Value> value = ParseConvexJson(json, options);
  EXPECT_TRUE(value.ok()) << value.status() << " for " << json;
  return value.ok() ? *value : Value();
}

}  // namespace isobar::storage::testing
