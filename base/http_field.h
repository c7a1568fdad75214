// What an HTTP header field value may hold (RFC 9110 §5.5): visible characters, spaces and tabs, and
// bytes above 0x7f (obs-text); no control characters, so never a line break. Shared by the listener's
// check of every response (supervisor/http) and by the stored-file content types that become a
// Content-Type header later (supervisor/runner).
#ifndef ISOBAR_BASE_HTTP_FIELD_H_
#define ISOBAR_BASE_HTTP_FIELD_H_

#include <algorithm>

#include "absl/strings/string_view.h"

namespace isobar {

inline bool IsHttpFieldValue(absl::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

}  // namespace isobar

#endif  // ISOBAR_BASE_HTTP_FIELD_H_
