// Standard base64 (RFC 4648 §4, with padding) for bulk data: file and fetch bodies crossing the
// worker boundary as host-call JSON. OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, several times faster
// than absl's here (measured: absl's encoder was 40% of the host threads' time in bench/fetch).
// Small, occasional values (digests, ids) may keep using absl.
#ifndef ISOBAR_BASE_BASE64_H_
#define ISOBAR_BASE_BASE64_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace isobar {

std::string Base64Encode(absl::string_view bytes);
// nullopt unless `text` is base64 (padded, or unpadded as absl accepts it; no whitespace).
std::optional<std::string> Base64Decode(absl::string_view text);

}  // namespace isobar

#endif  // ISOBAR_BASE_BASE64_H_
