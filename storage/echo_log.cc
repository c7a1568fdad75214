#include "storage/echo_log.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {

absl::StatusOr<int64_t> AppendEcho(PgConn& conn, WorkerId worker, absl::string_view payload) {
  ASSIGN_OR_RETURN(PgResult result,
                   conn.Exec("INSERT INTO isobar.echo_log (worker_id, payload) VALUES ($1, $2) RETURNING id",
                             {absl::StrCat(worker.value()), std::string(payload)}));
  int64_t id = 0;
  if (result.rows() != 1 || !absl::SimpleAtoi(result.Get(0, 0), &id)) {
    return absl::InternalError("INSERT ... RETURNING id returned no id");
  }
  return id;
}

}  // namespace isobar::storage
