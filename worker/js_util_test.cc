#include "worker/js_util.h"

#include "gtest/gtest.h"

namespace isobar::worker {
namespace {

TEST(JsonNestingDepthTest, CountsArraysAndObjectsNotStrings) {
  EXPECT_EQ(JsonNestingDepth("1"), 0);
  EXPECT_EQ(JsonNestingDepth(R"("[[[")"), 0);
  EXPECT_EQ(JsonNestingDepth(R"([{"a":[1]},{}])"), 3);
  EXPECT_EQ(JsonNestingDepth(R"(["\"[", {"k\\": [[]]}])"), 4);
  EXPECT_EQ(JsonNestingDepth(std::string(64, '[') + std::string(64, ']')), 64);
}

}  // namespace
}  // namespace isobar::worker
