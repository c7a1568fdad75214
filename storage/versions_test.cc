// Deployment versions on a real PostgreSQL: sources by content, versions numbered and switched
// atomically, module checks.
#include "storage/versions.h"

#include "base/sha256.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

ModuleInfo Module(const std::string& path, const std::string& source, const std::string& map = "") {
  return ModuleInfo{path, Sha256(source), source, map};
}

TEST(VersionsTest, PublishStoresByContentAndSwitchesTheActiveVersion) {
  PgPool& pool = testing::SharedPostgres().pool();
  Versions versions(pool);
  DeploymentId d = testing::NewDeployment(pool);
  EXPECT_FALSE(versions.Active(d, true)->has_value());
  const std::vector<ModuleInfo> v1 = {Module("messages.js", "export const f = 1;"),
                                      Module("_deps/AB12.js", "export const x = 1;", "{\"version\":3}")};
  absl::StatusOr<int64_t> first = versions.Publish(d, v1, R"({"functions":[]})");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1);
  std::optional<VersionInfo> active = *versions.Active(d, /*with_sources=*/true);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->version, 1);
  EXPECT_EQ(active->analysis_json, R"({"functions": []})");  // as jsonb prints it
  ASSERT_EQ(active->modules.size(), 2u);
  EXPECT_EQ(active->modules[0].path, "_deps/AB12.js");  // by path, bytewise
  EXPECT_EQ(active->modules[0].source_map, "{\"version\":3}");
  EXPECT_EQ(active->modules[1].source, "export const f = 1;");
  EXPECT_EQ(active->modules[1].sha256, Sha256("export const f = 1;"));
  EXPECT_EQ(active->context_policy, "");  // none chosen: the server's default

  // The next push shares the unchanged chunk's stored source and becomes version 2.
  const std::vector<ModuleInfo> v2 = {Module("messages.js", "export const f = 2;"), v1[1]};
  ASSERT_EQ(*versions.Publish(d, v2, "{}", "warm"), 2);
  active = *versions.Active(d, /*with_sources=*/false);
  EXPECT_EQ(active->version, 2);
  EXPECT_EQ(active->context_policy, "warm");
  EXPECT_EQ(active->modules[1].sha256, Sha256("export const f = 2;"));
  EXPECT_TRUE(active->modules[1].source.empty());
  PgPool::Lease conn = *pool.Acquire();
  EXPECT_EQ(conn->Exec("SELECT count(*) FROM isobar.module_sources WHERE deployment_id = $1", {absl::StrCat(d.value())})
                ->GetInt(0, 0),
            3);
  // Another deployment has nothing.
  EXPECT_FALSE(versions.Active(testing::NewDeployment(pool), true)->has_value());
}

TEST(VersionsTest, BadModulesAreRefusedAndNothingChanges) {
  PgPool& pool = testing::SharedPostgres().pool();
  Versions versions(pool);
  DeploymentId d = testing::NewDeployment(pool);
  ASSERT_TRUE(versions.Publish(d, {Module("a.js", "1")}, "{}").ok());
  ModuleInfo lying = Module("evil.js", "x");
  lying.source = "something else";
  EXPECT_EQ(versions.Publish(d, {lying}, "{}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(versions.Publish(d, {Module("a.js", "1"), Module("a.js", "2")}, "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(versions.Publish(d, {}, "{}").status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"../etc/passwd.js", "/abs.js", "a//b.js", "a/./b.js", "x.ts", "a b.js", ""}) {
    EXPECT_EQ(versions.Publish(d, {Module(bad, "1")}, "{}").status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(versions.Publish(d, {Module("b.js", "1")}, "not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(versions.Publish(d, {Module("b.js", "1")}, "{}", "lukewarm").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*versions.Active(d, false))->version, 1);  // still the first
}

}  // namespace
}  // namespace isobar::storage
