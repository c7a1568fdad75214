// Bundling as the Convex CLI does, with the real pinned esbuild and the convex npm package.
#include "cli/bundle.h"
#include "cli/source_map_sources.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/classic_bundle.h"
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
  // A copy with real files, as an app is (esbuild names the targets of Bazel's runfile symlinks).
  const fs::path app = fs::temp_directory_path() / ("isobar-app-" + std::to_string(getpid()));
  fs::create_directories(app);
  fs::copy("tests/apps/abi/convex", app / "convex", fs::copy_options::recursive);
  absl::StatusOr<std::vector<BundledModule>> modules =
      BundleConvexDir((app / "convex").string(), Runfiles() + "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild",
                      Runfiles() + "/npm_deps/node_modules");
  fs::remove_all(app);
  ASSERT_TRUE(modules.ok()) << modules.status();
  std::vector<std::string> paths;
  bool chunk_imported = false;
  for (const BundledModule& m : *modules) {
    paths.push_back(m.path);
    if (m.path == "messages.js") {
      chunk_imported = absl::StrContains(m.source, "from \"./_deps/");
      // Sources as Convex's CLI shows them: from out/ beside convex/.
      EXPECT_THAT(m.source_map, ::testing::HasSubstr("\"sources\": [\"../convex/messages.js\"]")) << m.source_map;
      EXPECT_THAT(m.source_map, ::testing::HasSubstr("\"mappings\": \""));
    }
    if (m.path == kClassicBundlePath) {
      // The same modules as one classic script, its map naming sources as the modules' maps do.
      for (const char* module : {"\"crons.js\": ", "\"http.js\": ", "\"messages.js\": ", "\"schema.js\": "}) {
        EXPECT_THAT(m.source, ::testing::HasSubstr(module));
      }
      EXPECT_THAT(m.source, ::testing::HasSubstr(absl::StrCat("globalThis.", kClassicModulesGlobal, " = {")));
      EXPECT_THAT(m.source_map, ::testing::HasSubstr("\"../convex/messages.js\"")) << m.source_map.substr(0, 300);
    } else if (absl::StartsWith(m.path, "_deps/")) {
      EXPECT_THAT(m.source_map, ::testing::HasSubstr("\"../../")) << m.source_map.substr(0, 300);
    }
  }
  EXPECT_THAT(paths, ::testing::IsSupersetOf({"crons.js", "http.js", "messages.js", "schema.js", kClassicBundlePath}));
  EXPECT_TRUE(absl::StartsWith(paths[0], "_deps/")) << paths[0];
  EXPECT_TRUE(chunk_imported);
}

TEST(SourceMapSourcesTest, RewritesOnlyTheSources) {
  const std::string map =
      R"({"version": 3,"file":"m.js", "sources" : ["../../tmp/x/convex/a.ts", "b\u00e9\"c.ts"], "names": ["sources"],)"
      R"( "mappings": "AAAA"})";
  absl::StatusOr<std::string> out = RewriteSources(map, [](const std::string& s) { return "<" + s + ">"; });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, R"({"version": 3,"file":"m.js", "sources" : ["<../../tmp/x/convex/a.ts>", "<bé\"c.ts>"], )"
                  R"("names": ["sources"], "mappings": "AAAA"})");
  absl::StatusOr<std::string> astral =
      RewriteSources(R"({"sources": ["\ud83d\ude00.ts", "\u00e9"]})", [](const std::string& s) { return s; });
  ASSERT_TRUE(astral.ok());
  EXPECT_EQ(*astral, R"({"sources": ["😀.ts", "é"]})");
  for (const char* bad : {"", "[]", R"({"version": 3})", R"({"sources": ["\u00Z0"]})", R"({"sources": ["\ud83d"]})", R"({"sources": "x"})", R"({"sources": [1]})",
                          R"({"sources": ["a")", R"({"names": [], "sources": []})"}) {
    EXPECT_FALSE(RewriteSources(bad, [](const std::string& s) { return s; }).ok()) << bad;
  }
}

TEST(SourceMapSourcesTest, DisplayPathIsRelativeToOutBesideConvex) {
  EXPECT_EQ(DisplayPath("../../home/u/app/convex/messages.ts", "/tmp/bundle-1", "/home/u/app/out"),
            "../convex/messages.ts");
  EXPECT_EQ(DisplayPath("../../../home/u/app/node_modules/convex/dist/x.js", "/tmp/bundle-1/_deps", "/home/u/app/out/_deps"),
            "../../node_modules/convex/dist/x.js");
}

TEST(BundleTest, ModulesWithTopLevelAwaitHaveNoClassicScript) {
  const fs::path dir = fs::temp_directory_path() / ("isobar-tla-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "waits.js") << "export const value = await Promise.resolve(1);\n";
  absl::StatusOr<std::vector<BundledModule>> modules = BundleConvexDir(
      dir.string(), Runfiles() + "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild", "");
  fs::remove_all(dir);
  ASSERT_TRUE(modules.ok()) << modules.status();
  ASSERT_EQ(modules->size(), 1u);
  EXPECT_EQ((*modules)[0].path, "waits.js");
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
