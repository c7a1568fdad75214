// One page of a paginated query (CONVEX_ABI.md §2.5): `.paginate({numItems, cursor, endCursor,
// maximumRowsRead})`.
//
//   PageRequest request{query, /*cursor=*/std::nullopt, /*end_cursor=*/std::nullopt, /*page_size=*/10};
//   ASSIGN_OR_RETURN(PageResult page, QueryPage(txn, request, deployment.cursor_key));
//   ... page.page, page.is_done, page.continue_cursor ...
//
// Cursors are opaque and authenticated (cursor.h). With `end_cursor` the page runs to that position and
// ignores page_size (reactive re-execution of a page). Reaching maximum_rows_read ends the page early
// with page_status "SplitRequired".
#ifndef ISOBAR_STORAGE_PAGINATE_H_
#define ISOBAR_STORAGE_PAGINATE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/query.h"

namespace isobar::storage {

inline constexpr size_t kMaxPageSize = 32000;

struct PageRequest {
  Query query;
  std::optional<std::string> cursor;
  std::optional<std::string> end_cursor;
  size_t page_size = 0;
  std::optional<size_t> maximum_rows_read;
  std::optional<size_t> maximum_bytes_read;  // of the documents the page holds (Convex's value size)
};

struct PageResult {
  std::vector<Value> page;
  bool is_done = false;
  std::string continue_cursor;
  std::optional<std::string> page_status;
};

absl::StatusOr<PageResult> QueryPage(Transaction& txn, const PageRequest& request, absl::string_view cursor_key);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_PAGINATE_H_
