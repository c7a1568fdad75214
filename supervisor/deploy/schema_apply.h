// Deploy-time application of a pushed schema (CONVEX_ABI.md §7) to a live deployment: its index
// definitions are checked as Convex checks them; with schemaValidation, every existing document must
// match its table's validator (the error names the first offending documents); then each table's
// indexes are made to match the schema: new ones are added and backfilled, changed ones rebuilt,
// removed ones dropped (storage/schema_change.h). Nothing changes when a check fails.
//
// Bounded as Convex bounds it: at most kMaxTables tables in the deployment (existing and new),
// kMaxIndexesPerTable indexes per table, kMaxIndexFields fields per index (Convex's words in each
// error). Indexes of existing tables are added (and backfilled) one by one; tables the schema brings
// come last, all together in one transaction (storage::Catalog::CreateTables). The work stops once
// `cancelled` says so (the push's deadline passed or its client went away), between indexes and
// between pages of a backfill: indexes added by then stay (one cut short is not ready), the new
// tables are not created, and the next push reconciles.
#ifndef ISOBAR_SUPERVISOR_DEPLOY_SCHEMA_APPLY_H_
#define ISOBAR_SUPERVISOR_DEPLOY_SCHEMA_APPLY_H_

#include <functional>

#include "absl/status/status.h"
#include "supervisor/deploy/code_version.h"
#include "supervisor/deploy/live_deployments.h"

namespace isobar::supervisor {

// Convex's MAX_INDEXES_PER_TABLE, MAX_INDEX_FIELDS_SIZE and MAX_USER_TABLES.
inline constexpr size_t kMaxIndexesPerTable = 64;
inline constexpr size_t kMaxIndexFields = 16;
inline constexpr size_t kMaxTables = 10000;

// INVALID_ARGUMENT for a malformed schema or documents that do not match it; what `cancelled`
// returned when it returned an error.
absl::Status ApplySchema(LiveDeployment& deployment, const Schema& schema,
                         const std::function<absl::Status()>& cancelled = [] { return absl::OkStatus(); });

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_SCHEMA_APPLY_H_
