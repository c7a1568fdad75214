#include "storage/document_id.h"

#include "absl/strings/str_cat.h"

namespace isobar::storage {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr uint16_t kIdVersion = 0;

absl::Status Undecodable(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("Unable to decode ID: ", why));
}

int DigitValue(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

}  // namespace

uint16_t Fletcher16(absl::string_view bytes) {
  uint8_t c0 = 0, c1 = 0;
  for (char b : bytes) {
    c0 = static_cast<uint8_t>(c0 + static_cast<uint8_t>(b));
    c1 = static_cast<uint8_t>(c1 + c0);
  }
  return static_cast<uint16_t>((c1 << 8) | c0);
}

std::string Base32Encode(absl::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char b : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(b);
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

absl::StatusOr<std::string> Base32Decode(absl::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = DigitValue(c);
    if (v < 0) return Undecodable("ID wasn't valid base32");
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  // Leftover bits must be zero padding for the encoding to be canonical.
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return Undecodable("non-canonical base32");
  return out;
}

std::string EncodeDocumentId(const DocumentId& id) {
  std::string bytes;
  uint32_t n = id.table.value();
  do {
    uint8_t byte = n & 0x7F;
    n >>= 7;
    if (n != 0) byte |= 0x80;
    bytes.push_back(static_cast<char>(byte));
  } while (n != 0);
  bytes.append(reinterpret_cast<const char*>(id.internal.data()), id.internal.size());
  uint16_t footer = Fletcher16(bytes) ^ kIdVersion;
  bytes.push_back(static_cast<char>(footer & 0xFF));
  bytes.push_back(static_cast<char>(footer >> 8));
  return Base32Encode(bytes);
}

absl::StatusOr<DocumentId> DecodeDocumentId(absl::string_view text) {
  // Convex's messages (its id_v6.rs).
  if (text.size() < 31 || text.size() > 37) return Undecodable(absl::StrCat("Invalid ID length ", text.size()));
  absl::StatusOr<std::string> decoded = Base32Decode(text);
  if (!decoded.ok()) return decoded.status();
  const std::string& bytes = *decoded;
  uint32_t table = 0;
  size_t pos = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= bytes.size() || shift > 28) return Undecodable("Invalid table number");
    uint8_t byte = static_cast<uint8_t>(bytes[pos++]);
    if (shift == 28 && (byte & 0x70) != 0) return Undecodable("Invalid table number");
    table |= static_cast<uint32_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && pos > 1) return Undecodable("Invalid table number");
      break;
    }
  }
  if (table == 0) return Undecodable("Invalid table number");
  if (bytes.size() != pos + 16 + 2) return Undecodable(absl::StrCat("Invalid ID length ", text.size()));
  uint16_t footer = static_cast<uint16_t>(static_cast<uint8_t>(bytes[pos + 16]) |
                                          (static_cast<uint8_t>(bytes[pos + 17]) << 8));
  if (const uint16_t version = Fletcher16(absl::string_view(bytes).substr(0, pos + 16)) ^ footer; version != kIdVersion) {
    return Undecodable(absl::StrCat("Invalid ID version ", version, " (expected ", kIdVersion, ")"));
  }
  DocumentId id;
  id.table = TableNumber(table);
  for (size_t i = 0; i < 16; ++i) id.internal[i] = static_cast<uint8_t>(bytes[pos + i]);
  if (EncodeDocumentId(id) != text) return Undecodable("non-canonical encoding");
  return id;
}

}  // namespace isobar::storage
