// Convex document ids (CONVEX_ABI.md §5): VInt(table number) ‖ 16-byte internal id ‖ 2-byte footer
// (Fletcher-16 of the preceding bytes XOR version 0, little-endian), in lowercase Crockford base32.
//
//   DocumentId id{TableNumber(10001), internal};
//   std::string text = EncodeDocumentId(id);              // "j57028t5cy4tqkff04hmasw9nd86rqvv"
//   ASSIGN_OR_RETURN(DocumentId back, DecodeDocumentId(text));
//
// Decoding is strict: length 31..37, the alphabet, the footer, no trailing bytes, a canonical VInt,
// and re-encoding must give the input back. Any failure is INVALID_ARGUMENT "Unable to decode ID".
#ifndef ISOBAR_STORAGE_DOCUMENT_ID_H_
#define ISOBAR_STORAGE_DOCUMENT_ID_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/strong_id.h"

namespace isobar::storage {

struct TableNumberTag {};
// A table's number within its deployment; user tables start at 10001. Never 0.
using TableNumber = StrongId<TableNumberTag, uint32_t>;

inline constexpr uint32_t kFirstUserTableNumber = 10001;

struct DocumentId {
  TableNumber table;
  std::array<uint8_t, 16> internal{};

  bool operator==(const DocumentId& o) const { return table == o.table && internal == o.internal; }
  bool operator!=(const DocumentId& o) const { return !(*this == o); }
  bool operator<(const DocumentId& o) const {
    return table != o.table ? table < o.table : internal < o.internal;
  }
};

std::string EncodeDocumentId(const DocumentId& id);
absl::StatusOr<DocumentId> DecodeDocumentId(absl::string_view text);

// Convex's base32 (lowercase Crockford, MSB first, no padding); exposed for tests.
std::string Base32Encode(absl::string_view bytes);
absl::StatusOr<std::string> Base32Decode(absl::string_view text);

uint16_t Fletcher16(absl::string_view bytes);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_DOCUMENT_ID_H_
