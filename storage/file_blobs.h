// The bytes of a deployment's stored files (ctx.storage, uploads), in PostgreSQL, in chunks of at
// most 1 MiB, keyed by the id of the file's _storage document (system_tables.h). PostgreSQL holds
// them so that one backup holds everything.
//
//   FileBlobs blobs(pool, deployment);
//   RETURN_IF_ERROR(blobs.Write(id, bytes, quota));            // all chunks, or none
//   RETURN_IF_ERROR(blobs.WriteChunk(upload, 0, part, quota)); // or a chunk at a time, as they come,
//   RETURN_IF_ERROR(blobs.Rename(upload, id, 1));              // then under the file's id
//   RETURN_IF_ERROR(blobs.Read(id, offset, length, [&](absl::string_view part) { ... }));
//   RETURN_IF_ERROR(blobs.Delete(id));
//
// A file's bytes are written before its _storage document commits, and deleted after the document
// is gone: bytes whose document never committed, or was deleted, are orphans, which CollectOrphans
// removes once they are old enough that no commit can still be on its way for them.
// Thread-safe (each call takes its own pooled connection).
#ifndef ISOBAR_STORAGE_FILE_BLOBS_H_
#define ISOBAR_STORAGE_FILE_BLOBS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

class FileBlobs {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;

  // `pool` is not owned and must outlive this.
  FileBlobs(PgPool& pool, DeploymentId deployment) : pool_(pool), deployment_(deployment) {}

  // Stores `bytes` under `key` in one PostgreSQL transaction (replacing what was there). Refused
  // with RESOURCE_EXHAUSTED if the deployment's stored bytes would go over its quota: the one the
  // operator set for it (Catalog::SetFileQuota), else `quota`; counted under a lock that every writer
  // of the deployment takes, so writers together never pass it.
  absl::Status Write(absl::string_view key, absl::string_view bytes, uint64_t quota);
  // Stores chunk number `chunk` (at most kChunkBytes) of `key`, for bytes that arrive a part at a
  // time; the quota as for Write. Chunks are numbered from 0 with no gaps.
  absl::Status WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota);
  // Moves what is stored under `from` to `to`, where nothing is, as if just written (orphan age
  // counts from now). FAILED_PRECONDITION, and nothing moved, unless exactly `chunks` chunks were
  // there.
  absl::Status Rename(absl::string_view from, absl::string_view to, int64_t chunks);
  // Hands [offset, offset + length) of `key`'s bytes to `sink` a chunk at a time, in order. NOT_FOUND
  // when nothing is stored under `key`; OUT_OF_RANGE when the bytes end before the range does.
  absl::Status Read(absl::string_view key, uint64_t offset, uint64_t length,
                    const std::function<absl::Status(absl::string_view)>& sink);
  absl::Status Delete(absl::string_view key);
  // The bytes stored for the deployment, orphans included (its quota counts them).
  absl::StatusOr<uint64_t> TotalBytes();
  // Deletes the bytes of keys written more than `min_age` ago for which `referenced` says false,
  // looking at `limit` keys per round trip, in key order, until all were seen. Returns how many keys'
  // bytes were deleted.
  absl::StatusOr<size_t> CollectOrphans(absl::Duration min_age, size_t limit,
                                        const std::function<absl::StatusOr<bool>(const std::string&)>& referenced);

 private:
  PgPool& pool_;
  const DeploymentId deployment_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_FILE_BLOBS_H_
