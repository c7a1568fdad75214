// UTF-8 as the wire formats need it (protobuf `string` fields, JSON): well-formed, meaning no overlong
// forms, no surrogates (U+D800..U+DFFF) and nothing above U+10FFFF. Text that crosses a trust boundary
// as bytes (a worker's log lines and errors) is made well-formed here before anything else reads it.
//
//   ToValidUtf8("a\xed\xa0\xbc" "b")   // "a\uFFFD\uFFFD\uFFFDb": a lone surrogate, as V8 encodes it
#ifndef ISOBAR_BASE_UTF8_H_
#define ISOBAR_BASE_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace isobar {

bool IsValidUtf8(absl::string_view text);

// `text` with every ill-formed subsequence replaced by U+FFFD, one per maximal subpart (Unicode §3.9,
// the practice of WHATWG's decoder and of V8's REPLACE_INVALID_UTF8). Valid text comes back as is.
std::string ToValidUtf8(absl::string_view text);

// The same, in place; whether anything was replaced.
bool MakeValidUtf8(std::string* text);

}  // namespace isobar

#endif  // ISOBAR_BASE_UTF8_H_
