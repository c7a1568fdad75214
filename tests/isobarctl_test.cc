// isobarctl given odd input, as people type it: every case ends with a message and an exit status of
// 0, 1 (the server said no) or 2 (the command line is wrong), never with a crash or a hang. Before
// issue 14, `isobarctl run m:f` (a module name shorter than ".js") died of std::out_of_range.
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string args;      // after the binary and its server flags; shell-quoted as needed
  int exit_status;
  std::string stderr_has;  // a piece of the message
};

TEST(IsobarctlTest, OddInputEndsWithAMessageAndAStatusNeverACrash) {
  SupervisorProcess supervisor({.workers = 1, .enable_eval = false});
  ASSERT_TRUE(supervisor.Start().ok());
  ASSERT_TRUE(supervisor.Deploy("odd", "tests/apps/board.modules").ok());
  const std::string binary = Runfile("cli/isobarctl");
  const std::string server = absl::StrCat(" --url=", supervisor.address(), " --data-dir=", supervisor.data_dir());
  const std::string long_path(100000, 'm');
  const std::vector<Case> cases = {
      {"--deployment=odd run m:f", 1, "has no function m:f"},
      {"--deployment=odd run ab:list", 1, "has no function ab:list"},
      {"--deployment=odd run :list", 1, "has no function :list"},
      {"--deployment=odd run messages:", 1, "has no function messages:"},
      {"--deployment=odd run :", 1, "has no function :"},
      {"--deployment=odd run ''", 1, "has no function :default"},
      {"--deployment=odd run messages.js:list", 0, ""},
      {"--deployment=odd run messages:list 'not json'", 1, "INVALID_ARGUMENT"},
      {"--deployment=odd run messages:list '[1,2]'", 1, "INVALID_ARGUMENT"},
      {absl::StrCat("--deployment=odd run ", long_path, ":f"), 1, "has no function"},
      {"--deployment=odd run", 2, "usage: isobarctl --deployment=NAME run PATH"},
      {"--deployment=odd run a b c d", 2, "usage"},
      {"run messages:list", 2, "usage"},  // no deployment
      {"--deployment=nowhere run messages:list", 1, "NOT_FOUND"},
      {"--deployment=odd watch", 2, "usage"},
      {"eval", 2, ""},
      {"deployments create", 2, ""},
      {"deployments create 'BAD NAME'", 1, "INVALID_ARGUMENT"},
      {"deployments frobnicate x", 2, ""},
      {"--deployment=odd env set ONLY_A_NAME", 2, ""},
      {"--deployment=odd deploy /nonexistent/convex", 1, "/nonexistent/convex"},
      {"frobnicate", 2, "unknown command 'frobnicate'"},
      {"--no-such-flag ping", 2, "no-such-flag"},
      {"", 2, "isobarctl"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args.substr(0, 120));
    ShellResult result = RunShell(absl::StrCat(binary, server, " ", c.args, " 2>&1 >/dev/null </dev/null"));
    ASSERT_TRUE(WIFEXITED(result.status)) << "the shell itself did not exit";
    EXPECT_EQ(WEXITSTATUS(result.status), c.exit_status) << result.out.substr(0, 2000);
    EXPECT_THAT(result.out, HasSubstr(c.stderr_has));
    EXPECT_THAT(result.out, ::testing::Not(HasSubstr("terminate called"))) << "an exception escaped";
  }
  // No server at all: a message, not a hang or a crash.
  ShellResult away = RunShell(absl::StrCat(binary, " --url=127.0.0.1:1 --data-dir=/nonexistent ping 2>&1 >/dev/null"));
  ASSERT_TRUE(WIFEXITED(away.status));
  EXPECT_EQ(WEXITSTATUS(away.status), 1);
  EXPECT_THAT(away.out, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace isobar::testing
