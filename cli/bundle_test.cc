// Bundling as the Convex CLI does, with the real pinned esbuild and the convex npm package.
#include "cli/bundle.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::cli {
namespace {

namespace fs = std::filesystem;

std::string Runfiles() { return fs::current_path().parent_path().string(); }  // <runfiles>, from <runfiles>/isobar

TEST(BundleTest, EntryPointsFollowTheConvexCli) {
  const fs::path dir = fs::temp_directory_path() / ("isobar-entries-" + std::to_string(getpid()));
  for (const char* file : {"messages.ts", "http.js", "schema.ts", "nested/util.js", "_generated/server.js",
                           ".hidden.js", "a.test.ts", "with space.js", "notes.md", "lib/.private/x.js"}) {
    fs::create_directories((dir / file).parent_path());
    std::ofstream(dir / file) << "export const x = 1;\n";
  }
  absl::StatusOr<std::vector<std::string>> entries = ConvexEntryPoints(dir.string());
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(*entries, ::testing::ElementsAre("http.js", "messages.ts", "nested/util.js", "schema.ts"));
  fs::remove_all(dir);
  EXPECT_EQ(ConvexEntryPoints("/nonexistent/convex").status().code(), absl::StatusCode::kNotFound);
}

TEST(BundleTest, BundlesARealAppIntoModulesAndSharedChunks) {
  absl::StatusOr<std::vector<BundledModule>> modules =
      BundleConvexDir("tests/apps/abi/convex", Runfiles() + "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild",
                      Runfiles() + "/npm_deps/node_modules");
  ASSERT_TRUE(modules.ok()) << modules.status();
  std::vector<std::string> paths;
  bool chunk_imported = false;
  for (const BundledModule& m : *modules) {
    paths.push_back(m.path);
    if (m.path == "messages.js") chunk_imported = absl::StrContains(m.source, "from \"./_deps/");
  }
  EXPECT_THAT(paths, ::testing::IsSupersetOf({"crons.js", "http.js", "messages.js", "schema.js"}));
  EXPECT_TRUE(absl::StartsWith(paths[0], "_deps/")) << paths[0];
  EXPECT_TRUE(chunk_imported);
}

TEST(BundleTest, BuildErrorsAreReported) {
  const fs::path dir = fs::temp_directory_path() / ("isobar-broken-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "broken.js") << "export const = ;\n";
  absl::StatusOr<std::vector<BundledModule>> modules = BundleConvexDir(
      dir.string(), Runfiles() + "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild", "");
  EXPECT_EQ(modules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(modules.status().message(), ::testing::HasSubstr("broken.js"));
  fs::remove_all(dir);
  EXPECT_EQ(BundleConvexDir("tests/apps/abi/convex", "/nonexistent/esbuild", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace isobar::cli
