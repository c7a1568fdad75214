// API keys on a real PostgreSQL: made once, stored hashed, valid only for their deployment.
#include "storage/api_keys.h"

#include "base/sha256.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

TEST(ApiKeysTest, KeysAreStoredHashedAndBelongToOneDeployment) {
  PgPool& pool = testing::SharedPostgres().pool();
  ApiKeys keys(pool);
  DeploymentId a = testing::NewDeployment(pool);
  DeploymentId b = testing::NewDeployment(pool);
  absl::StatusOr<std::string> key = keys.Create(a);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 7u + 64u);
  EXPECT_NE(*keys.Create(a), *key);  // random, one per call
  EXPECT_EQ(*keys.Verify(a, *key), KeyScope::kFunctions);
  EXPECT_FALSE(keys.Verify(b, *key)->has_value());  // another deployment's key opens nothing here
  std::string forged = *key;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(keys.Verify(a, forged)->has_value());
  EXPECT_FALSE(keys.Verify(a, "")->has_value());
  EXPECT_FALSE(keys.Verify(a, "isobar_' OR 1=1 --")->has_value());
  EXPECT_EQ(*keys.Count(a), 2);
  // Only the hash is stored.
  PgPool::Lease conn = *pool.Acquire();
  PgResult rows = *conn->Exec("SELECT key_hash FROM isobar.api_keys WHERE deployment_id = $1", {absl::StrCat(a.value())});
  ASSERT_EQ(rows.rows(), 2);
  bool found = false;
  for (int i = 0; i < rows.rows(); ++i) {
    EXPECT_EQ(rows.GetBytes(i, 0).size(), 32u);
    EXPECT_EQ(rows.GetBytes(i, 0).find(*key), std::string::npos);
    found = found || rows.GetBytes(i, 0) == Sha256(*key);
  }
  EXPECT_TRUE(found);
}

TEST(ApiKeysTest, DeploymentAdminKeysSayTheirScope) {
  PgPool& pool = testing::SharedPostgres().pool();
  ApiKeys keys(pool);
  DeploymentId a = testing::NewDeployment(pool);
  DeploymentId b = testing::NewDeployment(pool);
  absl::StatusOr<std::string> admin = keys.Create(a, KeyScope::kDeploymentAdmin);
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(*keys.Verify(a, *admin), KeyScope::kDeploymentAdmin);
  EXPECT_FALSE(keys.Verify(b, *admin)->has_value());
}

}  // namespace
}  // namespace isobar::storage
