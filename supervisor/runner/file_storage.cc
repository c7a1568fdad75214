#include "supervisor/runner/file_storage.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/base64.h"
#include "base/http_field.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/system_tables.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr absl::Duration kUploadLifetime = absl::Hours(1);
// Serving URLs expire on an hour's boundary a day or more ahead: the same URL within the hour, so a
// query's result does not change on every run.
constexpr absl::Duration kServingLifetime = absl::Hours(24);
constexpr int kMaxStoreAttempts = 4;

// A key for an upload's bytes until its document exists: unique (not secret), and never an id.
std::string UploadKey() {
  absl::BitGen random;
  return absl::StrCat("upload-", absl::Hex(absl::Uniform<uint64_t>(random), absl::kZeroPad16),
                      absl::Hex(absl::Uniform<uint64_t>(random), absl::kZeroPad16));
}

std::string Mac(const storage::DeploymentInfo& deployment, absl::string_view purpose, absl::string_view subject,
                int64_t expires) {
  return absl::BytesToHexString(HmacSha256(
      deployment.cursor_key, absl::StrCat("isobar file url v1\n", purpose, "\n", deployment.name, "\n", subject, "\n", expires)));
}

absl::Status CheckMac(const storage::DeploymentInfo& deployment, absl::string_view purpose, absl::string_view subject,
                      absl::string_view expires_text, absl::string_view mac, absl::Time now) {
  int64_t expires = 0;
  if (!absl::SimpleAtoi(expires_text, &expires) || !ConstantTimeEquals(Mac(deployment, purpose, subject, expires), mac)) {
    return absl::UnauthenticatedError("the URL's signature is not valid for this deployment");
  }
  if (absl::FromUnixSeconds(expires) <= now) return absl::UnauthenticatedError("the URL has expired");
  return absl::OkStatus();
}

const storage::SystemTable& StorageTable() { return *storage::FindSystemTable(storage::kStorageTable); }

// An optional string argument; "" counts as none (a Blob without a type has type "").
std::optional<std::string> NonEmptyString(const Value& args, absl::string_view name) {
  std::optional<std::string> value = OptionalString(args, name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

// The file as Convex's getMetadata gives it (sha256 in hex there).
std::string MetadataJson(const StoredFile& file) {
  return absl::StrCat("{\"storageId\":", Quote(file.id), ",\"sha256\":", Quote(absl::BytesToHexString(file.sha256)),
                      ",\"size\":", file.size, ",\"contentType\":",
                      file.content_type.has_value() ? Quote(*file.content_type) : "null", "}");
}

// The file's bytes and type as the runtime's get/getBlob read them: {data|blob: base64, contentType}.
absl::StatusOr<std::string> BlobJson(storage::Database& db, const StoredFile& file, absl::string_view data_field) {
  ASSIGN_OR_RETURN(std::string bytes, db.files().ReadString(file.id, 0, file.size));
  return absl::StrCat("{\"", data_field, "\":", Quote(Base64Encode(bytes)), ",\"contentType\":",
                      file.content_type.has_value() ? Quote(*file.content_type) : "null", "}");
}

// The session's transaction for a query or mutation (reads recorded in it); a transaction of the
// call's own for an action, which has none.
struct Txn {
  storage::Transaction* txn = nullptr;
  std::unique_ptr<storage::Transaction> own;
};
Txn TxnOf(InvocationSession& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  Txn out;
  if (session.txn != nullptr) {
    out.txn = session.txn.get();
  } else {
    out.own = session.deployment->db().Begin();
    out.txn = out.own.get();
  }
  return out;
}

absl::StatusOr<std::string> Store(InvocationSession& session, const Value& args, absl::string_view data_field)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(std::string encoded, StringArg(args, data_field));
  std::optional<std::string> decoded = Base64Decode(encoded);
  if (!decoded.has_value()) return absl::InvalidArgumentError("The blob is not base64");
  std::string bytes = *std::move(decoded);
  std::optional<std::string> content_type = NonEmptyString(args, "contentType");
  std::optional<std::string> sha256 = NonEmptyString(args, "sha256");
  storage::Database& db = session.deployment->db();
  if (session.function.kind == FunctionKind::kMutation && session.txn != nullptr) {
    ASSIGN_OR_RETURN(std::string id, StoreFile(db, *session.txn, bytes, std::move(content_type), sha256));
    return Quote(id);
  }
  if (session.function.kind != FunctionKind::kAction) {
    return absl::InvalidArgumentError("Can't use storage.store() in queries. Please consider using a mutation or an action.");
  }
  ASSIGN_OR_RETURN(std::string id, StoreFileNow(db, bytes, std::move(content_type), sha256));
  return Quote(id);
}

absl::StatusOr<std::string> Delete(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(std::string id_text, StringArg(args, "storageId"));
  if (session.function.kind == FunctionKind::kQuery) {
    return absl::InvalidArgumentError("Can't use storage.delete() in queries: only mutations and actions delete files");
  }
  storage::Database& db = session.deployment->db();
  for (int attempt = 0;; ++attempt) {
    Txn txn = TxnOf(session);
    ASSIGN_OR_RETURN(std::optional<StoredFile> file, FindFile(*txn.txn, "storage.delete", id_text));
    if (!file.has_value()) return absl::NotFoundError(absl::StrCat("storage id ", id_text, " not found"));
    ASSIGN_OR_RETURN(storage::DocumentId id, storage::DecodeDocumentId(file->id));
    RETURN_IF_ERROR(txn.txn->Delete(id, storage::Access::kSystem).status());
    // The bytes go with housekeeping's next sweep, once the deletion has committed.
    if (txn.own == nullptr) return std::string("null");
    absl::StatusOr<storage::Timestamp> committed = db.Commit(*txn.own);
    if (committed.ok()) return std::string("null");
    if (!absl::IsAborted(committed.status()) || attempt + 1 >= kMaxStoreAttempts) return committed.status();
  }
}

// The type goes out again as a Content-Type header: a header value, and a short one.
absl::Status CheckContentType(const std::optional<std::string>& content_type) {
  if (content_type.has_value() && (content_type->size() > 256 || !IsHttpFieldValue(*content_type))) {
    return absl::InvalidArgumentError("Invalid content type: at most 256 characters, none of them control characters");
  }
  return absl::OkStatus();
}

absl::Status CheckDigest(absl::string_view digest_base64, const std::optional<std::string>& expected_sha256) {
  if (expected_sha256.has_value() && *expected_sha256 != digest_base64) {
    return absl::InvalidArgumentError(
        absl::StrCat("Sha256 mismatch. Expected: ", expected_sha256->substr(0, 100), " Actual: ", digest_base64));
  }
  return absl::OkStatus();
}

// Inserts the _storage document for a file of `size` bytes with `digest` in `txn`.
absl::Status CheckFileSize(uint64_t size) {
  if (size > kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat("The file is too large (", size, " bytes; the limit is ",
                                                   kMaxFileBytes, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> InsertFileDocument(storage::Transaction& txn, absl::string_view digest_base64, uint64_t size,
                                               std::optional<std::string> content_type) {
  ASSIGN_OR_RETURN(Value document,
                   Value::MakeObject({{"sha256", Value::String(std::string(digest_base64))},
                                      {"size", Value::Float64(static_cast<double>(size))},
                                      {"contentType", content_type.has_value() ? Value::String(*std::move(content_type))
                                                                               : Value::Null()}}));
  ASSIGN_OR_RETURN(storage::DocumentId id, txn.Insert(storage::kStorageTable, document, storage::Access::kSystem));
  return storage::EncodeDocumentId(id);
}

}  // namespace

absl::StatusOr<std::optional<StoredFile>> FindFile(storage::Transaction& txn, absl::string_view operation,
                                                   absl::string_view id_text) {
  absl::StatusOr<storage::DocumentId> id = storage::DecodeDocumentId(id_text);
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid argument `storageId` for `", operation,
                                                   "`: Invalid storage ID: \"", id_text.substr(0, 200),
                                                   "\". Storage ID should be an\n                    Id of '_storage' "
                                                   "table, or a UUID string."));
  }
  if (id->table.value() != StorageTable().number) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid argument `storageId` for `", operation,
                     "`: Invalid storage ID. Storage ID cannot be an ID on any table other than '_storage'."));
  }
  ASSIGN_OR_RETURN(std::optional<Value> document, txn.Get(*id));
  if (!document.has_value()) return std::nullopt;
  StoredFile file;
  file.id = std::string(id_text);
  const Value& sha256 = document->Get("sha256");
  const Value& size = document->Get("size");
  const Value& type = document->Get("contentType");
  const Value& created = document->Get("_creationTime");
  if (sha256.type() != Value::Type::kString || !absl::Base64Unescape(sha256.string(), &file.sha256) ||
      size.type() != Value::Type::kFloat64 || size.float64() < 0) {
    return absl::InternalError(absl::StrCat("the _storage document ", id_text, " is malformed"));
  }
  file.size = static_cast<uint64_t>(size.float64());
  if (type.type() == Value::Type::kString) file.content_type = type.string();
  if (created.type() == Value::Type::kFloat64) file.creation_time = created.float64();
  return file;
}

absl::StatusOr<std::string> StoreFile(storage::Database& db, storage::Transaction& txn, absl::string_view bytes,
                                      std::optional<std::string> content_type,
                                      const std::optional<std::string>& expected_sha256) {
  RETURN_IF_ERROR(CheckFileSize(bytes.size()));
  RETURN_IF_ERROR(CheckContentType(content_type));
  const std::string digest_base64 = absl::Base64Escape(Sha256(bytes));
  RETURN_IF_ERROR(CheckDigest(digest_base64, expected_sha256));
  ASSIGN_OR_RETURN(std::string id, InsertFileDocument(txn, digest_base64, bytes.size(), std::move(content_type)));
  RETURN_IF_ERROR(db.files().Write(id, bytes, kDeploymentFileQuotaBytes));
  return id;
}

absl::StatusOr<std::string> StoreFileNow(storage::Database& db, absl::string_view bytes,
                                         std::optional<std::string> content_type,
                                         const std::optional<std::string>& expected_sha256) {
  RETURN_IF_ERROR(CheckFileSize(bytes.size()));
  FileWriter writer(db, kMaxFileBytes);
  RETURN_IF_ERROR(writer.Append(bytes));
  return writer.Commit(std::move(content_type), expected_sha256);
}

FileWriter::FileWriter(storage::Database& db, uint64_t max_bytes, uint64_t quota)
    : db_(db), max_bytes_(max_bytes), quota_(quota), key_(UploadKey()) {}

FileWriter::~FileWriter() { Abandon(); }

void FileWriter::Abandon() {
  if (done_) return;
  done_ = true;
  pending_.clear();
  // A chunk may have been written even if its statement reported a failure.
  absl::Status deleted = db_.files().Delete(key_);
  if (!deleted.ok()) ISOBAR_LOG(kWarning, "storage") << "an abandoned upload is left to housekeeping: " << deleted;
}

absl::Status FileWriter::Append(absl::string_view part) {
  if (done_) return absl::FailedPreconditionError("the file is already stored or abandoned");
  if (part.size() > max_bytes_ - size_) {
    Abandon();
    return absl::InvalidArgumentError(absl::StrCat("The file is too large (the limit is ", max_bytes_, " bytes)"));
  }
  size_ += part.size();
  hash_.Update(part);
  while (!part.empty()) {
    const size_t take = std::min(part.size(), storage::BlobStore::kChunkBytes - pending_.size());
    pending_.append(part.data(), take);
    part.remove_prefix(take);
    if (pending_.size() == storage::BlobStore::kChunkBytes) {
      if (absl::Status flushed = Flush(); !flushed.ok()) {
        Abandon();
        return flushed;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status FileWriter::Flush() {
  RETURN_IF_ERROR(db_.files().WriteChunk(key_, chunks_, pending_, quota_));
  ++chunks_;
  pending_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileWriter::Commit(std::optional<std::string> content_type,
                                               const std::optional<std::string>& expected_sha256) {
  if (done_) return absl::FailedPreconditionError("the file is already stored or abandoned");
  absl::StatusOr<std::string> id = CommitOnce(std::move(content_type), expected_sha256);
  if (!id.ok()) Abandon();
  return id;
}

absl::StatusOr<std::string> FileWriter::CommitOnce(std::optional<std::string> content_type,
                                                   const std::optional<std::string>& expected_sha256) {
  RETURN_IF_ERROR(CheckContentType(content_type));
  const std::string digest_base64 = absl::Base64Escape(std::move(hash_).Finish());
  RETURN_IF_ERROR(CheckDigest(digest_base64, expected_sha256));
  // The last chunk (or the only, empty one: a file always has chunk 0).
  if (!pending_.empty() || chunks_ == 0) RETURN_IF_ERROR(Flush());
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<storage::Transaction> txn = db_.Begin();
    ASSIGN_OR_RETURN(std::string id, InsertFileDocument(*txn, digest_base64, size_, content_type));
    // The bytes are under the id before the document commits: a reader never finds one without the other.
    RETURN_IF_ERROR(db_.files().Rename(key_, id, chunks_));
    absl::StatusOr<storage::Timestamp> committed = db_.Commit(*txn);
    if (committed.ok()) {
      done_ = true;
      return id;
    }
    if (!absl::IsAborted(committed.status())) {
      // Perhaps committed after all: the bytes stay under the id, and housekeeping decides.
      done_ = true;
      return committed.status();
    }
    // Surely not committed: back under our key, for the next attempt or for Abandon.
    RETURN_IF_ERROR(db_.files().Rename(id, key_, chunks_));
    if (attempt + 1 >= kMaxStoreAttempts) return committed.status();
  }
}

std::string UploadUrl(absl::string_view cloud_url, const storage::DeploymentInfo& deployment, absl::Time now) {
  const int64_t expires = absl::ToUnixSeconds(now + kUploadLifetime);
  return absl::StrCat(cloud_url, "/api/storage/upload?token=", expires, ".", Mac(deployment, "upload", "", expires));
}

absl::Status CheckUploadToken(const storage::DeploymentInfo& deployment, absl::string_view token, absl::Time now) {
  const size_t dot = token.find('.');
  if (dot == absl::string_view::npos) return absl::UnauthenticatedError("Couldn't decode the upload token");
  return CheckMac(deployment, "upload", "", token.substr(0, dot), token.substr(dot + 1), now);
}

std::string ServingUrl(absl::string_view cloud_url, const storage::DeploymentInfo& deployment, absl::string_view id,
                       absl::Time now) {
  const int64_t hour = absl::ToUnixSeconds(now) / 3600 + 1;
  const int64_t expires = hour * 3600 + absl::ToInt64Seconds(kServingLifetime);
  return absl::StrCat(cloud_url, "/api/storage/", id, "?expires=", expires, "&signature=",
                      Mac(deployment, "serve", id, expires));
}

absl::Status CheckServingSignature(const storage::DeploymentInfo& deployment, absl::string_view id,
                                   absl::string_view expires, absl::string_view signature, absl::Time now) {
  return CheckMac(deployment, "serve", id, expires, signature, now);
}

bool IsStorageSyscall(absl::string_view op) {
  return op == "1.0/storageGetUrl" || op == "1.0/storageGetMetadata" || op == "1.0/storageGenerateUploadUrl" ||
         op == "1.0/storageDelete" || op == "1.0/storageStore" || op == "1.0/storageGet" ||
         op == "1.0/storage/storeBlob" || op == "1.0/storage/getBlob";
}

absl::StatusOr<std::string> ServeStorageSyscall(InvocationSession& session, absl::string_view op,
                                                absl::string_view args_json) {
  ASSIGN_OR_RETURN(Value args, ParseSyscallArgs(args_json));
  absl::MutexLock lock(&session.mu);
  storage::Database& db = session.deployment->db();
  if (op == "1.0/storageGenerateUploadUrl") return Quote(UploadUrl(session.cloud_url, session.deployment->info(), absl::Now()));
  if (op == "1.0/storageStore") return Store(session, args, "blob");
  if (op == "1.0/storage/storeBlob") return Store(session, args, "data");
  if (op == "1.0/storageDelete") return Delete(session, args);
  // The readers: getUrl, getMetadata, get.
  const absl::string_view operation = op == "1.0/storageGetUrl"        ? "storage.getUrl"
                                      : op == "1.0/storageGetMetadata" ? "storage.getMetadata"
                                                                       : "storage.get";
  ASSIGN_OR_RETURN(std::string id_text, StringArg(args, "storageId"));
  Txn txn = TxnOf(session);
  ASSIGN_OR_RETURN(std::optional<StoredFile> file, FindFile(*txn.txn, operation, id_text));
  if (!file.has_value()) return std::string("null");
  if (op == "1.0/storageGetUrl") {
    session.time_dependent = true;
    return Quote(ServingUrl(session.cloud_url, session.deployment->info(), file->id, absl::Now()));
  }
  if (op == "1.0/storageGetMetadata") return MetadataJson(*file);
  if (op == "1.0/storageGet") {
    if (session.function.kind == FunctionKind::kQuery) {
      return absl::InvalidArgumentError("Can't use storage.get() in queries. Please consider using a mutation or an action.");
    }
    return BlobJson(db, *file, "blob");
  }
  return BlobJson(db, *file, "data");
}

}  // namespace isobar::supervisor
