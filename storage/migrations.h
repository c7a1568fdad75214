// Versioned schema migrations for Isobar's PostgreSQL schema `isobar`.
//
// Each migration is a numbered list of SQL statements, applied once, in order, in its own transaction,
// and recorded in isobar.schema_migrations. Concurrent callers serialise on an advisory lock, so two
// supervisors starting against one database apply each migration exactly once. Append new migrations
// to the list in migrations.cc; never edit one that has shipped.
#ifndef ISOBAR_STORAGE_MIGRATIONS_H_
#define ISOBAR_STORAGE_MIGRATIONS_H_

#include "absl/status/statusor.h"
#include "storage/pg_conn.h"

namespace isobar::storage {

// Brings the schema up to the newest version. Returns the number of migrations applied now.
absl::StatusOr<int> ApplyMigrations(PgConn& conn);

// The version the newest migration produces.
int LatestSchemaVersion();

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_MIGRATIONS_H_
