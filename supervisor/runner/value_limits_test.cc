#include "supervisor/runner/value_limits.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

TEST(ValueLimitsTest, ArgumentsAndResultsAtTheLimit) {
  // A string's size is its bytes plus 2; an object adds 2 and its field names (+1 each); [args] adds 2.
  const size_t overhead = 2 + 2 + 1 + 1 + 2;  // [ {"s": "..."} ]
  auto args_of = [](size_t n) { return *Value::MakeObject({{"s", Value::String(std::string(n, 'x'))}}); };
  EXPECT_TRUE(CheckArgsSize("m.js:f", args_of(kMaxFunctionArgsBytes - overhead)).ok());
  absl::Status over = CheckArgsSize("m.js:f", args_of(kMaxFunctionArgsBytes - overhead + 1));
  EXPECT_EQ(over.message(), "Arguments for m.js:f are too large (actual: 16.00 MiB, limit: 16 MiB)");
  EXPECT_TRUE(CheckResultSize("m.js:f", Value::String(std::string(kMaxFunctionResultBytes - 2, 'x'))).ok());
  EXPECT_EQ(CheckResultSize("m.js:f", Value::String(std::string(kMaxFunctionResultBytes - 1, 'x'))).message(),
            "Function m.js:f return value is too large (actual: 16.00 MiB, limit: 16 MiB)");
}

}  // namespace
}  // namespace isobar::supervisor
