#include "storage/pg_testing.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/catalog.h"
#include "storage/migrations.h"

namespace isobar::storage::testing {

TestPostgres::TestPostgres() {
  EmbeddedPostgresOptions options;
  options.data_dir = dir_.path() + "/pg";
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> server = EmbeddedPostgres::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start PostgreSQL: %s\n", server.status().ToString().c_str());
    std::abort();
  }
  server_ = std::move(*server);
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(server_->conninfo());
  absl::StatusOr<int> migrated = conn.ok() ? ApplyMigrations(**conn) : conn.status();
  if (!migrated.ok()) {
    std::fprintf(stderr, "cannot migrate: %s\n", migrated.status().ToString().c_str());
    std::abort();
  }
  pool_ = std::make_unique<PgPool>(server_->conninfo(), 8);
}

TestPostgres& SharedPostgres() {
  // Destroyed at exit: the pool closes, PostgreSQL stops, and the temporary directory goes away.
  static TestPostgres postgres;
  return postgres;
}

DeploymentId NewDeployment(PgPool& pool) {
  static std::atomic<int> counter{0};
  Catalog catalog(pool);
  absl::StatusOr<DeploymentInfo> d = catalog.CreateDeployment(absl::StrCat("test-", ++counter));
  if (!d.ok()) {
    std::fprintf(stderr, "cannot create a deployment: %s\n", d.status().ToString().c_str());
    std::abort();
  }
  return d->id;
}

}  // namespace isobar::storage::testing
