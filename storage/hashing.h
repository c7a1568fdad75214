// SHA-256 and HMAC-SHA256 (OpenSSL's libcrypto).
#ifndef ISOBAR_STORAGE_HASHING_H_
#define ISOBAR_STORAGE_HASHING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace isobar::storage {

// 32 raw bytes.
std::string Sha256(absl::string_view data);
std::string HmacSha256(absl::string_view key, absl::string_view message);
// Constant-time equality of two byte strings of the same length.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_HASHING_H_
