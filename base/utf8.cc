#include "base/utf8.h"

#include <optional>

#include <cstdint>

namespace isobar {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed sequence at text[i], or 0 when it is ill-formed; then `*subpart` is
// how many bytes its maximal subpart spans (at least 1), all replaced by one U+FFFD.
size_t SequenceAt(absl::string_view text, size_t i, size_t* subpart) {
  const uint8_t lead = static_cast<uint8_t>(text[i]);
  *subpart = 1;
  if (lead < 0x80) return 1;
  size_t length;
  uint8_t low = 0x80, high = 0xBF;  // the range of the second byte (Unicode Table 3-7)
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlongs
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlongs
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if (i + k >= text.size()) return 0;
    const uint8_t byte = static_cast<uint8_t>(text[i + k]);
    const bool fits = k == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF);
    if (!fits) return 0;
    *subpart = k + 1;
  }
  return length;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0, subpart; i < text.size();) {
    const size_t length = SequenceAt(text, i, &subpart);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0, subpart; i < text.size();) {
    const size_t length = SequenceAt(text, i, &subpart);
    if (length == 0) {
      out.append(kReplacement);
      i += subpart;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

bool MakeValidUtf8(std::string* text) {
  if (IsValidUtf8(*text)) return false;
  *text = ToValidUtf8(*text);
  return true;
}

std::string Latin1ToUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::optional<std::string> Utf8ToLatin1(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F)));
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace isobar
