#include "storage/pg_conn.h"

#include <postgresql/libpq-fe.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace isobar::storage {
namespace {

constexpr char kConnectionLostPayload[] = "isobar.dev/pg-connection-lost";

absl::Status StatusFromResult(const PGresult* result, PGconn* conn) {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  message = std::string(absl::StripTrailingAsciiWhitespace(message));
  if (message.empty()) message = PQerrorMessage(conn);
  absl::string_view state = sqlstate != nullptr ? sqlstate : "";
  // Every error PostgreSQL sends carries a SQLSTATE; one without is libpq's own ("server closed the
  // connection unexpectedly" can come before libpq marks the connection bad).
  if (PQstatus(conn) != CONNECTION_OK || state.empty()) {
    absl::Status lost = absl::UnavailableError(absl::StrCat("PostgreSQL connection lost: ", message));
    lost.SetPayload(kConnectionLostPayload, absl::Cord("1"));
    return lost;
  }
  std::string text = absl::StrCat("PostgreSQL error ", state, ": ", message);
  // Connection exceptions (08) and the server ending the session (57P01 admin shutdown, 57P02 crash
  // shutdown, ...) can cut a statement after its commit: a fast shutdown ends a commit waiting for a
  // synchronous standby with 57P01 although it "has already committed locally". So they are lost
  // connections too, whatever libpq's state says yet.
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P")) {
    absl::Status lost = absl::UnavailableError(text);
    lost.SetPayload(kConnectionLostPayload, absl::Cord("1"));
    return lost;
  }
  if (state == "40001" || state == "40P01") return absl::AbortedError(text);
  if (state == "23505") return absl::AlreadyExistsError(text);
  if (state == "57014") return absl::DeadlineExceededError(text);
  return absl::InternalError(text);
}

}  // namespace

bool IsConnectionLost(const absl::Status& status) { return status.GetPayload(kConnectionLostPayload).has_value(); }

PgResult::PgResult(PGresult* result) : result_(result) {}
PgResult::PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

absl::Status PgResult::status(PGconn* conn) const {
  const ExecStatusType status = result_ != nullptr ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return absl::OkStatus();
  return StatusFromResult(result_, conn);
}

int PgResult::rows() const { return PQntuples(result_); }
int PgResult::columns() const { return PQnfields(result_); }
bool PgResult::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
absl::string_view PgResult::Get(int row, int column) const {
  return absl::string_view(PQgetvalue(result_, row, column),
                          static_cast<size_t>(PQgetlength(result_, row, column)));
}
std::string PgResult::GetBytes(int row, int column) const {
  absl::string_view text = Get(row, column);
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return std::string();
  return absl::HexStringToBytes(text.substr(2));
}

int64_t PgResult::GetInt(int row, int column) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(row, column), &v)) return 0;
  return v;
}

int64_t PgResult::affected_rows() const {
  const char* tuples = PQcmdTuples(result_);
  return tuples[0] == '\0' ? 0 : std::strtoll(tuples, nullptr, 10);
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", message));
  }
  return std::unique_ptr<PgConn>(new PgConn(conn));
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
std::string PgConn::server_host() const {
  const char* host = PQhost(conn_);
  return host == nullptr ? "" : host;
}
std::string PgConn::server_port() const {
  const char* port = PQport(conn_);
  return port == nullptr ? "" : port;
}
bool PgConn::reusable() const { return healthy() && PQtransactionStatus(conn_) == PQTRANS_IDLE; }

absl::StatusOr<PgResult> PgConn::Exec(absl::string_view sql, const std::vector<PgParam>& params) {
  bool gone = false;
  return Run(sql, nullptr, params, gone);
}

absl::StatusOr<PgResult> PgConn::ExecPrepared(absl::string_view sql, const std::vector<PgParam>& params) {
  bool gone = false;
  absl::StatusOr<PgResult> result = RunPrepared(sql, params, gone);
  // The statement was gone (a DISCARD ALL), so nothing ran: prepared again, once.
  if (gone) return RunPrepared(sql, params, gone);
  return result;
}

absl::StatusOr<PgResult> PgConn::RunPrepared(absl::string_view sql, const std::vector<PgParam>& params, bool& gone) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    if (prepared_.size() >= kMaxPrepared) return Run(sql, nullptr, params, gone);
    std::string name = absl::StrCat("isobar_", ++statements_named_);
    const std::string sql_text(sql);
    PgResult prepared(PQprepare(conn_, name.c_str(), sql_text.c_str(), static_cast<int>(params.size()),
                                /*paramTypes=*/nullptr));
    if (absl::Status status = prepared.status(conn_); !status.ok()) return status;
    it = prepared_.emplace(sql_text, std::move(name)).first;
  }
  return Run(sql, &it->second, params, gone);
}

absl::StatusOr<PgResult> PgConn::Run(absl::string_view sql, const std::string* name,
                                     const std::vector<PgParam>& params, bool& gone) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  values.reserve(params.size());
  lengths.reserve(params.size());
  formats.reserve(params.size());
  for (const PgParam& param : params) {
    values.push_back(param.is_null() ? nullptr : param.data().data());
    lengths.push_back(param.is_null() ? 0 : static_cast<int>(param.data().size()));
    formats.push_back(param.binary() ? 1 : 0);
  }
  PGresult* raw = nullptr;
  if (name != nullptr) {
    raw = PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                         formats.data(), /*resultFormat=*/0);
  } else {
    const std::string sql_text(sql);
    raw = PQexecParams(conn_, sql_text.c_str(), static_cast<int>(params.size()), /*paramTypes=*/nullptr, values.data(),
                       lengths.data(), formats.data(), /*resultFormat=*/0);
  }
  PgResult result(raw);
  if (absl::Status status = result.status(conn_); !status.ok()) {
    // A session reset (DISCARD ALL) drops prepared statements: prepare again next time.
    const char* state = raw != nullptr ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    gone = name != nullptr && state != nullptr && absl::string_view(state) == "26000";
    if (gone) prepared_.erase(std::string(sql));
    return status;
  }
  return result;
}

}  // namespace isobar::storage
