#include "supervisor/deploy/function_path.h"

#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

TEST(FunctionPathTest, NamesAModuleAndAnExport) {
  absl::StatusOr<FunctionPath> p = ParseFunctionPath("messages:send");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->module, "messages.js");
  EXPECT_EQ(p->name, "send");
  EXPECT_EQ(p->canonical, "messages:send");

  p = ParseFunctionPath("dir/mod.js:list");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->module, "dir/mod.js");
  EXPECT_EQ(p->canonical, "dir/mod:list");

  p = ParseFunctionPath("dir/mod");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "default");
  EXPECT_EQ(p->canonical, "dir/mod:default");
}

TEST(FunctionPathTest, RefusesWhatIsNotAFunctionPath) {
  for (const char* bad : {"", ":send", "messages:", "messages:a-b", "messages.ts:send", "../x:y", "/abs:y",
                          "_deps/chunk:x", "a//b:c", "messages:1abc", "a b:c"}) {
    EXPECT_EQ(ParseFunctionPath(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace isobar::supervisor
