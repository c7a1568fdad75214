// Startup snapshots kept on disk, so a restarted supervisor does not make every version's blob again.
//
//   ASSIGN_OR_RETURN(auto cache, SnapshotDiskCache::Open(data_dir + "/snapshots", 1u << 30, 16u << 20));
//   if (std::optional<MadeSnapshot> made = cache->Load(key, build)) ...   // intact, same key and build
//   cache->Store(made);                                                  // then the oldest go past the bound
//
// One file per blob, named by the SHA-256 of its key and build (hex): no name ever comes from a
// tenant's string. A file holds a magic line, the SHA-256 of the rest, then a worker.proto
// StoredSnapshot. A blob is used only if that hash matches, and the key and build it names are the
// ones asked for (bundle integrity: a blob read from disk is trusted no more than the disk is, and a
// flipped bit or a file from another build is caught before a worker reads it). A file that fails a
// check is removed. Files are written whole under a temporary name, then renamed. Past `max_bytes`,
// the least recently used files (by modification time, which Load sets) are removed.
//
// Not thread-safe: one user (the snapshot maker's thread).
#ifndef ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_DISK_CACHE_H_
#define ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_DISK_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "supervisor/workers/made_snapshot.h"

namespace isobar::supervisor {

struct SnapshotDiskCacheStats {
  uint64_t loaded = 0;
  uint64_t stored = 0;
  uint64_t rejected = 0;  // files that failed a check, removed
  uint64_t removed = 0;   // files removed for room
};

class SnapshotDiskCache {
 public:
  // Creates `dir` (0700) if needed, and removes temporary files a crash left there. `max_blob_bytes`:
  // larger files are not read.
  static absl::StatusOr<std::unique_ptr<SnapshotDiskCache>> Open(std::string dir, uint64_t max_bytes,
                                                                 uint64_t max_blob_bytes);

  // The blob of `key` made by `build`, if a file holds it intact.
  std::optional<MadeSnapshot> Load(absl::string_view key, absl::string_view build);
  // Writes `made` (replacing an older file of the same key and build), then makes room.
  absl::Status Store(const MadeSnapshot& made);

  const SnapshotDiskCacheStats& stats() const { return stats_; }
  // The file that holds (or would hold) `key` of `build`.
  std::string PathOf(absl::string_view key, absl::string_view build) const;

 private:
  SnapshotDiskCache(std::string dir, uint64_t max_bytes, uint64_t max_blob_bytes)
      : dir_(std::move(dir)), max_bytes_(max_bytes), max_blob_bytes_(max_blob_bytes) {}
  // Removes the least recently used files until the rest fit in max_bytes_ (`keep` stays).
  void MakeRoom(const std::string& keep);
  void Reject(const std::string& path, absl::string_view why);

  const std::string dir_;
  const uint64_t max_bytes_;
  const uint64_t max_blob_bytes_;
  SnapshotDiskCacheStats stats_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_DISK_CACHE_H_
