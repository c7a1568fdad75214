// Index and schema changes on a live deployment database, while it keeps serving.
//
//   ASSIGN_OR_RETURN(IndexInfo index, AddIndex(db, "messages", "by_channel", {"channel"}));
//   RETURN_IF_ERROR(DropIndex(db, index));
//   ASSIGN_OR_RETURN(std::vector<SchemaViolation> bad, FindViolations(db, "messages", validator, ids, 3));
//
// AddIndex creates the index as not ready (queries refuse it), bumps the schema generation so that
// every later commit maintains it (a writing transaction begun before is refused at commit and runs
// again), waits until every earlier commit is published, then backfills the documents as of that
// point with entries at their own revisions' timestamps, and marks the index ready. Entries written by
// later commits supersede backfilled ones in the MVCC index log, so no document is missed or doubled.
#ifndef ISOBAR_STORAGE_SCHEMA_CHANGE_H_
#define ISOBAR_STORAGE_SCHEMA_CHANGE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/database.h"
#include "storage/validator.h"

namespace isobar::storage {

// Creates the table if needed. `fields` as declared (without _creationTime/_id). `cancelled` is
// asked between pages of the backfill; when it returns an error, the backfill stops with it and the
// index stays not ready (queries refuse it; the next schema change drops or rebuilds it).
absl::StatusOr<IndexInfo> AddIndex(Database& db, absl::string_view table, absl::string_view name,
                                   const std::vector<std::string>& fields,
                                   const std::function<absl::Status()>& cancelled = [] { return absl::OkStatus(); });
absl::Status DropIndex(Database& db, const IndexInfo& index);

struct SchemaViolation {
  std::string id;       // the document's id
  std::string message;  // the validator's complaint
};

// Up to `max` documents of `table` (newest published state) that `validator` refuses; their
// _id and _creationTime are not part of what is checked.
absl::StatusOr<std::vector<SchemaViolation>> FindViolations(Database& db, absl::string_view table,
                                                            const Validator& validator, const TableOfId& ids,
                                                            size_t max);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SCHEMA_CHANGE_H_
