#include "storage/paginate.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/cursor.h"

namespace isobar::storage {

absl::StatusOr<PageResult> QueryPage(Transaction& txn, const PageRequest& request, absl::string_view cursor_key) {
  if (request.page_size == 0 && !request.end_cursor.has_value()) {
    return absl::InvalidArgumentError("Must request at least 1 document while paginating");
  }
  if (request.page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("Requested too many items: ", request.page_size));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<QueryStream> stream, QueryStream::Open(txn, request.query));
  const std::string& fingerprint = stream->fingerprint();
  PageResult result;
  std::optional<CursorPosition> start, stop;
  if (request.cursor.has_value()) {
    ASSIGN_OR_RETURN(start, DecodeCursor(cursor_key, fingerprint, *request.cursor));
    if (start->end) {
      result.is_done = true;
      result.continue_cursor = *request.cursor;
      return result;
    }
  }
  if (request.end_cursor.has_value()) {
    ASSIGN_OR_RETURN(stop, DecodeCursor(cursor_key, fingerprint, *request.end_cursor));
  }
  // An empty key means "from the start" (no real index key is empty).
  stream->Resume(start.has_value() && !start->after_key.empty() ? std::optional<std::string>(start->after_key)
                                                                 : std::nullopt,
                 stop.has_value() && !stop->end ? std::optional<std::string>(stop->after_key) : std::nullopt);

  bool finished = false;
  size_t bytes_read = 0;
  for (;;) {
    if (!stop.has_value() && result.page.size() >= request.page_size) break;
    if ((request.maximum_rows_read.has_value() && stream->examined() >= *request.maximum_rows_read) ||
        (request.maximum_bytes_read.has_value() && bytes_read >= *request.maximum_bytes_read)) {
      result.page_status = "SplitRequired";
      break;
    }
    ASSIGN_OR_RETURN(std::optional<Value> document, stream->Next(txn));
    if (!document.has_value()) {
      finished = true;
      break;
    }
    bytes_read += ConvexSize(*document);
    result.page.push_back(std::move(*document));
  }
  if (stop.has_value()) {
    // Re-running a page ends where it ended before.
    result.continue_cursor = *request.end_cursor;
    result.is_done = stop->end && finished;
    return result;
  }
  if (finished) {
    result.is_done = true;
    result.continue_cursor = EncodeCursor(cursor_key, fingerprint, CursorPosition{true, ""});
  } else {
    const std::optional<std::string>& last = stream->last_examined();
    CursorPosition position{false, last.has_value() ? *last : (start.has_value() ? start->after_key : "")};
    result.continue_cursor = EncodeCursor(cursor_key, fingerprint, position);
  }
  return result;
}

}  // namespace isobar::storage
