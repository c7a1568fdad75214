// File storage (ctx.storage; CONVEX_ABI.md §2.7, §2.9; supervisor/http/notes/http_actions_and_storage.md
// §B): a file is a _storage document {sha256 (base64), size, contentType} whose bytes are in
// storage::FileBlobs under the document's id. This file holds the storage host calls, storing and
// finding files (shared with the HTTP upload and serving routes), and the signed URLs.
//
// URLs are signed with the deployment's own 32-byte secret (DeploymentInfo::cursor_key) by HMAC-SHA256,
// over what they grant, the deployment's name and their expiry; an upload URL's token cannot serve a
// file, nor the other way round, and no URL works for another deployment:
//   upload: <cloud url>/api/storage/upload?token=<expiry>.<hex mac>               (1 hour, reusable)
//   serve:  <cloud url>/api/storage/<id>?expires=<unix s>&signature=<hex mac>      (a day at least)
// Convex's serving URLs never expire; ours do (and a cached query result holding one expires too).
#ifndef ISOBAR_SUPERVISOR_RUNNER_FILE_STORAGE_H_
#define ISOBAR_SUPERVISOR_RUNNER_FILE_STORAGE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/sha256.h"
#include "storage/catalog.h"
#include "storage/database.h"
#include "storage/transaction.h"
#include "supervisor/runner/invocation_session.h"

namespace isobar::supervisor {

// What a deployment may store: one file from a function (ctx.storage.store: its bytes travel in a host
// call), one uploaded file (streamed to the database as it arrives), and all its files' bytes together
// unless the operator set another quota for it (Deployments.SetLimits; storage/file_blobs.h applies it).
inline constexpr uint64_t kMaxFileBytes = 20u << 20;
inline constexpr uint64_t kMaxUploadBytes = 1ull << 30;
inline constexpr uint64_t kDeploymentFileQuotaBytes = 1ull << 30;

struct StoredFile {
  std::string id;          // of its _storage document
  std::string sha256;      // 32 raw bytes
  uint64_t size = 0;
  std::optional<std::string> content_type;
  double creation_time = 0;
};

// The _storage document `id_text` names, read in `txn` (a query's read, a mutation's, or a transaction
// of its own); nullopt when there is none (never was, or deleted). INVALID_ARGUMENT, in Convex's words
// naming `operation` ("storage.getUrl"), when the text is no id or an id of another table.
absl::StatusOr<std::optional<StoredFile>> FindFile(storage::Transaction& txn, absl::string_view operation,
                                                   absl::string_view id_text);

// Stores `bytes` as a new file: checked against `expected_sha256` (base64, as Convex's store option and
// Digest header give it) if set, and against the size limit and the deployment's quota; the bytes
// are written, then the document inserted in `txn` (committed by its owner; if it never is, the
// bytes are an orphan that housekeeping collects). Returns the new id.
absl::StatusOr<std::string> StoreFile(storage::Database& db, storage::Transaction& txn, absl::string_view bytes,
                                      std::optional<std::string> content_type,
                                      const std::optional<std::string>& expected_sha256);
// The same in a transaction of its own, committed (actions), as a FileWriter stores an upload.
absl::StatusOr<std::string> StoreFileNow(storage::Database& db, absl::string_view bytes,
                                         std::optional<std::string> content_type,
                                         const std::optional<std::string>& expected_sha256);

// A file stored as its bytes arrive (an upload), never held whole: whole chunks go to the database
// as Append fills them, under a key of their own; Commit checks the digest, inserts the _storage
// document, moves the bytes under its id and commits. Bytes left by a writer that never commits
// (the client went away, the process died) are deleted by its destructor, or else by housekeeping as
// orphans. Not thread-safe; its calls block on PostgreSQL.
class FileWriter {
 public:
  // `db` is not owned and must outlive the writer. The file may have `max_bytes`; the deployment's
  // files together `quota`.
  FileWriter(storage::Database& db, uint64_t max_bytes, uint64_t quota = kDeploymentFileQuotaBytes);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // INVALID_ARGUMENT past max_bytes, RESOURCE_EXHAUSTED past the deployment's quota. After a failure,
  // nothing of the file is left and the writer takes no more.
  absl::Status Append(absl::string_view part);
  // `expected_sha256` in base64, as the Digest header gives it. Returns the new file's id; after a
  // failure, as for Append.
  absl::StatusOr<std::string> Commit(std::optional<std::string> content_type,
                                     const std::optional<std::string>& expected_sha256);
  // Deletes what was written, now (the destructor does it too).
  void Abandon();
  uint64_t size() const { return size_; }

 private:
  absl::Status Flush();
  absl::StatusOr<std::string> CommitOnce(std::optional<std::string> content_type,
                                         const std::optional<std::string>& expected_sha256);

  storage::Database& db_;
  const uint64_t max_bytes_;
  const uint64_t quota_;
  const std::string key_;  // "upload-<random hex>": never a document id
  Sha256Stream hash_;
  std::string pending_;  // less than a chunk
  int64_t chunks_ = 0;
  uint64_t size_ = 0;
  bool done_ = false;  // committed, or failed for good: nothing of ours is left under key_
};

// Signed URLs (see above). `cloud_url` is the deployment's client URL (".../d/<name>").
std::string UploadUrl(absl::string_view cloud_url, const storage::DeploymentInfo& deployment, absl::Time now);
absl::Status CheckUploadToken(const storage::DeploymentInfo& deployment, absl::string_view token, absl::Time now);
std::string ServingUrl(absl::string_view cloud_url, const storage::DeploymentInfo& deployment, absl::string_view id,
                       absl::Time now);
absl::Status CheckServingSignature(const storage::DeploymentInfo& deployment, absl::string_view id,
                                   absl::string_view expires, absl::string_view signature, absl::Time now);

// The storage host calls: 1.0/storageGetUrl, storageGetMetadata, storageGenerateUploadUrl,
// storageDelete, storageStore and storageGet (mutations' store/get in convex 1.48), and the runtime's
// 1.0/storage/storeBlob and 1.0/storage/getBlob (actions' store/get).
bool IsStorageSyscall(absl::string_view op);
absl::StatusOr<std::string> ServeStorageSyscall(InvocationSession& session, absl::string_view op,
                                                absl::string_view args_json);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_FILE_STORAGE_H_
