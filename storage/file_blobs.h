// Stored files' bytes in PostgreSQL (blob_store.h), the default: isobar.file_chunks, one row per
// chunk, so that one backup holds everything. Each call takes its own pooled connection, and at most
// kMaxConnections of the process's pool are busy with file bytes at once (the rest stay for queries
// and commits); the quota check and write take a per-deployment advisory lock, so every supervisor's
// writers share it.
#ifndef ISOBAR_STORAGE_FILE_BLOBS_H_
#define ISOBAR_STORAGE_FILE_BLOBS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/blob_store.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

class FileBlobs final : public BlobStore {
 public:
  static constexpr int kMaxConnections = 3;

  // `pool` is not owned and must outlive this.
  FileBlobs(PgPool& pool, DeploymentId deployment) : pool_(pool), deployment_(deployment) {}

  absl::Status Write(absl::string_view key, absl::string_view bytes, uint64_t quota) override;
  absl::Status WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota) override;
  absl::Status Rename(absl::string_view from, absl::string_view to, int64_t chunks) override;
  absl::Status Read(absl::string_view key, uint64_t offset, uint64_t length,
                    const std::function<absl::Status(absl::string_view)>& sink) override;
  absl::Status Delete(absl::string_view key) override;
  absl::StatusOr<uint64_t> TotalBytes() override;
  absl::StatusOr<size_t> CollectOrphans(absl::Duration min_age, size_t limit,
                                        const std::function<absl::StatusOr<bool>(const std::string&)>& referenced) override;

 private:
  PgPool& pool_;
  const DeploymentId deployment_;
  // This process's writers of the deployment queue here, before they take a connection: only one
  // waits on the advisory lock while holding one.
  absl::Mutex write_mu_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_FILE_BLOBS_H_
