// UTF-8 as the wire formats need it (protobuf `string` fields, JSON): well-formed, meaning no overlong
// forms, no surrogates (U+D800..U+DFFF) and nothing above U+10FFFF. Text that crosses a trust boundary
// as bytes (a worker's log lines and errors) is made well-formed here before anything else reads it.
//
//   ToValidUtf8("a\xed\xa0\xbc" "b")   // "a\uFFFD\uFFFD\uFFFDb": a lone surrogate, as V8 encodes it
#ifndef ISOBAR_BASE_UTF8_H_
#define ISOBAR_BASE_UTF8_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace isobar {

bool IsValidUtf8(absl::string_view text);

// `text` with every ill-formed subsequence replaced by U+FFFD, one per maximal subpart (Unicode §3.9,
// the practice of WHATWG's decoder and of V8's REPLACE_INVALID_UTF8). Valid text comes back as is.
std::string ToValidUtf8(absl::string_view text);

// The same, in place; whether anything was replaced.
bool MakeValidUtf8(std::string* text);

// HTTP header bytes as the characters a Headers object holds: each byte one code point (a ByteString,
// as the Fetch standard and Convex read them), written as UTF-8.
std::string Latin1ToUtf8(absl::string_view bytes);
// The other way: characters up to U+00FF as their bytes; nullopt for a character above U+00FF or text
// that is not UTF-8.
std::optional<std::string> Utf8ToLatin1(absl::string_view text);

}  // namespace isobar

#endif  // ISOBAR_BASE_UTF8_H_
