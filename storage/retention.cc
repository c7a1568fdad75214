#include "storage/retention.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

// Each statement deletes at most $3 rows, each chosen once (EXISTS, not a join: a join would list a
// row once per newer row, and a short batch would then look like the last one). "Hidden" means any
// newer row of the same document or key at or before the horizon, not just the next one: deleting in
// batches removes links of a chain, and the criterion must not depend on them.
constexpr char kSupersededDocuments[] = R"sql(
    DELETE FROM isobar.documents WHERE ctid IN (
      SELECT d.ctid FROM isobar.documents d
      WHERE d.deployment_id = $1 AND EXISTS (
        SELECT 1 FROM isobar.documents newer
        WHERE newer.deployment_id = d.deployment_id AND newer.table_number = d.table_number
          AND newer.id = d.id AND newer.ts > d.ts AND newer.ts <= $2)
      LIMIT $3))sql";
constexpr char kOldTombstones[] = R"sql(
    DELETE FROM isobar.documents WHERE ctid IN (
      SELECT ctid FROM isobar.documents
      WHERE deployment_id = $1 AND deleted AND ts <= $2
        AND ts < (SELECT max(ts) FROM isobar.documents WHERE deployment_id = $1) LIMIT $3))sql";
constexpr char kHiddenIndexEntries[] = R"sql(
    DELETE FROM isobar.index_entries WHERE ctid IN (
      SELECT e.ctid FROM isobar.index_entries e
      WHERE e.deployment_id = $1 AND EXISTS (
        SELECT 1 FROM isobar.index_entries newer
        WHERE newer.deployment_id = e.deployment_id AND newer.index_id = e.index_id AND newer.key = e.key
          AND newer.ts > e.ts AND newer.ts <= $2)
      LIMIT $3))sql";
constexpr char kIndexTombstones[] = R"sql(
    DELETE FROM isobar.index_entries WHERE ctid IN (
      SELECT ctid FROM isobar.index_entries
      WHERE deployment_id = $1 AND deleted AND ts <= $2 LIMIT $3))sql";

}  // namespace

absl::StatusOr<int64_t> Retention::DeleteInBatches(const char* sql, Timestamp horizon) {
  int64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
    ASSIGN_OR_RETURN(PgResult r, conn->Exec(sql, {absl::StrCat(deployment_.value()), absl::StrCat(horizon.value()),
                                                  absl::StrCat(batch_)}));
    total += r.affected_rows();
    if (r.affected_rows() < batch_) return total;
  }
}

absl::StatusOr<RetentionStats> Retention::Collect(Timestamp horizon) {
  RetentionStats stats;
  // Order matters if we stop half-way: entries hidden by newer ones go first (every entry of a
  // superseded revision is hidden), then index tombstones (harmless once nothing older remains), then
  // superseded revisions, then document tombstones.
  ASSIGN_OR_RETURN(int64_t hidden, DeleteInBatches(kHiddenIndexEntries, horizon));
  ASSIGN_OR_RETURN(int64_t index_tombstones, DeleteInBatches(kIndexTombstones, horizon));
  ASSIGN_OR_RETURN(int64_t superseded, DeleteInBatches(kSupersededDocuments, horizon));
  ASSIGN_OR_RETURN(int64_t tombstones, DeleteInBatches(kOldTombstones, horizon));
  stats.index_entries_deleted = hidden + index_tombstones;
  stats.documents_deleted = superseded + tombstones;
  return stats;
}

}  // namespace isobar::storage
