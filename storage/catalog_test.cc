#include "storage/catalog.h"

#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class CatalogTest : public ::testing::Test {
 protected:
  PgPool& pool_ = testing::SharedPostgres().pool();
  Catalog catalog_{pool_};
};

TEST_F(CatalogTest, Deployments) {
  absl::StatusOr<DeploymentInfo> d = catalog_.CreateDeployment("chat-app");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->cursor_key.size(), 32u);
  EXPECT_EQ(catalog_.CreateDeployment("chat-app").status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<DeploymentInfo> again = catalog_.GetDeployment("chat-app");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, d->id);
  EXPECT_EQ(again->cursor_key, d->cursor_key);
  EXPECT_EQ(catalog_.GetDeployment("nope").status().code(), absl::StatusCode::kNotFound);
  for (const std::string& bad : {std::string(""), std::string("Chat"), std::string("a b"),
                                 std::string("x'; DROP TABLE isobar.deployments; --"), std::string("../etc"),
                                 std::string("a\0b", 3)}) {
    EXPECT_EQ(catalog_.CreateDeployment(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(CatalogTest, TablesAreNumberedFrom10001WithBuiltInIndexes) {
  DeploymentId d = testing::NewDeployment(pool_);
  absl::StatusOr<TableInfo> messages = catalog_.GetOrCreateTable(d, "messages");
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(messages->number.value(), 10001u);
  EXPECT_EQ(catalog_.GetOrCreateTable(d, "users")->number.value(), 10002u);
  EXPECT_EQ(catalog_.GetOrCreateTable(d, "messages")->number.value(), 10001u);
  EXPECT_EQ((*catalog_.FindTable(d, TableNumber(10002)))->name, "users");
  EXPECT_FALSE(catalog_.FindTable(d, "ghosts")->has_value());
  // Another deployment numbers its own tables.
  DeploymentId other = testing::NewDeployment(pool_);
  EXPECT_EQ(catalog_.GetOrCreateTable(other, "users")->number.value(), 10001u);

  std::vector<IndexInfo> indexes = *catalog_.ListIndexes(d, messages->number);
  ASSERT_EQ(indexes.size(), 2u);
  EXPECT_EQ(indexes[0].name, "by_id");
  EXPECT_THAT(indexes[0].fields, ElementsAre("_id"));
  EXPECT_EQ(indexes[1].name, "by_creation_time");
  EXPECT_THAT(indexes[1].fields, ElementsAre("_creationTime", "_id"));
}

TEST_F(CatalogTest, SystemTablesHaveFixedNumbersAndTheirIndexes) {
  DeploymentId d = testing::NewDeployment(pool_);
  ASSERT_TRUE(catalog_.GetOrCreateTable(d, "messages").ok());
  absl::StatusOr<TableInfo> jobs = catalog_.GetOrCreateTable(d, "_scheduled_functions");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->number.value(), 1u);
  std::vector<IndexInfo> indexes = *catalog_.ListIndexes(d, jobs->number);
  ASSERT_EQ(indexes.size(), 3u);
  EXPECT_EQ(indexes[2].name, "by_state");
  EXPECT_THAT(indexes[2].fields, ElementsAre("state.kind", "scheduledTime", "_creationTime", "_id"));
  EXPECT_EQ(catalog_.GetOrCreateTable(d, "_idempotency_keys")->number.value(), 2u);
  // User tables still count from 10001.
  EXPECT_EQ(catalog_.GetOrCreateTable(d, "users")->number.value(), 10002u);
}

TEST_F(CatalogTest, DroppedIndexesKeepTheirIdsAndFreeTheirNames) {
  DeploymentId d = testing::NewDeployment(pool_);
  TableNumber t = catalog_.GetOrCreateTable(d, "messages")->number;
  absl::StatusOr<IndexInfo> first = catalog_.CreateIndex(d, t, "by_author", {"author"}, false);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->ready);
  ASSERT_TRUE(catalog_.SetIndexReady(d, first->id).ok());
  EXPECT_EQ(catalog_.SetIndexReady(d, first->id).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(catalog_.DropIndex(d, first->id).ok());
  EXPECT_EQ(catalog_.ListIndexes(d, t)->size(), 2u);
  absl::StatusOr<IndexInfo> second = catalog_.CreateIndex(d, t, "by_author", {"body"}, true);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->id.value(), first->id.value());
  // The built-in indexes cannot be dropped.
  EXPECT_EQ(catalog_.DropIndex(d, catalog_.ListIndexes(d, t)->at(0).id).code(), absl::StatusCode::kNotFound);
}

TEST_F(CatalogTest, UserIndexesGetCreationTimeAndIdAppended) {
  DeploymentId d = testing::NewDeployment(pool_);
  TableNumber t = catalog_.GetOrCreateTable(d, "messages")->number;
  absl::StatusOr<IndexInfo> index = catalog_.CreateIndex(d, t, "by_author", {"author", "meta.lang"}, true);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_THAT(index->fields, ElementsAre("author", "meta.lang", "_creationTime", "_id"));
  EXPECT_EQ(catalog_.CreateIndex(d, t, "by_author", {"x"}, true).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_.CreateIndex(d, t, "by_id", {"x"}, true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_.CreateIndex(d, t, "bad", {"_id"}, true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_.CreateIndex(d, t, "bad", {"a,b"}, true).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_.ListIndexes(d, t)->size(), 3u);
}

TEST_F(CatalogTest, NamesAreValidatedBeforeAnyQuery) {
  DeploymentId d = testing::NewDeployment(pool_);
  for (const std::string& bad : {std::string(""), std::string("1abc"), std::string("a-b"), std::string("___"),
                                 std::string("other_tenant.docs"), std::string("../x"),
                                 std::string("x\"; DROP TABLE t; --"), std::string("t\0x", 3), std::string(65, 'a')}) {
    absl::Status status = catalog_.GetOrCreateTable(d, bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  absl::Status system = catalog_.GetOrCreateTable(d, "_made_up_system_table").status();
  EXPECT_EQ(system.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(system.message(), HasSubstr("read-only"));
}

TEST_F(CatalogTest, EnvironmentVariables) {
  DeploymentId d = testing::NewDeployment(pool_);
  EXPECT_FALSE(catalog_.GetEnv(d, "API_KEY")->has_value());
  ASSERT_TRUE(catalog_.SetEnv(d, "API_KEY", "s3cret'\"").ok());
  ASSERT_TRUE(catalog_.SetEnv(d, "API_KEY", "v2").ok());
  EXPECT_EQ(**catalog_.GetEnv(d, "API_KEY"), "v2");
  EXPECT_FALSE(catalog_.GetEnv(testing::NewDeployment(pool_), "API_KEY")->has_value());
  EXPECT_EQ(catalog_.SetEnv(d, "bad name", "x").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(catalog_.SetEnv(d, "A_FIRST", "1").ok());
  // Byte order, whatever the cluster's collation: 'P' (0x50) sorts before '_' (0x5f).
  EXPECT_THAT(*catalog_.ListEnv(d), ElementsAre(Pair("API_KEY", "v2"), Pair("A_FIRST", "1")));
}

}  // namespace
}  // namespace isobar::storage
