// HTTP actions (convex/http.ts) and file storage end to end: a real supervisor, workers and PostgreSQL
// serve the site test app; Node's fetch and http modules and the convex package's ConvexHttpClient
// call it as a browser or curl would (the scripts in tests/clients/ hold the checks).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "storage/pg_conn.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

// node <tests/clients/script> <args>, with the convex package from the runfiles tree
// (<runfiles>/isobar/... and <runfiles>/npm_deps/...), its output and status.
ShellResult RunClient(absl::string_view script, absl::string_view args) {
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  return RunShell(absl::StrCat("NODE_PATH=", runfiles, "/npm_deps/node_modules node ",
                               Runfile(absl::StrCat("tests/clients/", script)), " ", args, " 2>&1"));
}

// The file storage client against deployments "files" and "files-other" of the site app.
void ExpectFileStorageWorks(SupervisorProcess& supervisor) {
  ASSERT_TRUE(supervisor.Deploy("files", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("files-other", "tests/apps/site.modules").ok());
  ShellResult client = RunClient("file_storage_client.js",
                                 absl::StrCat(supervisor.http_url(), "/d/files ", supervisor.site_url(), "/d/files ",
                                              supervisor.http_url(), "/d/files-other"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("file storage client: ok"));
}

TEST(HttpActionsTest, RoutesBodiesFailuresAndLimits) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("site", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("bare", "tests/apps/chat.modules").ok());
  ShellResult client = RunClient("http_actions_client.js",
                                 absl::StrCat(supervisor.site_url(), "/d/site ", supervisor.site_url(), "/d/bare"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("http actions client: ok"));
}

TEST(HttpActionsTest, StreamedResponsesGoOutAsTheyAreMade) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("site", "tests/apps/site.modules").ok());
  ShellResult client = RunClient("http_stream_client.js", absl::StrCat(supervisor.site_url(), "/d/site"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("http stream client: ok"));
  // The supervisor is still whole: a plain route answers.
  client = RunShell(absl::StrCat("node -e 'fetch(process.argv[1]).then(r => r.text()).then(console.log)' ",
                                 supervisor.site_url(), "/d/site/site-url 2>&1"));
  EXPECT_THAT(client.out, ::testing::HasSubstr("/d/site"));
}

TEST(HttpActionsTest, EachDeploymentHasItsOwnSiteOrigin) {
  SupervisorProcess supervisor({.workers = 1, .extra_args = {"--site-url=http://{deployment}.site.localhost"}});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("site-a", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("site-b", "tests/apps/site.modules").ok());
  ShellResult client = RunClient("site_origin_client.js", absl::StrCat(supervisor.site_url(), " site-a site-b"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
  EXPECT_THAT(client.out, ::testing::HasSubstr("site origin client: ok"));
}

TEST(FileStorageTest, UploadServeStoreDeleteAcrossDeployments) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ExpectFileStorageWorks(supervisor);
}

TEST(FileStorageTest, TheSameWithFilesInADirectory) {
  // --file-dir: the bytes go to the directory, none to PostgreSQL, and everything above holds.
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR") != nullptr ? std::getenv("TEST_TMPDIR") : "/tmp",
                                       "/isobar-files");
  SupervisorProcess supervisor({.workers = 1, .extra_args = {"--file-dir=" + dir}});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ExpectFileStorageWorks(supervisor);
  size_t chunks = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) chunks += entry.is_regular_file();
  EXPECT_GT(chunks, 0u);
  absl::StatusOr<std::unique_ptr<storage::PgConn>> pg = storage::PgConn::Connect(supervisor.pg_conninfo());
  ASSERT_TRUE(pg.ok()) << pg.status();
  absl::StatusOr<storage::PgResult> rows = (*pg)->Exec("SELECT count(*) FROM isobar.file_chunks");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->GetInt(0, 0), 0);
}

// The supervisor's peak resident memory (VmHWM), in bytes.
uint64_t PeakMemory(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    uint64_t kib = 0;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:") && absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib)) {
      return kib << 10;
    }
  }
  ADD_FAILURE() << "no VmHWM for " << pid;
  return 0;
}

// Bytes of uploads not (or no longer) on their way to being files.
int64_t UploadChunks(const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<storage::PgConn>> pg = storage::PgConn::Connect(conninfo);
  EXPECT_TRUE(pg.ok()) << pg.status();
  if (!pg.ok()) return -1;
  absl::StatusOr<storage::PgResult> rows = (*pg)->Exec("SELECT count(*) FROM isobar.file_chunks WHERE file_key LIKE 'upload-%'");
  EXPECT_TRUE(rows.ok()) << rows.status();
  return rows.ok() ? rows->GetInt(0, 0) : -1;
}

TEST(FileStorageTest, LargeFilesStreamThroughInBoundedMemory) {
  SupervisorProcess supervisor({.workers = 1});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(supervisor.Deploy("warm", "tests/apps/site.modules").ok());
  ASSERT_TRUE(supervisor.Deploy("big", "tests/apps/site.modules").ok());
  auto run = [&](const std::string& deployment, uint64_t bytes) {
    ShellResult client =
        RunClient("large_file_client.js", absl::StrCat(supervisor.http_url(), "/d/", deployment, " ", bytes));
    EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor.log();
    EXPECT_THAT(client.out, ::testing::HasSubstr("large file client: ok"));
  };
  // First with 8 MiB, which grows what does not depend on a file's size to its working size (each
  // pooled PostgreSQL connection's buffers hold a chunk or two; malloc keeps freed chunk-sized blocks
  // per thread); then with 64 MiB, which holding the file whole even once would add to the peak.
  run("warm", 8 << 20);
  const uint64_t before = PeakMemory(supervisor.pid());
  constexpr uint64_t kFileBytes = 64 << 20;
  run("big", kFileBytes);
  const uint64_t after = PeakMemory(supervisor.pid());
  std::cout << "supervisor peak resident memory: " << (before >> 20) << " MiB after 8 MiB files, " << (after >> 20)
            << " MiB after 64 MiB files\n";
  EXPECT_LT(after - std::min(after, before), kFileBytes / 2) << "peak resident memory went from " << before << " to " << after;
  // The refused and abandoned uploads left nothing behind. (The abandoned one is cleaned up when the
  // supervisor sees the connection close, which the client does not wait for.)
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int64_t left = UploadChunks(supervisor.pg_conninfo());
  while (left > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    left = UploadChunks(supervisor.pg_conninfo());
  }
  EXPECT_EQ(left, 0);
}

}  // namespace
}  // namespace isobar::testing
