// An order-preserving, prefix-free byte encoding of index keys (tuples of Values), so that range scans
// over encoded bytes (in PostgreSQL, memcmp order of BYTEA) agree with the Convex total order.
//
//   std::string a = EncodeIndexKey({Value::String("ann"), Value::Float64(1.5)});
//   std::string b = EncodeIndexKey({Value::String("bob")});
//   a < b   (byte comparison), exactly as Compare(tuple a, tuple b) < 0
//
// Each value is a type tag (in type order) followed by:
//   int64    8 bytes big-endian of (v XOR 2^63);
//   float64  8 bytes big-endian of TotalOrderBits(v);
//   boolean  nothing (false and true have their own tags);
//   string, bytes  the bytes with 0x00 escaped as 0x00 0xFF, then 0x00;
//   array    the elements, then 0x00;
//   object   for each field: its name as a string (tag, escaped, 0x00) and its value; then 0x00.
// Every tag is above 0x00, so a terminator sorts before any further element, and the encoding of a
// tuple prefix is a byte prefix of the encoding of the whole tuple (Eq-prefix scans are byte-prefix
// scans).
#ifndef ISOBAR_STORAGE_INDEX_KEY_H_
#define ISOBAR_STORAGE_INDEX_KEY_H_

#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/value.h"

namespace isobar::storage {

std::string EncodeIndexKey(absl::Span<const Value> values);
void AppendIndexKeyValue(const Value& value, std::string* out);

// The inverse; INVALID_ARGUMENT for bytes that no key encodes to (keys come from our own database, so
// this is a corruption check).
absl::StatusOr<std::vector<Value>> DecodeIndexKey(absl::string_view encoded);

// Where each whole value of `encoded` ends, in order, as far as it holds whole values: the prefixes
// of a key that are keys of its leading values (what an Eq range reads).
absl::InlinedVector<size_t, 8> IndexKeyValueEnds(absl::string_view encoded);

// The smallest byte string greater than every key that starts with `prefix` (for prefix scans as
// half-open ranges); empty when there is none (the prefix is all 0xFF).
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_INDEX_KEY_H_
