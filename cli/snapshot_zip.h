// Convex snapshot ZIPs on disk (storage/snapshot_export.h has the layout), written and read a part at
// a time with libarchive: an entry whose size is not known yet is deflated with a data descriptor, as
// Convex's own exports are, so neither side holds a whole table or file.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SnapshotZipWriter> zip, SnapshotZipWriter::Create("backup.zip"));
//   RETURN_IF_ERROR(zip->StartEntry("users/documents.jsonl"));
//   RETURN_IF_ERROR(zip->Write(line));
//   RETURN_IF_ERROR(zip->Close());
//
//   RETURN_IF_ERROR(ReadSnapshotZip("backup.zip", on_entry, on_data));
#ifndef ISOBAR_CLI_SNAPSHOT_ZIP_H_
#define ISOBAR_CLI_SNAPSHOT_ZIP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct archive;

namespace isobar::cli {

class SnapshotZipWriter {
 public:
  // Creates (or truncates) `path`.
  static absl::StatusOr<std::unique_ptr<SnapshotZipWriter>> Create(const std::string& path);
  ~SnapshotZipWriter();
  SnapshotZipWriter(const SnapshotZipWriter&) = delete;
  SnapshotZipWriter& operator=(const SnapshotZipWriter&) = delete;

  absl::Status StartEntry(const std::string& path);
  absl::Status Write(absl::string_view bytes);
  // Ends the last entry and writes the central directory. Without it the file is not a valid ZIP.
  absl::Status Close();

 private:
  explicit SnapshotZipWriter(struct archive* archive) : archive_(archive) {}
  struct archive* archive_;
  bool closed_ = false;
};

// Calls `entry` with each regular file's path, then `data` with its bytes in parts, in the archive's
// order. Directories are skipped. Errors: the file's (not a ZIP, truncated), or the callbacks'.
absl::Status ReadSnapshotZip(const std::string& path, const std::function<absl::Status(const std::string&)>& entry,
                             const std::function<absl::Status(absl::string_view)>& data);

}  // namespace isobar::cli

#endif  // ISOBAR_CLI_SNAPSHOT_ZIP_H_
