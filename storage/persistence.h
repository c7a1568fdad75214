// The durable part of a deployment's database: an append-only document log and an MVCC index log in
// PostgreSQL (ARCHITECTURE.md §4, CONVEX_SEMANTICS.md §1), for one deployment.
//
//   Persistence persistence(pool, deployment);
//   ASSIGN_OR_RETURN(AcquiredLease lease, AcquireLease(pool, deployment, {}));   // leases.h
//   RETURN_IF_ERROR(persistence.Write({commit_a, commit_b}, lease.epoch));      // one PostgreSQL transaction
//   ASSIGN_OR_RETURN(auto doc, persistence.Get(table, id, ts));           // newest revision <= ts
//   ASSIGN_OR_RETURN(auto rows, persistence.Scan(index, range, Order::kAsc, ts, 100));
//
// Every revision of a document is a row (a deletion is a tombstone row); every index entry is a row
// (key, ts) pointing at the revision that wrote it, or a tombstone when a key stops being current.
// Reads at a timestamp see the newest row <= ts per document or key.
//
// Fencing: a writer first takes the deployment's lease (bumping its epoch). Every Write checks, inside
// its transaction and under a row lock, that the epoch is still its own, so a second writer that
// started later makes the first one's writes fail (FAILED_PRECONDITION "lease lost") rather than
// interleave.
//
// Outcome of a COMMIT that PostgreSQL left unknown (the connection broke): Write returns UNAVAILABLE
// with `ambiguous` set in the error detail; CommitExists(ts) then says whether it happened.
// Thread-safe (each call takes its own pooled connection).
#ifndef ISOBAR_STORAGE_PERSISTENCE_H_
#define ISOBAR_STORAGE_PERSISTENCE_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "storage/document_id.h"
#include "storage/leases.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

using InternalId = std::array<uint8_t, 16>;

struct DocumentWrite {
  TableNumber table;
  InternalId id{};
  std::optional<Timestamp> prev_ts;       // the revision this one supersedes
  std::optional<std::string> value_json;  // Convex JSON of the document; nullopt: deleted
};

struct IndexWrite {
  IndexId index;
  std::string key;   // encoded (index_key.h), including the document id
  bool deleted = false;
  TableNumber table;  // of the document (ignored when deleted)
  InternalId doc{};
};

// An index entry for a document revision that is already committed (index backfill).
struct BackfillEntry {
  IndexId index;
  std::string key;
  Timestamp ts;  // of the revision
  TableNumber table;
  InternalId doc{};
};

struct CommitWrites {
  Timestamp ts;
  std::vector<DocumentWrite> documents;
  std::vector<IndexWrite> index_entries;
};

struct StoredDocument {
  Timestamp ts;                 // of this revision
  std::optional<Timestamp> prev_ts;
  std::string value_json;
};

// Half-open [start, end) over encoded keys; an empty `start` is the lowest key, no `end` is unbounded.
struct KeyRange {
  std::string start;
  std::optional<std::string> end;
  bool operator==(const KeyRange& o) const { return start == o.start && end == o.end; }
};

enum class Order { kAsc, kDesc };

struct IndexRow {
  std::string key;
  TableNumber table;
  InternalId doc{};
  StoredDocument document;
};

class Persistence {
 public:
  // `pool` is not owned and must outlive this.
  Persistence(PgPool& pool, DeploymentId deployment) : pool_(pool), deployment_(deployment) {}

  // All `commits` in one PostgreSQL transaction, in order. Timestamps must be new.
  absl::Status Write(absl::Span<const CommitWrites> commits, LeaseEpoch lease);

  // Adds entries of a new index for revisions committed before it existed. Idempotent.
  absl::Status Backfill(absl::Span<const BackfillEntry> entries);

  // The newest revision of a document at or before `at`; nullopt if none or deleted.
  absl::StatusOr<std::optional<StoredDocument>> Get(TableNumber table, const InternalId& id, Timestamp at);

  // Up to `limit` live entries of `index` in `range` as of `at`, in key order, with their documents.
  absl::StatusOr<std::vector<IndexRow>> Scan(IndexId index, const KeyRange& range, Order order, Timestamp at,
                                             size_t limit);

  // by_id, which has no entries of its own: up to `limit` live documents of `table` as of `at` whose
  // internal ids are in [first, end) (no end: unbounded), in id order, from the document log. Rows
  // carry no key (the caller knows it from the id).
  absl::StatusOr<std::vector<IndexRow>> ScanIds(TableNumber table, const InternalId& first,
                                                const std::optional<InternalId>& end, Order order, Timestamp at,
                                                size_t limit);

  // The newest commit timestamp, or 0 for an empty deployment.
  absl::StatusOr<Timestamp> MaxTimestamp();
  // Whether a commit with this timestamp is durable.
  absl::StatusOr<bool> CommitExists(Timestamp ts);

  DeploymentId deployment() const { return deployment_; }
  PgPool& pool() const { return pool_; }

 private:
  PgPool& pool_;
  const DeploymentId deployment_;
};

// True when a Write error left the COMMIT's outcome unknown.
bool IsAmbiguousCommit(const absl::Status& status);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_PERSISTENCE_H_
