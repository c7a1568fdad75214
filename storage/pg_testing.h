// A real PostgreSQL for storage tests: one embedded cluster per test binary, in a fresh /tmp directory,
// migrated to the newest schema. Tests create their own deployments, so they do not see each other.
//
//   storage::PgPool& pool = storage::testing::SharedPostgres().pool();
#ifndef ISOBAR_STORAGE_PG_TESTING_H_
#define ISOBAR_STORAGE_PG_TESTING_H_

#include <memory>
#include <string>

#include "base/testing/temp_dir.h"
#include "storage/embedded_postgres.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage::testing {

class TestPostgres {
 public:
  TestPostgres();  // aborts the test binary if PostgreSQL cannot start
  PgPool& pool() { return *pool_; }
  EmbeddedPostgres& server() { return *server_; }
  const std::string& conninfo() const { return server_->conninfo(); }

 private:
  isobar::testing::TempDir dir_;
  std::unique_ptr<EmbeddedPostgres> server_;
  std::unique_ptr<PgPool> pool_;
};

TestPostgres& SharedPostgres();

// A new deployment with a unique name, for one test.
DeploymentId NewDeployment(PgPool& pool);

}  // namespace isobar::storage::testing

#endif  // ISOBAR_STORAGE_PG_TESTING_H_
