// Two pages of a React app (ConvexReactClient, useQuery, useMutation, usePaginatedQuery) in headless
// Chromium against a real supervisor, workers and PostgreSQL: browser_test.js holds the checks and
// leaves screenshots in the test's undeclared outputs (bazel-testlogs/.../test.outputs/).
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

TEST(BrowserTest, ReactAppPostsAndPagesLive) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("wall", "tests/apps/site.modules").ok());
  // The runfiles tree: <runfiles>/isobar/... and <runfiles>/npm_deps/...
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string app = std::filesystem::path(Runfile("tests/browser/app/index.html")).parent_path().string();
  ShellResult driver = RunShell(absl::StrCat("node ", Runfile("tests/browser/browser_test.js"), " ", app, " ", runfiles,
                                             "/npm_deps/node_modules ", supervisor.http_url(), "/d/wall ",
                                             outputs != nullptr ? outputs : "/tmp/isobar-browser-outputs", " 2>&1"));
  EXPECT_EQ(driver.status, 0) << driver.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(driver.out, ::testing::HasSubstr("browser test: ok"));
}

}  // namespace
}  // namespace isobar::testing
