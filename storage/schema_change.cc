#include "storage/schema_change.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document.h"
#include "storage/document_id.h"

namespace isobar::storage {
namespace {

constexpr size_t kPage = 512;

// Every live document of `table` at `at`, in creation order, with its revision.
absl::Status ForEachDocument(Database& db, const TableSchema& table, Timestamp at,
                             const std::function<absl::Status(const IndexRow&, const Value&)>& visit) {
  KeyRange range;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<IndexRow> rows,
                     db.persistence().Scan(table.by_creation_time().id, range, Order::kAsc, at, kPage));
    for (const IndexRow& row : rows) {
      absl::StatusOr<Value> document = ParseConvexJson(row.document.value_json);
      if (!document.ok()) return absl::DataLossError("stored document is unreadable");
      RETURN_IF_ERROR(visit(row, *document));
    }
    if (rows.size() < kPage) return absl::OkStatus();
    range.start = rows.back().key + std::string(1, '\0');
  }
}

}  // namespace

absl::StatusOr<IndexInfo> AddIndex(Database& db, absl::string_view table_name, absl::string_view name,
                                   const std::vector<std::string>& fields,
                                   const std::function<absl::Status()>& cancelled) {
  const DeploymentId deployment = db.schemas().deployment();
  ASSIGN_OR_RETURN(TableInfo table, db.catalog().GetOrCreateTable(deployment, table_name));
  ASSIGN_OR_RETURN(IndexInfo index, db.catalog().CreateIndex(deployment, table.number, name, fields, /*ready=*/false));
  // From here on commits maintain the index; then wait out the commits that might not have.
  db.schemas().Invalidate(table.number);
  RETURN_IF_ERROR(db.committer().Barrier());
  const Timestamp at = db.committer().Latest();
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> schema, db.schemas().ByNumber(table.number));
  if (schema == nullptr) return absl::InternalError("the table vanished during a backfill");
  std::vector<BackfillEntry> batch;
  size_t documents = 0;
  RETURN_IF_ERROR(ForEachDocument(db, *schema, at, [&](const IndexRow& row, const Value& document) -> absl::Status {
    batch.push_back(BackfillEntry{index.id, IndexKeyOf(document, index.fields), row.document.ts, row.table, row.doc});
    ++documents;
    if (batch.size() < kPage) return absl::OkStatus();
    absl::Status written = db.persistence().Backfill(batch);
    batch.clear();
    return written.ok() ? cancelled() : written;
  }));
  RETURN_IF_ERROR(db.persistence().Backfill(batch));
  RETURN_IF_ERROR(db.catalog().SetIndexReady(deployment, index.id));
  db.schemas().Invalidate(table.number);
  index.ready = true;
  ISOBAR_LOG(kInfo, "schema") << "index " << table_name << "." << name << " backfilled with " << documents
                              << " documents";
  return index;
}

absl::Status DropIndex(Database& db, const IndexInfo& index) {
  RETURN_IF_ERROR(db.catalog().DropIndex(db.schemas().deployment(), index.id));
  db.schemas().Invalidate(index.table);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SchemaViolation>> FindViolations(Database& db, absl::string_view table_name,
                                                            const Validator& validator, const TableOfId& ids,
                                                            size_t max) {
  std::vector<SchemaViolation> out;
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, db.schemas().ByName(table_name, /*create=*/false));
  if (table == nullptr) return out;
  const Timestamp at = db.committer().Latest();
  absl::Status scanned = ForEachDocument(db, *table, at, [&](const IndexRow& row, const Value& document) -> absl::Status {
    Value::Object user;
    for (const auto& [name, value] : document.object()) {
      if (name != "_id" && name != "_creationTime") user.emplace_back(name, value);
    }
    absl::Status matches = validator.Check(Value::MakeSortedObject(std::move(user)), ids);
    if (!matches.ok()) {
      out.push_back(SchemaViolation{EncodeDocumentId(DocumentId{row.table, row.doc}), std::string(matches.message())});
      if (out.size() >= max) return absl::CancelledError("enough");
    }
    return absl::OkStatus();
  });
  if (!scanned.ok() && !absl::IsCancelled(scanned)) return scanned;
  return out;
}

}  // namespace isobar::storage
