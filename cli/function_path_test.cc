#include "cli/function_path.h"

#include "gtest/gtest.h"

namespace isobar::cli {
namespace {

TEST(FunctionPathTest, AsTheApiNamesThem) {
  EXPECT_EQ(NormalizeFunctionPath("messages:list"), "messages:list");
  EXPECT_EQ(NormalizeFunctionPath("messages.js:list"), "messages:list");
  EXPECT_EQ(NormalizeFunctionPath("dir/mod.js:fn"), "dir/mod:fn");
  EXPECT_EQ(NormalizeFunctionPath("messages"), "messages:default");
  EXPECT_EQ(NormalizeFunctionPath("messages.js"), "messages:default");
}

// Module names shorter than ".js" used to read before the string (std::out_of_range, a crash).
TEST(FunctionPathTest, OddInputsArePassedOnNotCrashedOn) {
  EXPECT_EQ(NormalizeFunctionPath("m:f"), "m:f");
  EXPECT_EQ(NormalizeFunctionPath("ab:f"), "ab:f");
  EXPECT_EQ(NormalizeFunctionPath(":f"), ":f");
  EXPECT_EQ(NormalizeFunctionPath(".js:f"), ":f");
  EXPECT_EQ(NormalizeFunctionPath("m:"), "m:");
  EXPECT_EQ(NormalizeFunctionPath(":"), ":");
  EXPECT_EQ(NormalizeFunctionPath(""), ":default");
  EXPECT_EQ(NormalizeFunctionPath("a:b:c"), "a:b:c");
  EXPECT_EQ(NormalizeFunctionPath("js:x"), "js:x");
}

}  // namespace
}  // namespace isobar::cli
