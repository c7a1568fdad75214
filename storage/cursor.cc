#include "storage/cursor.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/sha256.h"

namespace isobar::storage {
namespace {

constexpr char kVersion = 1;
constexpr size_t kTagBytes = 16;

std::string Tag(absl::string_view secret, absl::string_view fingerprint, char kind, absl::string_view key) {
  std::string message = absl::StrCat(fingerprint.size(), ":", fingerprint, std::string(1, kind), key);
  return HmacSha256(secret, message).substr(0, kTagBytes);
}

absl::Status Invalid() { return absl::InvalidArgumentError("Invalid cursor: it is not a cursor of this query"); }

}  // namespace

std::string EncodeCursor(absl::string_view secret, absl::string_view fingerprint, const CursorPosition& position) {
  const char kind = position.end ? 1 : 0;
  const absl::string_view key = position.end ? absl::string_view() : absl::string_view(position.after_key);
  std::string raw = absl::StrCat(std::string(1, kVersion), std::string(1, kind), key, Tag(secret, fingerprint, kind, key));
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<CursorPosition> DecodeCursor(absl::string_view secret, absl::string_view fingerprint,
                                            absl::string_view cursor) {
  std::string raw;
  if (cursor.size() > 16384 || !absl::WebSafeBase64Unescape(cursor, &raw) || raw.size() < 2 + kTagBytes ||
      raw[0] != kVersion || (raw[1] != 0 && raw[1] != 1)) {
    return Invalid();
  }
  const char kind = raw[1];
  const std::string key = raw.substr(2, raw.size() - 2 - kTagBytes);
  const std::string expected = Tag(secret, fingerprint, kind, key);
  if (!ConstantTimeEquals(expected, absl::string_view(raw).substr(raw.size() - kTagBytes))) return Invalid();
  if (kind == 1 && !key.empty()) return Invalid();
  return CursorPosition{kind == 1, key};
}

}  // namespace isobar::storage
