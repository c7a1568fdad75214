// Stored files' bytes in a directory (blob_store.h), the operator's option (--file-dir) for when
// PostgreSQL should not hold them: <root>/<deployment id>/<key>/<chunk number>. Each chunk is written
// under a temporary name, flushed to disk and renamed into place, so a chunk is whole or absent; an
// upload's chunks move under the file's id with one rename of their directory. Keys are checked to
// be [A-Za-z0-9_-]{1,200} before they come near a path.
//
// The quota (the operator's for the deployment, read from PostgreSQL, else the default given) is
// checked against the bytes the deployment's directory holds, counted once when first needed and
// kept up to date under this object's lock: the directory belongs to the one supervisor that serves
// the deployment (its writer lease), which is the only writer.
#ifndef ISOBAR_STORAGE_DIRECTORY_BLOBS_H_
#define ISOBAR_STORAGE_DIRECTORY_BLOBS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/blob_store.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

class DirectoryBlobs final : public BlobStore {
 public:
  // `pool` (for the operator's quota) is not owned and must outlive this. `root` must exist.
  DirectoryBlobs(PgPool& pool, std::string root, DeploymentId deployment);

  absl::Status Write(absl::string_view key, absl::string_view bytes, uint64_t quota) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Rename(absl::string_view from, absl::string_view to, int64_t chunks) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Read(absl::string_view key, uint64_t offset, uint64_t length,
                    const std::function<absl::Status(absl::string_view)>& sink) override;
  absl::Status Delete(absl::string_view key) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<uint64_t> TotalBytes() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<size_t> CollectOrphans(absl::Duration min_age, size_t limit,
                                        const std::function<absl::StatusOr<bool>(const std::string&)>& referenced) override;

 private:
  absl::StatusOr<std::string> KeyPath(absl::string_view key) const;
  // The bytes held now (counted on first use).
  absl::StatusOr<uint64_t> Used() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The operator's quota for the deployment, else `quota`.
  absl::StatusOr<uint64_t> QuotaFor(uint64_t quota);
  // RESOURCE_EXHAUSTED unless `adding` more bytes (`freeing` fewer) fit under the quota.
  absl::Status CheckQuota(uint64_t adding, uint64_t freeing, uint64_t quota) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a key's directory; returns the bytes its chunks held (the caller counts them).
  absl::StatusOr<uint64_t> RemoveKey(const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds `bytes` (or takes them off) to what is held.
  void Count(int64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PgPool& pool_;
  const std::string root_;  // <root>/<deployment id>
  const DeploymentId deployment_;
  absl::Mutex mu_;
  std::optional<uint64_t> used_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_DIRECTORY_BLOBS_H_
