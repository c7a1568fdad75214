// A deployment's data as a Convex snapshot ZIP's entries (what `npx convex export` downloads and
// `npx convex import` reads), read at one timestamp:
//   README.md
//   _tables/documents.jsonl            {"name": <table>, "id": <table number>} per user table
//   <table>/documents.jsonl            one document per line, in Convex's export JSON (ToExportJson)
//   <table>/generated_schema.jsonl     "uniform" (the types are in the documents themselves)
//   _storage/documents.jsonl           {_id, _creationTime, sha256, size, contentType} per stored file
//   _storage/<id>                      each file's bytes
// Tables in number order, documents in id order. Entries stream out a part at a time (`sink`), so an
// export holds one page of documents or one chunk of a file in memory, never the deployment.
//
//   ASSIGN_OR_RETURN(ExportCounts counts, ExportSnapshot(db, writer));
#ifndef ISOBAR_STORAGE_SNAPSHOT_EXPORT_H_
#define ISOBAR_STORAGE_SNAPSHOT_EXPORT_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/database.h"

namespace isobar::storage {

// Where the entries go, in order: an entry's bytes follow its StartEntry.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual absl::Status StartEntry(const std::string& path) = 0;
  virtual absl::Status Write(absl::string_view bytes) = 0;
};

struct ExportOptions {
  bool files = true;              // _storage's documents and bytes
  size_t page_documents = 1000;   // documents read per transaction
  size_t max_write_bytes = 1 << 20;  // buffered before a Write
};

struct ExportCounts {
  size_t tables = 0;
  size_t documents = 0;
  size_t files = 0;
  uint64_t file_bytes = 0;
};

// Errors: the database's, and the sink's (which end the export).
absl::StatusOr<ExportCounts> ExportSnapshot(Database& db, SnapshotSink& sink, const ExportOptions& options = {});

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SNAPSHOT_EXPORT_H_
