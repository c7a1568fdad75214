#include "supervisor/runner/limit_warnings.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

std::vector<std::string> Messages(const ExecutionSize& size) {
  std::vector<std::string> out;
  for (const auto& line : LimitWarnings(size)) {
    EXPECT_EQ(line.level(), "warn");
    out.push_back(line.message());
  }
  return out;
}

// Above 80% of a limit and not past it, in Convex's words (crates/udf/src/warnings.rs).
TEST(LimitWarningsTest, NearALimitOnly) {
  EXPECT_TRUE(Messages({}).empty());
  EXPECT_TRUE(Messages({.writes = 12800}).empty());  // exactly 80%: not above it
  EXPECT_EQ(Messages({.writes = 12801}),
            std::vector<std::string>{"Many writes in a single function execution (actual: 12801, limit: 16000)."});
  EXPECT_EQ(Messages({.writes = 16000}).size(), 1u);
  EXPECT_TRUE(Messages({.writes = 16001}).empty());  // past it, the function failed instead
  EXPECT_EQ(Messages({.bytes_read = 13631488}),
            std::vector<std::string>{
                "Many bytes read in a single function execution (actual: 13631488 bytes, limit: 16777216 bytes). "
                "Consider using smaller limits in your queries, paginating your queries, or using indexed queries "
                "with a selective index range expressions."});
}

TEST(LimitWarningsTest, OneScheduledJobWarnsPastItsSizeToo) {
  EXPECT_EQ(Messages({.scheduled_args_bytes = 8388608, .max_scheduled_args_bytes = 8388608}),
            std::vector<std::string>{"Large arguments for a single scheduled function from this mutation. This will "
                                     "become a hard error in the future (actual: 8388608 bytes, limit: 4194304 bytes)."});
  EXPECT_EQ(Messages({.documents_read = 25700, .writes = 13000}).size(), 2u);
  EXPECT_EQ(Messages({.documents_read = 25700, .writes = 13000})[0].rfind("Many documents read", 0), 0u);
}

}  // namespace
}  // namespace isobar::supervisor
