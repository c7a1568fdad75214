#include "storage/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

struct Migration {
  int version;
  const char* description;
  std::vector<const char*> statements;
};

const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1,
       "echo log for the walking skeleton's isobar/echo host call",
       {R"sql(
          CREATE TABLE isobar.echo_log (
            id         bigserial   PRIMARY KEY,
            worker_id  integer     NOT NULL,
            payload    text        NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
          ))sql"}},
  };
  return *migrations;
}

// Any fixed number: the key of the advisory lock that serialises migrators.
constexpr char kMigrationLockKey[] = "7306025516120184321";

absl::Status RollbackQuietly(PgConn& conn, absl::Status status) {
  absl::StatusOr<PgResult> ignored = conn.Exec("ROLLBACK");
  (void)ignored;
  return status;
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> ApplyMigrations(PgConn& conn) {
  RETURN_IF_ERROR(conn.Exec("CREATE SCHEMA IF NOT EXISTS isobar"));
  RETURN_IF_ERROR(conn.Exec(R"sql(
      CREATE TABLE IF NOT EXISTS isobar.schema_migrations (
        version     integer     PRIMARY KEY,
        description text        NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      ))sql"));
  int applied = 0;
  for (const Migration& migration : Migrations()) {
    RETURN_IF_ERROR(conn.Exec("BEGIN"));
    absl::StatusOr<PgResult> step = conn.Exec("SELECT pg_advisory_xact_lock($1::bigint)", {kMigrationLockKey});
    if (!step.ok()) return RollbackQuietly(conn, step.status());
    step = conn.Exec("SELECT 1 FROM isobar.schema_migrations WHERE version = $1",
                     {absl::StrCat(migration.version)});
    if (!step.ok()) return RollbackQuietly(conn, step.status());
    if (step->rows() > 0) {
      RETURN_IF_ERROR(conn.Exec("COMMIT"));
      continue;
    }
    for (const char* statement : migration.statements) {
      step = conn.Exec(statement);
      if (!step.ok()) {
        return RollbackQuietly(
            conn, absl::Status(step.status().code(), absl::StrCat("migration ", migration.version, " (",
                                                                  migration.description,
                                                                  ") failed: ", step.status().message())));
      }
    }
    step = conn.Exec("INSERT INTO isobar.schema_migrations (version, description) VALUES ($1, $2)",
                     {absl::StrCat(migration.version), migration.description});
    if (!step.ok()) return RollbackQuietly(conn, step.status());
    RETURN_IF_ERROR(conn.Exec("COMMIT"));
    ++applied;
  }
  return applied;
}

}  // namespace isobar::storage
