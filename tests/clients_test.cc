// Clients in other languages call a real supervisor (embedded PostgreSQL, sandboxed workers) running
// the chat test app: a Python client (Debian's python3-grpcio, stubs generated from proto/ by
// //proto:api_py) and a Node.js client (@grpc/grpc-js and @grpc/proto-loader reading proto/). Each
// script checks results, pagination, an action and ErrorDetail trailers itself, and says "ok". The
// `convex` npm package's own ConvexHttpClient checks the Convex HTTP API the same way.
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

class ClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 1});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    delete supervisor_;
    supervisor_ = nullptr;
  }

  // The runfiles tree: <runfiles>/isobar/... and <runfiles>/npm_deps/...
  static std::string Runfiles() { return std::filesystem::current_path().parent_path().string(); }

  static SupervisorProcess* supervisor_;
};

SupervisorProcess* ClientsTest::supervisor_ = nullptr;

TEST_F(ClientsTest, PythonClient) {
  absl::StatusOr<std::string> key = supervisor_->Deploy("python", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  // Debian's interpreter, which has Debian's grpcio (not whatever python3 comes first on PATH).
  ShellResult client = RunShell(absl::StrCat("PYTHONPATH=", Runfile("proto"), " /usr/bin/python3 ",
                                             Runfile("tests/clients/python_client.py"), " ", supervisor_->address(),
                                             " python ", *key, " 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_THAT(client.out, ::testing::HasSubstr("python client: ok"));
}

TEST_F(ClientsTest, NodeClient) {
  absl::StatusOr<std::string> key = supervisor_->Deploy("node", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  ShellResult client = RunShell(absl::StrCat("NODE_PATH=", Runfiles(), "/npm_deps/node_modules node ",
                                             Runfile("tests/clients/node_client.js"), " ", supervisor_->address(),
                                             " node ", *key, " ", Runfile("proto"), " 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_THAT(client.out, ::testing::HasSubstr("node client: ok"));
}

// The unmodified `convex` npm package's ConvexHttpClient (and raw fetch) against the Convex HTTP API,
// at the deployment's client URL: <http_url>/d/<deployment>.
TEST_F(ClientsTest, ConvexHttpClient) {
  std::string admin_key;
  absl::StatusOr<std::string> key = supervisor_->Deploy("convex-http", "tests/apps/chat.modules", &admin_key);
  ASSERT_TRUE(key.ok()) << key.status();
  ShellResult client = RunShell(absl::StrCat("NODE_PATH=", Runfiles(), "/npm_deps/node_modules node ",
                                             Runfile("tests/clients/convex_http_client.js"), " ",
                                             supervisor_->http_url(), "/d/convex-http ", admin_key, " 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_THAT(client.out, ::testing::HasSubstr("convex http client: ok"));
}

// The unmodified `convex` npm package's ConvexClient over the sync protocol (WebSocket): live
// queries updated by another client's mutation, read-your-writes, errors, actions, admin identity.
TEST_F(ClientsTest, ConvexSyncClient) {
  std::string admin_key;
  absl::StatusOr<std::string> key = supervisor_->Deploy("convex-sync", "tests/apps/chat.modules", &admin_key);
  ASSERT_TRUE(key.ok()) << key.status();
  ShellResult client = RunShell(absl::StrCat("NODE_PATH=", Runfiles(), "/npm_deps/node_modules timeout 120 node ",
                                             Runfile("tests/clients/convex_sync_client.js"), " ",
                                             supervisor_->http_url(), "/d/convex-sync ", admin_key, " 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out;
  EXPECT_THAT(client.out, ::testing::HasSubstr("convex sync client: ok"));
}

}  // namespace
}  // namespace isobar::testing
