#include "storage/file_blobs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {

namespace {

// The bytes a deployment stores, under the advisory lock (class kQuotaLockClass, the deployment id)
// that serialises its writers; call in a transaction. RESOURCE_EXHAUSTED past `quota`.
constexpr char kQuotaLockClass[] = "1769";

absl::Status CheckQuota(PgConn& conn, const std::string& deployment, uint64_t adding, uint64_t quota) {
  RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_xact_lock($1::int, ($2::bigint % 2147483647)::int)",
                            {kQuotaLockClass, deployment})
                      .status());
  // The operator's quota for this deployment, if one was set (Catalog::SetFileQuota), else `quota`.
  ASSIGN_OR_RETURN(PgResult rows, conn.Exec("SELECT coalesce(sum(octet_length(data)), 0)::bigint, "
                                            "(SELECT file_quota_bytes FROM isobar.deployments WHERE id = $1) "
                                            "FROM isobar.file_chunks WHERE deployment_id = $1",
                                            {deployment}));
  const uint64_t stored = static_cast<uint64_t>(rows.GetInt(0, 0));
  if (!rows.IsNull(0, 1)) quota = static_cast<uint64_t>(rows.GetInt(0, 1));
  if (stored + adding > quota) {
    return absl::ResourceExhaustedError(absl::StrCat("The deployment's file storage is full (", stored, " of ", quota,
                                                     " bytes used); delete files first"));
  }
  return absl::OkStatus();
}

// At most FileBlobs::kMaxConnections connections busy with file bytes, over every deployment.
class ConnectionGate {
 public:
  class Pass {
   public:
    explicit Pass(ConnectionGate& gate) : gate_(gate) {
      absl::MutexLock lock(&gate_.mu_);
      gate_.mu_.Await(absl::Condition(
          +[](int* busy) { return *busy < FileBlobs::kMaxConnections; }, &gate_.busy_));
      ++gate_.busy_;
    }
    ~Pass() {
      absl::MutexLock lock(&gate_.mu_);
      --gate_.busy_;
    }

   private:
    ConnectionGate& gate_;
  };

 private:
  absl::Mutex mu_;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
};

ConnectionGate& Gate() {
  static auto* gate = new ConnectionGate;
  return *gate;
}

// Runs `steps` in a transaction on `conn`: committed if they succeed, rolled back if not.
absl::Status InTransaction(PgConn& conn, const std::function<absl::Status()>& steps) {
  RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  absl::Status done = steps();
  if (!done.ok()) {
    (void)conn.Exec("ROLLBACK");
    return done;
  }
  return conn.Exec("COMMIT").status();
}

absl::Status InsertChunk(PgConn& conn, const std::string& deployment, absl::string_view key, int64_t chunk,
                         absl::string_view bytes) {
  return conn
      .Exec("INSERT INTO isobar.file_chunks (deployment_id, file_key, chunk, data) VALUES ($1, $2, $3, $4)",
            {deployment, std::string(key), absl::StrCat(chunk), PgParam::Binary(std::string(bytes))})
      .status();
}

}  // namespace

absl::Status FileBlobs::Write(absl::string_view key, absl::string_view bytes, uint64_t quota) {
  absl::MutexLock one_writer(&write_mu_);
  ConnectionGate::Pass pass(Gate());
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  const std::string deployment = absl::StrCat(deployment_.value());
  return InTransaction(*conn, [&]() -> absl::Status {
    RETURN_IF_ERROR(conn->Exec("DELETE FROM isobar.file_chunks WHERE deployment_id = $1 AND file_key = $2",
                               {deployment, std::string(key)})
                        .status());
    RETURN_IF_ERROR(CheckQuota(*conn, deployment, bytes.size(), quota));
    // One chunk per statement: a statement's parameters never hold more than a chunk.
    int64_t chunk = 0;
    for (size_t offset = 0; offset < bytes.size() || chunk == 0; offset += kChunkBytes, ++chunk) {
      RETURN_IF_ERROR(InsertChunk(*conn, deployment, key, chunk, bytes.substr(offset, kChunkBytes)));
      if (bytes.empty()) break;
    }
    return absl::OkStatus();
  });
}

absl::Status FileBlobs::WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota) {
  if (bytes.size() > kChunkBytes) return absl::InvalidArgumentError("a chunk holds at most 1 MiB");
  absl::MutexLock one_writer(&write_mu_);
  ConnectionGate::Pass pass(Gate());
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  const std::string deployment = absl::StrCat(deployment_.value());
  return InTransaction(*conn, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckQuota(*conn, deployment, bytes.size(), quota));
    return InsertChunk(*conn, deployment, key, chunk, bytes);
  });
}

absl::Status FileBlobs::Rename(absl::string_view from, absl::string_view to, int64_t chunks) {
  ConnectionGate::Pass pass(Gate());
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  const std::string deployment = absl::StrCat(deployment_.value());
  return InTransaction(*conn, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PgResult moved, conn->Exec("UPDATE isobar.file_chunks SET file_key = $3, created_at = now() "
                                                "WHERE deployment_id = $1 AND file_key = $2",
                                                {deployment, std::string(from), std::string(to)}));
    if (moved.affected_rows() != chunks) {
      return absl::FailedPreconditionError(absl::StrCat("expected ", chunks, " chunks under ", from, ", found ",
                                                        moved.affected_rows()));
    }
    return absl::OkStatus();
  });
}

absl::Status FileBlobs::Read(absl::string_view key, uint64_t offset, uint64_t length,
                             const std::function<absl::Status(absl::string_view)>& sink) {
  ConnectionGate::Pass pass(Gate());
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  const std::string deployment = absl::StrCat(deployment_.value());
  const uint64_t end = offset + length;
  const uint64_t first = offset / kChunkBytes;
  const uint64_t last = length == 0 ? first : (end - 1) / kChunkBytes;
  bool found = false;
  uint64_t delivered = 0;
  // A chunk per round trip: what is held at once is one chunk, whatever the file's size.
  for (uint64_t chunk = first; chunk <= last; ++chunk) {
    ASSIGN_OR_RETURN(PgResult rows, conn->Exec("SELECT data FROM isobar.file_chunks WHERE deployment_id = $1 AND "
                                               "file_key = $2 AND chunk = $3",
                                               {deployment, std::string(key), absl::StrCat(chunk)}));
    if (rows.rows() == 0) {
      if (chunk == first && !found) {
        // Nothing at all under the key, or a range past the end of what is.
        ASSIGN_OR_RETURN(PgResult any, conn->Exec("SELECT 1 FROM isobar.file_chunks WHERE deployment_id = $1 AND "
                                                  "file_key = $2 LIMIT 1",
                                                  {deployment, std::string(key)}));
        if (any.rows() == 0) return absl::NotFoundError(absl::StrCat("no stored bytes for file ", key));
      }
      return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
    }
    found = true;
    const std::string data = rows.GetBytes(0, 0);
    const uint64_t chunk_start = chunk * kChunkBytes;
    const uint64_t from = std::max(offset, chunk_start) - chunk_start;
    const uint64_t to = std::min<uint64_t>(end, chunk_start + data.size()) - chunk_start;
    if (length == 0) return absl::OkStatus();
    if (from > to || from >= data.size()) return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
    RETURN_IF_ERROR(sink(absl::string_view(data).substr(from, to - from)));
    delivered += to - from;
  }
  // (What was handed over is a prefix of the range; a caller that knows the size never sees this.)
  if (delivered < length) return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
  return absl::OkStatus();
}

absl::Status FileBlobs::Delete(absl::string_view key) {
  ConnectionGate::Pass pass(Gate());
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  return conn
      ->Exec("DELETE FROM isobar.file_chunks WHERE deployment_id = $1 AND file_key = $2",
             {absl::StrCat(deployment_.value()), std::string(key)})
      .status();
}

absl::StatusOr<uint64_t> FileBlobs::TotalBytes() {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult rows, conn->Exec("SELECT coalesce(sum(octet_length(data)), 0)::bigint FROM "
                                             "isobar.file_chunks WHERE deployment_id = $1",
                                             {absl::StrCat(deployment_.value())}));
  return static_cast<uint64_t>(rows.GetInt(0, 0));
}

absl::StatusOr<size_t> FileBlobs::CollectOrphans(absl::Duration min_age, size_t limit,
                                                 const std::function<absl::StatusOr<bool>(const std::string&)>& referenced) {
  // Every old enough key, a page at a time in key order (so that live files, however many, do not
  // hide the orphans behind them).
  size_t deleted = 0;
  std::string after;
  for (;;) {
    std::vector<std::string> keys;
    {
      ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
      ASSIGN_OR_RETURN(PgResult rows,
                       conn->Exec("SELECT file_key FROM isobar.file_chunks WHERE deployment_id = $1 AND chunk = 0 AND "
                                  "created_at < now() - make_interval(secs => $2) AND file_key > $3 "
                                  "ORDER BY file_key LIMIT $4",
                                  {absl::StrCat(deployment_.value()), absl::StrCat(absl::ToDoubleSeconds(min_age)), after,
                                   absl::StrCat(limit)}));
      for (int r = 0; r < rows.rows(); ++r) keys.emplace_back(rows.Get(r, 0));
    }
    for (const std::string& key : keys) {
      ASSIGN_OR_RETURN(bool in_use, referenced(key));
      if (in_use) continue;
      RETURN_IF_ERROR(Delete(key));
      ++deleted;
    }
    if (keys.size() < limit) return deleted;
    after = keys.back();
  }
}

}  // namespace isobar::storage
