// A Convex snapshot ZIP's entries (snapshot_export.h has the layout) read into a deployment, as
// `npx convex import` does into an empty one: tables keep their numbers and documents their ids and
// creation times, so references between documents still hold; stored files keep their ids when they
// came from Isobar (Convex's _storage ids name another table number: those files get new ids, and the
// counts say how many).
//
//   SnapshotImporter importer(db, {.file_quota = ...});
//   for each entry: RETURN_IF_ERROR(importer.StartEntry(path)); RETURN_IF_ERROR(importer.Write(part)); ...
//   ASSIGN_OR_RETURN(ImportCounts counts, importer.Finish());
//
// Refused, with a message naming the entry and line: a table that has documents already, a table whose
// number is another table's here, components (`_components/`), the legacy generated_schema format (the
// types of an old export are not in its documents), a malformed line. Documents commit in batches: an
// import that fails part way leaves the batches before it (import into a fresh deployment, and start
// again with a new one). Other entries (README.md, system tables other than _storage) are skipped.
#ifndef ISOBAR_STORAGE_SNAPSHOT_IMPORT_H_
#define ISOBAR_STORAGE_SNAPSHOT_IMPORT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/sha256.h"
#include "storage/database.h"
#include "storage/snapshot_export.h"

namespace isobar::storage {

struct ImportOptions {
  uint64_t file_quota = 0;            // the deployment's file quota unless the operator set one
  size_t batch_documents = 500;       // documents per transaction
  size_t batch_bytes = 4 << 20;       // ... or bytes of them
  size_t max_line_bytes = 48 << 20;   // one document's JSON line
};

struct ImportCounts {
  size_t tables = 0;
  size_t documents = 0;
  size_t files = 0;
  size_t files_renumbered = 0;  // stored files whose id named another system's _storage table
  uint64_t file_bytes = 0;
};

class SnapshotImporter final : public SnapshotSink {
 public:
  explicit SnapshotImporter(Database& db, ImportOptions options = {});
  ~SnapshotImporter() override;

  absl::Status StartEntry(const std::string& path) override;
  absl::Status Write(absl::string_view bytes) override;
  // Ends the last entry; what was imported.
  absl::StatusOr<ImportCounts> Finish();

 private:
  enum class Kind { kSkipped, kTables, kDocuments, kSchema, kStorageDocuments, kFile };

  absl::Status EndEntry();
  absl::Status Line(absl::string_view line);
  absl::Status TableLine(absl::string_view line);
  absl::Status DocumentLine(absl::string_view line);
  absl::Status StorageLine(absl::string_view line);
  // The table `name` with `number` (created if need be), empty of documents.
  absl::Status PrepareTable(const std::string& name, TableNumber number);
  absl::Status CommitBatch();
  absl::Status FileBytes(absl::string_view bytes);
  absl::Status EndFile();
  absl::Status Failed(absl::Status status) const;

  Database& db_;
  const ImportOptions options_;
  ImportCounts counts_;
  // The entry being read.
  std::string path_;
  Kind kind_ = Kind::kSkipped;
  std::string table_;
  std::string pending_;  // a line not ended yet (or the schema entry's text)
  size_t line_number_ = 0;
  // Tables: number by name (from _tables), and those checked empty and ready.
  std::map<std::string, TableNumber> numbers_;
  std::set<std::string> prepared_;
  // Documents to commit: table, id, creation time, fields.
  struct Pending {
    std::string table;
    DocumentId id;
    double creation_time;
    Value fields;
  };
  std::vector<Pending> batch_;
  size_t batch_bytes_ = 0;
  // Stored files: metadata by id (from _storage/documents.jsonl); the file being read.
  std::map<std::string, Value> file_metadata_;
  std::string file_id_;
  std::string upload_key_;
  std::string chunk_;
  int64_t chunks_ = 0;
  uint64_t file_size_ = 0;
  std::unique_ptr<Sha256Stream> file_hash_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SNAPSHOT_IMPORT_H_
