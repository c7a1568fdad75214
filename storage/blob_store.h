// Where a deployment's stored files' bytes live (ctx.storage, uploads): in chunks of at most
// kChunkBytes, under a key (the id of the file's _storage document, or an upload's own key until
// its document exists). Two kinds: in PostgreSQL (file_blobs.h, the default: one backup holds
// everything) or in a directory (directory_blobs.h, --file-dir).
//
//   RETURN_IF_ERROR(blobs.Write(id, bytes, quota));            // all chunks, or none
//   RETURN_IF_ERROR(blobs.WriteChunk(upload, 0, part, quota)); // or a chunk at a time, as they come,
//   RETURN_IF_ERROR(blobs.Rename(upload, id, 1));              // then under the file's id
//   RETURN_IF_ERROR(blobs.Read(id, offset, length, [&](absl::string_view part) { ... }));
//   RETURN_IF_ERROR(blobs.Delete(id));
//
// A file's bytes are written before its _storage document commits, and deleted after the document
// is gone: bytes whose document never committed, or was deleted, are orphans, which CollectOrphans
// removes once they are old enough that no commit can still be on its way for them. Quotas: a write
// is refused (RESOURCE_EXHAUSTED) if the deployment's bytes would go over the quota the operator set
// for it (Catalog::SetFileQuota), else the `quota` given; the check and the write are one step for
// every writer of the deployment. Implementations are thread-safe.
#ifndef ISOBAR_STORAGE_BLOB_STORE_H_
#define ISOBAR_STORAGE_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace isobar::storage {

class BlobStore {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;

  virtual ~BlobStore() = default;

  // Stores `bytes` under `key` at once (replacing what was there).
  virtual absl::Status Write(absl::string_view key, absl::string_view bytes, uint64_t quota) = 0;
  // Stores chunk number `chunk` (at most kChunkBytes) of `key`, for bytes that arrive a part at a
  // time. Chunks are numbered from 0 with no gaps.
  virtual absl::Status WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota) = 0;
  // Moves what is stored under `from` to `to`, where nothing is, as if just written (orphan age
  // counts from now). FAILED_PRECONDITION, and nothing moved, unless exactly `chunks` chunks were there.
  virtual absl::Status Rename(absl::string_view from, absl::string_view to, int64_t chunks) = 0;
  // Hands [offset, offset + length) of `key`'s bytes to `sink` a chunk at a time, in order. NOT_FOUND
  // when nothing is stored under `key`; OUT_OF_RANGE when the bytes end before the range does.
  virtual absl::Status Read(absl::string_view key, uint64_t offset, uint64_t length,
                            const std::function<absl::Status(absl::string_view)>& sink) = 0;
  // The same range as one string (for ranges small enough to hold: a chunk, a function's file).
  absl::StatusOr<std::string> ReadString(absl::string_view key, uint64_t offset, uint64_t length) {
    std::string bytes;
    bytes.reserve(length);
    absl::Status read = Read(key, offset, length, [&bytes](absl::string_view part) {
      bytes.append(part.data(), part.size());
      return absl::OkStatus();
    });
    if (!read.ok()) return read;
    return bytes;
  }
  virtual absl::Status Delete(absl::string_view key) = 0;
  // The bytes stored for the deployment, orphans included (its quota counts them).
  virtual absl::StatusOr<uint64_t> TotalBytes() = 0;
  // Deletes the bytes of keys written more than `min_age` ago for which `referenced` says false,
  // looking at `limit` keys at a time, in key order, until all were seen. Returns how many keys'
  // bytes were deleted.
  virtual absl::StatusOr<size_t> CollectOrphans(absl::Duration min_age, size_t limit,
                                                const std::function<absl::StatusOr<bool>(const std::string&)>& referenced) = 0;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_BLOB_STORE_H_
