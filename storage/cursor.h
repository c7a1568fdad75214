// Pagination cursors: opaque strings that name a position in one query's index range, authenticated
// with the deployment's cursor key so that a forged cursor, or one from another query or deployment,
// is refused (INVALID_ARGUMENT "Invalid cursor").
//
// Layout before base64url: version (1) ‖ kind (0: after a key, 1: the end) ‖ key ‖ tag, where tag is
// the first 16 bytes of HMAC-SHA256(cursor key, query fingerprint ‖ kind ‖ key).
#ifndef ISOBAR_STORAGE_CURSOR_H_
#define ISOBAR_STORAGE_CURSOR_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::storage {

struct CursorPosition {
  bool end = false;       // the whole range has been read
  std::string after_key;  // otherwise: continue after this index key; empty: from the start
};

std::string EncodeCursor(absl::string_view secret, absl::string_view fingerprint, const CursorPosition& position);
absl::StatusOr<CursorPosition> DecodeCursor(absl::string_view secret, absl::string_view fingerprint,
                                            absl::string_view cursor);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_CURSOR_H_
