#include "base/base64.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/escaping.h"

namespace isobar {

std::string Base64Encode(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  // EVP_EncodeBlock takes an int length: encode in slices of a multiple of 3 bytes.
  constexpr size_t kSlice = 3 << 20;
  size_t written = 0;
  for (size_t at = 0; at < bytes.size(); at += kSlice) {
    const size_t n = std::min(kSlice, bytes.size() - at);
    written += static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()) + written,
                                                   reinterpret_cast<const unsigned char*>(bytes.data()) + at,
                                                   static_cast<int>(n)));
  }
  out.resize(written);
  return out;
}

std::optional<std::string> Base64Decode(absl::string_view text) {
  if (text.empty()) return std::string();
  // The alphabet only: EVP_DecodeBlock skips whitespace at the ends (and '-' after the text), absl
  // whitespace anywhere; we accept neither.
  if (!std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
               c == '=';
      })) {
    return std::nullopt;
  }
  if (text.size() % 4 != 0) {
    std::string out;  // unpadded: absl's lenient path (rare, small)
    if (!absl::Base64Unescape(text, &out)) return std::nullopt;
    return out;
  }
  const size_t padding = text.back() != '=' ? 0 : text[text.size() - 2] == '=' ? 2 : 1;
  std::string out(3 * (text.size() / 4), '\0');
  constexpr size_t kSlice = 4 << 20;
  size_t written = 0;
  for (size_t at = 0; at < text.size(); at += kSlice) {
    const size_t n = std::min(kSlice, text.size() - at);
    // '=' only at the very end (EVP would take it mid-text as zero bits).
    if (at + n < text.size() && text.substr(at, n).find('=') != absl::string_view::npos) return std::nullopt;
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()) + written,
                                        reinterpret_cast<const unsigned char*>(text.data()) + at, static_cast<int>(n));
    if (decoded < 0) return std::nullopt;
    written += static_cast<size_t>(decoded);
  }
  if (text.substr(0, text.size() - padding).find('=') != absl::string_view::npos) return std::nullopt;
  out.resize(written - padding);
  return out;
}

}  // namespace isobar
