#include "base/flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Args {
  explicit Args(std::vector<std::string> a) : strings(std::move(a)) {
    for (std::string& s : strings) pointers.push_back(s.data());
  }
  int argc() { return static_cast<int>(pointers.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

class FlagsTest : public ::testing::Test {
 protected:
  FlagsTest() {
    flags_.String("data-dir", &data_dir_, "dir");
    flags_.Int("workers", &workers_, "n");
    flags_.Bool("enable-eval", &eval_, "eval");
  }
  std::string data_dir_ = "./d";
  int workers_ = 0;
  bool eval_ = false;
  FlagSet flags_{"prog"};
};

TEST_F(FlagsTest, ParsesEveryForm) {
  Args args({"prog", "--data-dir=/x", "--workers", "3", "--enable-eval", "pos", "--", "--not-a-flag"});
  absl::StatusOr<std::vector<std::string>> positional = flags_.Parse(args.argc(), args.argv());
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_EQ(data_dir_, "/x");
  EXPECT_EQ(workers_, 3);
  EXPECT_TRUE(eval_);
  EXPECT_THAT(*positional, ElementsAre("pos", "--not-a-flag"));
}

TEST_F(FlagsTest, NegatedBool) {
  eval_ = true;
  Args args({"prog", "--no-enable-eval"});
  ASSERT_TRUE(flags_.Parse(args.argc(), args.argv()).ok());
  EXPECT_FALSE(eval_);
}

TEST_F(FlagsTest, Errors) {
  Args unknown({"prog", "--nope=1"});
  EXPECT_EQ(flags_.Parse(unknown.argc(), unknown.argv()).status().code(), absl::StatusCode::kInvalidArgument);
  Args bad_int({"prog", "--workers=two"});
  EXPECT_THAT(flags_.Parse(bad_int.argc(), bad_int.argv()).status().message(), HasSubstr("whole number"));
  Args missing({"prog", "--data-dir"});
  EXPECT_THAT(flags_.Parse(missing.argc(), missing.argv()).status().message(), HasSubstr("needs a value"));
  Args help({"prog", "--help"});
  absl::Status status = flags_.Parse(help.argc(), help.argv()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("--data-dir=VALUE"));
  EXPECT_THAT(status.message(), HasSubstr("(default: ./d)"));
}

}  // namespace
}  // namespace isobar
