// An order-preserving byte encoding of index keys (tuples of Values), so that range scans over encoded
// bytes (in PostgreSQL, memcmp order of BYTEA) agree with the Convex total order.
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
// tuple prefix is a byte prefix of the encoding of the whole tuple. The converse does not hold: "a" is
// 60 61 00 and "a\0" is 60 61 00 FF 00, so the keys whose leading values are exactly a prefix's are
// not all the keys that start with its bytes. They are [prefix, WholeValuesEnd(prefix)): every key
// that goes on after whole values goes on with a tag (below 0xFF), and one whose last string goes on
// (an escaped NUL) goes on with 0xFF. Ranges over values use WholeValuesEnd, never PrefixSuccessor.
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

// The end of the keys whose leading values are exactly those that `prefix` (whole values) encodes:
// prefix + 0xFF (see above). [prefix, WholeValuesEnd(prefix)) is what q.eq(...) reads; a bound "gt v"
// starts, and "lte v" ends, at WholeValuesEnd(prefix + v).
std::string WholeValuesEnd(absl::string_view prefix);

// The smallest byte string greater than every byte string that starts with `prefix`; empty when there
// is none (the prefix is all 0xFF). Not for ranges of values (WholeValuesEnd is).
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_INDEX_KEY_H_
