// A PostgreSQL connection (libpq) that only runs parameterised statements.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(conninfo));
//   ASSIGN_OR_RETURN(PgResult rows, conn->Exec("SELECT id FROM t WHERE name = $1", {name}));
//   for (int r = 0; r < rows.rows(); ++r) Use(rows.Get(r, 0));
//
// SECURITY: SQL text is always a constant of ours; every value travels as a parameter
// (PQexecParams), so no user-controlled string can reach SQL text. There is deliberately no method
// that formats values into SQL.
//
// Errors map to canonical codes: a lost or refused connection is UNAVAILABLE (the connection is then
// unusable: check healthy()), a serialization failure or deadlock is ABORTED, a unique violation is
// ALREADY_EXISTS, a cancelled statement (statement_timeout) is DEADLINE_EXCEEDED, anything else INTERNAL.
// Not thread-safe: one thread uses a connection at a time (PgPool hands them out).
#ifndef ISOBAR_STORAGE_PG_CONN_H_
#define ISOBAR_STORAGE_PG_CONN_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace isobar::storage {

// One statement's result rows, in text format.
class PgResult {
 public:
  explicit PgResult(PGresult* result);
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  int columns() const;
  bool IsNull(int row, int column) const;
  // The value as text; empty for NULL. The view lives as long as this PgResult.
  absl::string_view Get(int row, int column) const;
  // A bytea column (text format "\x..."), decoded.
  std::string GetBytes(int row, int column) const;
  // An integer column; 0 for NULL.
  int64_t GetInt(int row, int column) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  int64_t affected_rows() const;

 private:
  friend class PgConn;
  // OK for a result with rows or a completed command, else the error (with `conn`'s state).
  absl::Status status(PGconn* conn) const;
  PGresult* result_;
};

// A parameter: text by default; Binary() for bytea (sent as raw bytes, no escaping); Null() for NULL.
class PgParam {
 public:
  PgParam(std::string text) : data_(std::move(text)) {}  // NOLINT: implicit on purpose
  PgParam(const char* text) : data_(std::string(text)) {}  // NOLINT
  PgParam(std::optional<std::string> text) : data_(std::move(text)) {}  // NOLINT
  static PgParam Null() { return PgParam(std::optional<std::string>()); }
  static PgParam Binary(std::string bytes) {
    PgParam p(std::move(bytes));
    p.binary_ = true;
    return p;
  }
  bool is_null() const { return !data_.has_value(); }
  bool binary() const { return binary_; }
  const std::string& data() const { return *data_; }

 private:
  std::optional<std::string> data_;
  bool binary_ = false;
};

// Whether `status` (from PgConn) says the connection itself failed: it broke, libpq gave up on it (an
// error PostgreSQL did not send, so with no SQLSTATE), or the server ended the session (SQLSTATE class
// 08 or 57P, e.g. a shutdown). A statement in flight then may or may not have committed. Such errors
// are UNAVAILABLE.
bool IsConnectionLost(const absl::Status& status);

class PgConn {
 public:
  // conninfo: a libpq connection string or URI.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement. `sql` must be a constant; values go in `params` ($1, $2, ...).
  absl::StatusOr<PgResult> Exec(absl::string_view sql, const std::vector<PgParam>& params = {});
  // The same, for statements on hot paths: prepared on this connection at first use (one more round
  // trip), then only bound and run, so PostgreSQL parses and plans them once per connection. At most
  // kMaxPrepared statements per connection; past that, as Exec.
  absl::StatusOr<PgResult> ExecPrepared(absl::string_view sql, const std::vector<PgParam>& params = {});
  static constexpr size_t kMaxPrepared = 64;

  // False once the connection is broken; the pool then replaces it.
  bool healthy() const;
  // The server this connection reached: its host (a name, an address, or a unix socket directory,
  // which starts with '/') and port.
  std::string server_host() const;
  std::string server_port() const;
  // Healthy and outside any transaction: safe to hand to the next user.
  bool reusable() const;

 private:
  explicit PgConn(PGconn* conn) : conn_(conn) {}
  // `gone`: set when the statement failed because its prepared statement no longer exists (it did
  // not run).
  absl::StatusOr<PgResult> RunPrepared(absl::string_view sql, const std::vector<PgParam>& params, bool& gone);
  // Runs `sql` as the prepared statement `name` (null: the unnamed one, parsed each time).
  absl::StatusOr<PgResult> Run(absl::string_view sql, const std::string* name, const std::vector<PgParam>& params,
                               bool& gone);
  PGconn* conn_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // sql -> statement name, on this connection
  uint64_t statements_named_ = 0;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_PG_CONN_H_
