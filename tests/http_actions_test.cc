// HTTP actions (convex/http.ts) and file storage end to end: a real supervisor, workers and PostgreSQL
// serve the site test app; Node's fetch and http modules and the convex package's ConvexHttpClient
// call it as a browser or curl would (tests/clients/http_actions_client.js and file_storage_client.js
// hold the checks).
#include <filesystem>
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

TEST(FileStorageTest, UploadServeStoreDeleteAcrossDeployments) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("files", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("files-other", "tests/apps/site.modules").ok());
  // The runfiles tree: <runfiles>/isobar/... and <runfiles>/npm_deps/...
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  ShellResult client = RunShell(absl::StrCat("NODE_PATH=", runfiles, "/npm_deps/node_modules node ",
                                             Runfile("tests/clients/file_storage_client.js"), " ", supervisor.http_url(),
                                             "/d/files ", supervisor.site_url(), "/d/files ", supervisor.http_url(),
                                             "/d/files-other 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("file storage client: ok"));
}

}  // namespace
}  // namespace isobar::testing
