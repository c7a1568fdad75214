// The operator's documentation keeps up with the supervisor (issue 21, item 4): every flag that
// `supervisor --help` lists is described in deploy/README.md, --help exits 0 and lists the flag file
// and environment forms, and a flag file and the environment configure a real supervisor.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

std::set<std::string> HelpFlags(const std::string& help) {
  std::set<std::string> flags;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (!absl::ConsumePrefix(&line, "  --")) continue;
    flags.insert(std::string(line.substr(0, line.find_first_of("= "))));
  }
  return flags;
}

TEST(FlagsDocumentedTest, EveryFlagOfTheSupervisorIsInDeployReadme) {
  ShellResult help = RunShell(absl::StrCat(Runfile("supervisor/supervisor"), " --help 2>&1"));
  ASSERT_EQ(help.status, 0) << help.out;
  const std::set<std::string> flags = HelpFlags(help.out);
  ASSERT_GT(flags.size(), 30u) << help.out;
  EXPECT_TRUE(flags.count("flagfile")) << help.out;
  EXPECT_THAT(help.out, HasSubstr("      env ISOBAR_POSTGRES_URL\n"));
  std::ifstream file(Runfile("deploy/README.md"));
  std::stringstream readme;
  readme << file.rdbuf();
  ASSERT_FALSE(readme.str().empty());
  for (const std::string& flag : flags) {
    EXPECT_TRUE(absl::StrContains(readme.str(), absl::StrCat("`--", flag, "`"))) << "deploy/README.md does not describe --" << flag;
  }
}

// A flag file and the environment configure a supervisor as its command line would; a bad one stops
// it at once, naming the line.
TEST(FlagsDocumentedTest, AFlagFileAndTheEnvironmentConfigureASupervisor) {
  const std::string dir = ::testing::TempDir();
  const std::string flagfile = dir + "/supervisor.flags";
  std::ofstream(flagfile) << "# test settings\n--workers=1\n--metrics-public\n";
  SupervisorProcess supervisor({.workers = 2, .extra_args = {"--flagfile=" + flagfile}});
  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->workers_size(), 1);  // the file's --workers=1, after the fixture's --workers=2

  std::ofstream(dir + "/bad.flags") << "--workers=1\nworkers 2\n";
  ShellResult bad = RunShell(absl::StrCat(Runfile("supervisor/supervisor"), " --flagfile=", dir, "/bad.flags 2>&1"));
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.out, HasSubstr("bad.flags:2:"));
  ShellResult env = RunShell(absl::StrCat("ISOBAR_WORKERS=many ", Runfile("supervisor/supervisor"), " 2>&1"));
  EXPECT_NE(env.status, 0);
  EXPECT_THAT(env.out, HasSubstr("ISOBAR_WORKERS takes a whole number"));
}

}  // namespace
}  // namespace isobar::testing
