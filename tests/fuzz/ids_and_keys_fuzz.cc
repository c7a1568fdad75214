// The decoders of ids, index keys and cursors, which user code and clients hand us as strings: each
// either refuses or round-trips exactly; and ByIdRange (by_id scans) finds exactly the ids whose keys
// lie in an arbitrary key range.
#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/cursor.h"
#include "storage/document.h"
#include "storage/document_id.h"
#include "storage/index_key.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using isobar::storage::DocumentId;
using isobar::storage::InternalId;
using isobar::storage::TableNumber;

// The id just before `id` (which is not all zero).
InternalId Previous(InternalId id) {
  for (int i = 15; i >= 0; --i) {
    if (id[static_cast<size_t>(i)]-- != 0) break;
  }
  return id;
}

bool AllZero(const InternalId& id) {
  for (uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

// first = the least id whose key is >= bound: its key is, its predecessor's is not.
void IsLeastAtOrAfter(TableNumber table, const InternalId& first, const std::string& bound) {
  FUZZ_CHECK(isobar::storage::ByIdKey(DocumentId{table, first}) >= bound);
  if (!AllZero(first)) FUZZ_CHECK(isobar::storage::ByIdKey(DocumentId{table, Previous(first)}) < bound);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (absl::StatusOr<DocumentId> id = isobar::storage::DecodeDocumentId(input); id.ok()) {
    FUZZ_CHECK(isobar::storage::EncodeDocumentId(*id) == input);
  }
  if (absl::StatusOr<std::vector<isobar::storage::Value>> key = isobar::storage::DecodeIndexKey(input); key.ok()) {
    FUZZ_CHECK(isobar::storage::EncodeIndexKey(*key) == input);
  }
  if (absl::StatusOr<isobar::storage::CursorPosition> cursor = isobar::storage::DecodeCursor("secret", "query", input);
      cursor.ok()) {
    FUZZ_CHECK(isobar::storage::DecodeCursor("other secret", "query", input).status().code() ==
               absl::StatusCode::kInvalidArgument);
  }
  // ByIdRange over [start, end) cut from the input, for one of a few table numbers.
  if (size >= 1) {
    const TableNumber table(isobar::storage::kFirstUserTableNumber + (data[0] % 4) * 100000);
    const std::string rest = input.substr(1);
    const size_t cut = rest.find('\x01');
    isobar::storage::KeyRange range{rest.substr(0, cut), std::nullopt};
    if (cut != std::string::npos) range.end = rest.substr(cut + 1);
    std::optional<isobar::storage::InternalIdRange> ids = isobar::storage::ByIdRange(table, range);
    if (ids.has_value()) {
      IsLeastAtOrAfter(table, ids->first, range.start);
      if (range.end.has_value()) FUZZ_CHECK(isobar::storage::ByIdKey(DocumentId{table, ids->first}) < *range.end);
      if (ids->end.has_value()) IsLeastAtOrAfter(table, *ids->end, *range.end);
    } else if (range.end.has_value() && range.start < *range.end) {
      // Empty: then no id's key is in the range; the least key at or after start is not below end.
      std::optional<isobar::storage::InternalIdRange> open = isobar::storage::ByIdRange(table, {range.start, std::nullopt});
      if (open.has_value()) FUZZ_CHECK(isobar::storage::ByIdKey(DocumentId{table, open->first}) >= *range.end);
    }
  }
  return 0;
}
