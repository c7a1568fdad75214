// The walking skeleton's only table: every `isobar/echo` host call appends one row, which proves that
// a host call from a sandboxed worker reached PostgreSQL. Real document storage replaces it.
#ifndef ISOBAR_STORAGE_ECHO_LOG_H_
#define ISOBAR_STORAGE_ECHO_LOG_H_

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "base/strong_id.h"
#include "storage/pg_conn.h"

namespace isobar::storage {

// Appends a row and returns its id.
absl::StatusOr<int64_t> AppendEcho(PgConn& conn, WorkerId worker, absl::string_view payload);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_ECHO_LOG_H_
