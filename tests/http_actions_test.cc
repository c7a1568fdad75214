// HTTP actions (convex/http.ts) end to end: a real supervisor, workers and PostgreSQL serve the site
// test app's router at its site URL, and Node's fetch and http modules call it as a browser or curl
// would (tests/clients/http_actions_client.js holds the checks).
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

TEST(HttpActionsTest, RoutesBodiesFailuresAndLimits) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("site", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("bare", "tests/apps/chat.modules").ok());
  ShellResult client = RunShell(absl::StrCat("node ", Runfile("tests/clients/http_actions_client.js"), " ",
                                             supervisor.site_url(), "/d/site ", supervisor.site_url(), "/d/bare 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("http actions client: ok"));
}

}  // namespace
}  // namespace isobar::testing
