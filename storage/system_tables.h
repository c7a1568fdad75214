// The system tables every deployment may have, with fixed numbers below the user tables' 10001. They
// are created on first use. User code never writes them (Transaction writes them only with
// Access::kSystem); it reads only those Convex exposes through ctx.db.system.
//
//   _scheduled_functions (1): Convex's fields (name, args, scheduledTime, completedTime?, state), the
//                             jobs ctx.scheduler made; index by_state [state.kind, scheduledTime].
//   _idempotency_keys (2):    internal; a mutation's stored result by its client's key; index by_key [key].
//   _cron_jobs (3):           internal; the crons a push registered (name, function, args, schedule).
//   _storage (4):             Convex's fields (sha256: base64, size: float64, contentType?), one per
//                             stored file; the bytes are in file_blobs.h, keyed by the document's id.
#ifndef ISOBAR_STORAGE_SYSTEM_TABLES_H_
#define ISOBAR_STORAGE_SYSTEM_TABLES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "storage/document_id.h"

namespace isobar::storage {

struct SystemTable {
  absl::string_view name;
  uint32_t number;
  bool user_visible;  // readable through ctx.db.system
  // Indexes beyond by_id and by_creation_time: name and declared fields.
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;
};

inline constexpr char kScheduledFunctionsTable[] = "_scheduled_functions";
inline constexpr char kIdempotencyTable[] = "_idempotency_keys";
inline constexpr char kCronJobsTable[] = "_cron_jobs";
inline constexpr char kStorageTable[] = "_storage";

// nullptr for a name that is not a system table.
const SystemTable* FindSystemTable(absl::string_view name);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SYSTEM_TABLES_H_
