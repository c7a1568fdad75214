#include "base/flags.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

// A flag file in the test's temporary directory.
std::string FlagFile(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path) << text;
  return path;
}

TEST_F(FlagsTest, AFlagFileIsReadInPlaceAndLaterFlagsWin) {
  const std::string inner = FlagFile("inner.flags", "--workers=7\n");
  const std::string outer = FlagFile("outer.flags", absl::StrCat("# the service's settings\n\n",
                                                                 "--data-dir=/var/lib/isobar data\n",
                                                                 "  --enable-eval  \n--flagfile=", inner, "\n"));
  Args args({"prog", "--workers=2", "--flagfile", outer, "--data-dir=/override", "pos"});
  absl::StatusOr<std::vector<std::string>> positional = flags_.Parse(args.argc(), args.argv());
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_EQ(data_dir_, "/override");  // after the file
  EXPECT_EQ(workers_, 7);             // the nested file, after --workers=2
  EXPECT_TRUE(eval_);
  EXPECT_THAT(*positional, ElementsAre("pos"));

  Args spaces({"prog", "--flagfile=" + outer});
  ASSERT_TRUE(flags_.Parse(spaces.argc(), spaces.argv()).ok());
  EXPECT_EQ(data_dir_, "/var/lib/isobar data");  // the rest of the line, inner spaces kept
}

TEST_F(FlagsTest, AFlagFileThatIsMissingMalformedOrEndlessIsRefused) {
  Args missing({"prog", "--flagfile=/no/such/file"});
  EXPECT_THAT(flags_.Parse(missing.argc(), missing.argv()).status().message(), HasSubstr("cannot read it"));
  const std::string bare = FlagFile("bare.flags", "--workers=1\npostgres-url=postgres://ann:secret@db/isobar\n");
  Args malformed({"prog", "--flagfile=" + bare});
  const std::string message(flags_.Parse(malformed.argc(), malformed.argv()).status().message());
  EXPECT_THAT(message, HasSubstr("bare.flags:2: not a flag"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("secret")));  // the line is not repeated
  const std::string loop = absl::StrCat(::testing::TempDir(), "/loop.flags");
  std::ofstream(loop) << "--flagfile=" << loop << "\n";
  Args endless({"prog", "--flagfile=" + loop});
  EXPECT_THAT(flags_.Parse(endless.argc(), endless.argv()).status().message(), HasSubstr("nest more than 8"));
  const std::string unknown = FlagFile("unknown.flags", "--nope=1\n");
  Args unknown_flag({"prog", "--flagfile=" + unknown});
  EXPECT_EQ(flags_.Parse(unknown_flag.argc(), unknown_flag.argv()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FlagsTest, TheEnvironmentSetsFlagsBeforeTheCommandLine) {
  flags_.SetEnvironmentPrefix("ISOBAR_TEST_");
  EXPECT_EQ(flags_.EnvironmentName("data-dir"), "ISOBAR_TEST_DATA_DIR");
  setenv("ISOBAR_TEST_DATA_DIR", "/from/env", 1);
  setenv("ISOBAR_TEST_WORKERS", "5", 1);
  setenv("ISOBAR_TEST_ENABLE_EVAL", "true", 1);
  Args args({"prog", "--workers=9"});
  ASSERT_TRUE(flags_.Parse(args.argc(), args.argv()).ok());
  EXPECT_EQ(data_dir_, "/from/env");
  EXPECT_EQ(workers_, 9);  // the command line wins
  EXPECT_TRUE(eval_);
  setenv("ISOBAR_TEST_WORKERS", "many", 1);
  absl::Status bad = flags_.Parse(args.argc(), args.argv()).status();
  EXPECT_THAT(bad.message(), HasSubstr("ISOBAR_TEST_WORKERS takes a whole number"));
  Args help({"prog", "--help"});
  EXPECT_THAT(flags_.Parse(help.argc(), help.argv()).status().message(), HasSubstr("      env ISOBAR_TEST_DATA_DIR\n"));
  for (const char* name : {"ISOBAR_TEST_DATA_DIR", "ISOBAR_TEST_WORKERS", "ISOBAR_TEST_ENABLE_EVAL"}) unsetenv(name);
}

}  // namespace
}  // namespace isobar
