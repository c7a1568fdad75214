#include "cli/snapshot_zip.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <ctime>

#include "absl/strings/str_cat.h"

namespace isobar::cli {
namespace {

absl::Status ArchiveError(struct archive* archive, absl::string_view what) {
  const char* message = archive_error_string(archive);
  return absl::InternalError(absl::StrCat(what, ": ", message != nullptr ? message : "unknown libarchive error"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotZipWriter>> SnapshotZipWriter::Create(const std::string& path) {
  struct archive* archive = archive_write_new();
  if (archive == nullptr) return absl::ResourceExhaustedError("cannot start a ZIP");
  std::unique_ptr<SnapshotZipWriter> writer(new SnapshotZipWriter(archive));
  if (archive_write_set_format_zip(archive) != ARCHIVE_OK ||
      archive_write_set_options(archive, "zip:compression=deflate") != ARCHIVE_OK) {
    return ArchiveError(archive, "cannot set up the ZIP format");
  }
  if (archive_write_open_filename(archive, path.c_str()) != ARCHIVE_OK) {
    return ArchiveError(archive, absl::StrCat("cannot create ", path));
  }
  return writer;
}

SnapshotZipWriter::~SnapshotZipWriter() {
  if (!closed_) archive_write_close(archive_);
  archive_write_free(archive_);
}

absl::Status SnapshotZipWriter::StartEntry(const std::string& path) {
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, path.c_str());
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0644);
  archive_entry_set_mtime(entry, std::time(nullptr), 0);
  // No size: libarchive writes it after the data (a data descriptor), as the parts arrive.
  const int written = archive_write_header(archive_, entry);
  archive_entry_free(entry);
  return written == ARCHIVE_OK ? absl::OkStatus() : ArchiveError(archive_, absl::StrCat("cannot start ", path));
}

absl::Status SnapshotZipWriter::Write(absl::string_view bytes) {
  while (!bytes.empty()) {
    const la_ssize_t n = archive_write_data(archive_, bytes.data(), bytes.size());
    if (n <= 0) return ArchiveError(archive_, "cannot write to the ZIP");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SnapshotZipWriter::Close() {
  closed_ = true;
  return archive_write_close(archive_) == ARCHIVE_OK ? absl::OkStatus() : ArchiveError(archive_, "cannot finish the ZIP");
}

absl::Status ReadSnapshotZip(const std::string& path, const std::function<absl::Status(const std::string&)>& entry,
                             const std::function<absl::Status(absl::string_view)>& data) {
  struct archive* archive = archive_read_new();
  if (archive == nullptr) return absl::ResourceExhaustedError("cannot read a ZIP");
  struct Freed {
    struct archive* archive;
    ~Freed() { archive_read_free(archive); }
  } freed{archive};
  archive_read_support_format_zip(archive);
  archive_read_support_filter_none(archive);
  if (archive_read_open_filename(archive, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return ArchiveError(archive, absl::StrCat("cannot open ", path, " as a ZIP"));
  }
  struct archive_entry* header = nullptr;
  for (;;) {
    const int next = archive_read_next_header(archive, &header);
    if (next == ARCHIVE_EOF) return absl::OkStatus();
    if (next != ARCHIVE_OK && next != ARCHIVE_WARN) return ArchiveError(archive, absl::StrCat("cannot read ", path));
    if (archive_entry_filetype(header) != AE_IFREG) continue;
    if (absl::Status started = entry(archive_entry_pathname(header)); !started.ok()) return started;
    char buffer[1 << 16];
    for (;;) {
      const la_ssize_t n = archive_read_data(archive, buffer, sizeof(buffer));
      if (n == 0) break;
      if (n < 0) return ArchiveError(archive, absl::StrCat("cannot read ", archive_entry_pathname(header)));
      if (absl::Status given = data(absl::string_view(buffer, static_cast<size_t>(n))); !given.ok()) return given;
    }
  }
}

}  // namespace isobar::cli
