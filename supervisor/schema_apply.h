// Deploy-time application of a pushed schema (CONVEX_ABI.md §7) to a live deployment: its index
// definitions are checked as Convex checks them; with schemaValidation, every existing document must
// match its table's validator (the error names the first offending documents); then each table's
// indexes are made to match the schema: new ones are added and backfilled, changed ones rebuilt,
// removed ones dropped (storage/schema_change.h). Nothing changes when a check fails.
#ifndef ISOBAR_SUPERVISOR_SCHEMA_APPLY_H_
#define ISOBAR_SUPERVISOR_SCHEMA_APPLY_H_

#include "absl/status/status.h"
#include "supervisor/code_version.h"
#include "supervisor/live_deployments.h"

namespace isobar::supervisor {

inline constexpr size_t kMaxIndexesPerTable = 32;

// INVALID_ARGUMENT for a malformed schema or documents that do not match it.
absl::Status ApplySchema(LiveDeployment& deployment, const Schema& schema);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_SCHEMA_APPLY_H_
