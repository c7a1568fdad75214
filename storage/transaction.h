// One transaction of a deployment: reads at its begin timestamp (seeing its own writes), a read set
// of the key intervals it actually consumed, and one coalesced write per document. The Committer
// validates and commits it (committer.h).
//
//   std::unique_ptr<Transaction> txn = database.Begin();
//   ASSIGN_OR_RETURN(DocumentId id, txn->Insert("messages", fields));
//   ASSIGN_OR_RETURN(std::optional<Value> doc, txn->Get(id));          // sees the insert
//   ASSIGN_OR_RETURN(ScanResult page, txn->Scan(*schema, *index, range, Order::kAsc, 10));
//   ASSIGN_OR_RETURN(Timestamp ts, database.Commit(*txn));
//
// Rules (CONVEX_ABI.md §5, CONVEX_SEMANTICS.md §2): insert assigns _id and _creationTime (the begin
// time in ms, then the next float per insert); patch is a shallow merge where undefined removes a
// field; replace keeps _id and _creationTime; _-prefixed user fields are refused. Limits are Convex's
// defaults and fail with RESOURCE_EXHAUSTED naming the limit. Not thread-safe.
#ifndef ISOBAR_STORAGE_TRANSACTION_H_
#define ISOBAR_STORAGE_TRANSACTION_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/document.h"
#include "storage/persistence.h"
#include "storage/read_set.h"
#include "storage/schema_cache.h"
#include "storage/snapshots.h"

namespace isobar::storage {

struct TransactionLimits {
  size_t max_documents_read = 32000;
  size_t max_bytes_read = 16u << 20;
  size_t max_documents_written = 16000;
  size_t max_bytes_written = 16u << 20;
  size_t max_read_intervals = 4096;
  // Encoded index keys are stored in a PostgreSQL btree, whose rows top out near 2.7 KB; a write whose
  // key for some index is longer is refused (INVALID_ARGUMENT), so it cannot fail a group commit.
  size_t max_index_key_bytes = 2048;
  DocumentLimits document;
};

// One document's pending change, against the committed version the transaction started from.
struct PendingWrite {
  std::shared_ptr<const TableSchema> table;
  std::optional<Value> old_document;  // committed at begin_ts; nullopt for an insert
  std::optional<Timestamp> old_ts;
  std::optional<Value> new_document;  // nullopt: deleted
};

struct ScanResult {
  std::vector<Value> documents;
  std::vector<std::string> keys;  // index key of each document
  bool exhausted = false;         // the range has nothing after the last document
};

// Who writes: user code may not write system tables; the runtime's own bookkeeping (scheduled jobs,
// idempotency records) may.
enum class Access { kUser, kSystem };

class Transaction {
 public:
  // `persistence` and `schemas` are not owned and must outlive the transaction.
  // `snapshot` keeps begin_ts registered as open for as long as the transaction lives. Inserts take
  // _creationTime from `creation_base` (ns; default begin_ts), which should be
  // max(wall clock, begin_ts + 1) as Convex does.
  Transaction(Persistence& persistence, SchemaCache& schemas, Timestamp begin_ts, uint64_t id_seed,
              TransactionLimits limits = {}, SnapshotRegistry::Handle snapshot = {},
              std::optional<Timestamp> creation_base = std::nullopt);

  Timestamp begin_ts() const { return begin_ts_; }
  // The schema cache's generation when the transaction began.
  uint64_t schema_generation() const { return schema_generation_; }
  // True when the schema changed since the transaction began.
  bool schema_changed() const { return schemas_.generation() != schema_generation_; }
  SchemaCache& schemas() { return schemas_; }

  // The table named `name`, or null when it does not exist yet; then the read of its absence is
  // recorded (kTableCatalogIndex), so the commit that creates it conflicts with this transaction.
  absl::StatusOr<std::shared_ptr<const TableSchema>> Table(absl::string_view name);

  // Decodes an id from user code for `operation` ("db.get", ...), checking it against `table` when one
  // is named: INVALID_ARGUMENT "Invalid argument `id` for `db.get`: Unable to decode ID..." or
  // "... expected to be an Id<"a">, got Id<"b"> instead.", as Convex words them.
  absl::StatusOr<DocumentId> ResolveId(absl::string_view operation, absl::string_view id_text,
                                       std::optional<absl::string_view> table);

  // The document, or nullopt (deleted, never existed, or its table does not exist).
  absl::StatusOr<std::optional<Value>> Get(const DocumentId& id);
  // What Get(id) would return now, without reading it: nothing is added to the read set or the
  // counts. For a read made ahead of the function that may ask for it (a prefetch); NotePeeked then
  // records it as Get would have, once it was used.
  absl::StatusOr<std::optional<Value>> Peek(const DocumentId& id);
  absl::Status NotePeeked(const DocumentId& id, const std::optional<Value>& document);
  // Only the read-set entry of a point read of `id` (no counts): for reads that may have been made.
  absl::Status AddPointReadOf(const DocumentId& id);
  absl::StatusOr<DocumentId> Insert(absl::string_view table, const Value& fields, Access access = Access::kUser);
  // A document with the id and creation time it had elsewhere (a snapshot import). The table must exist
  // with the id's number; ALREADY_EXISTS if the id has a document.
  absl::Status InsertImported(absl::string_view table, const DocumentId& id, double creation_time, const Value& fields,
                              Access access = Access::kUser);
  // `patch`: an object; undefined values remove fields. Returns the new document.
  absl::StatusOr<Value> Patch(const DocumentId& id, const Value& patch, Access access = Access::kUser);
  absl::StatusOr<Value> Replace(const DocumentId& id, const Value& fields, Access access = Access::kUser);
  absl::StatusOr<Value> Delete(const DocumentId& id, Access access = Access::kUser);
  // Up to `limit` documents of `index` in `range` in `order`, recording the interval consumed. by_id
  // ranges are served from the document log.
  absl::StatusOr<ScanResult> Scan(std::shared_ptr<const TableSchema> table, const IndexInfo& index,
                                  const KeyRange& range, Order order, size_t limit);

  // Subtransactions (a nested mutation that throws is rolled back): the writes so far, to return to.
  // Reads stay recorded either way.
  struct Savepoint {
    std::map<DocumentId, PendingWrite> writes;
    size_t bytes_written = 0;
    size_t write_count = 0;
    size_t system_write_count = 0;
    size_t system_bytes_written = 0;
  };
  Savepoint Save() const {
    return Savepoint{writes_, bytes_written_, write_count_, system_write_count_, system_bytes_written_};
  }
  void Restore(Savepoint savepoint) {
    writes_ = std::move(savepoint.writes);
    bytes_written_ = savepoint.bytes_written;
    write_count_ = savepoint.write_count;
    system_write_count_ = savepoint.system_write_count;
    system_bytes_written_ = savepoint.system_bytes_written;
  }

  const ReadSet& reads() const { return reads_; }
  const std::map<DocumentId, PendingWrite>& writes() const { return writes_; }
  bool read_only() const { return writes_.empty(); }
  size_t documents_read() const { return documents_read_; }
  size_t bytes_read() const { return bytes_read_; }
  // As Convex counts writes: every insert, patch, replace and delete that changes a document (the same
  // document written twice counts twice), and the sizes of the documents they leave.
  size_t write_count() const { return write_count_; }
  size_t bytes_written() const { return bytes_written_; }

 private:
  using Committed = std::optional<std::pair<Value, Timestamp>>;  // a committed version and its ts

  // A document as this transaction sees it, with what it took to find out.
  struct Lookup {
    std::shared_ptr<const TableSchema> table;  // null: the table does not exist
    std::optional<Value> current;              // nullopt: deleted or never existed
    Committed committed;                       // loaded from the log (not set when already written)
  };

  absl::Status CountRead(const Value& document);
  // A point read of `id` in the read set (`table` null: the table does not exist yet).
  absl::Status AddPointRead(const DocumentId& id, const TableSchema* table);
  DocumentLimits DocumentLimitsFor(Access access) const;
  // A page of committed rows of `index` in `range` (by_id from the document log, with keys).
  absl::StatusOr<std::vector<IndexRow>> ScanCommitted(const TableSchema& table, const IndexInfo& index,
                                                      const KeyRange& range, Order order, size_t limit);
  // Reads a document for this transaction, recording the read.
  absl::StatusOr<Lookup> Find(const DocumentId& id);
  // `committed`: the version the write supersedes, as Find loaded it; nullopt for a new id. Only the
  // first write to a document uses it.
  absl::Status RecordWrite(const DocumentId& id, std::shared_ptr<const TableSchema> table,
                           std::optional<Value> new_document, Committed committed);
  // The committed document at begin_ts (no read recorded).
  absl::StatusOr<Committed> LoadCommitted(const TableSchema& table, const DocumentId& id);
  // Find, for a write: NOT_FOUND when there is no document, INVALID_ARGUMENT for a system table.
  absl::StatusOr<Lookup> FindForWrite(const DocumentId& id, absl::string_view verb, Access access);

  Persistence& persistence_;
  SchemaCache& schemas_;
  const Timestamp begin_ts_;
  const uint64_t schema_generation_;
  SnapshotRegistry::Handle snapshot_;
  const TransactionLimits limits_;
  IdGenerator ids_;
  double next_creation_time_;
  ReadSet reads_;
  std::map<DocumentId, PendingWrite> writes_;
  size_t documents_read_ = 0, bytes_read_ = 0, bytes_written_ = 0, write_count_ = 0;
  size_t system_write_count_ = 0, system_bytes_written_ = 0;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_TRANSACTION_H_
