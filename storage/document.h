// Documents as the storage engine handles them: a Convex object holding the user's fields plus the
// system fields _id (the encoded document id, a string) and _creationTime (milliseconds, a float).
#ifndef ISOBAR_STORAGE_DOCUMENT_H_
#define ISOBAR_STORAGE_DOCUMENT_H_

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/document_id.h"
#include "storage/persistence.h"
#include "storage/types.h"
#include "storage/value.h"

namespace isobar::storage {

// Fields in one object, system fields included (Convex's MAX_OBJECT_FIELDS).
inline constexpr size_t kMaxObjectFields = 1024;

struct DocumentLimits {
  size_t max_bytes = 1u << 20;  // ConvexSize of the whole document
  int max_depth = 16;           // NestingDepth of the document object
};

// A user-supplied document (insert or replace) before the system fields are added: an object, no
// top-level field starting with "_" other than _id/_creationTime equal to `expected` (replace may
// echo them back), no undefined anywhere.
absl::Status ValidateUserFields(const Value& fields, const DocumentId* existing_id = nullptr,
                                const Value* existing_creation_time = nullptr);

// `fields` plus _id and _creationTime (which replace any echoed copies), checked against `limits`.
absl::StatusOr<Value> WithSystemFields(const Value& fields, const DocumentId& id, double creation_time,
                                       const DocumentLimits& limits = {});

// The encoded key of `document` in an index over `fields` (dotted paths; a missing field is
// undefined). `_id` and `_creationTime` are read from the document like any other field.
std::string IndexKeyOf(const Value& document, const std::vector<std::string>& fields);

// The by_id key of a document id (the point interval that db.get reads). Within one table, by_id
// keys are in the order of the internal ids (the id text is big-endian base32 behind a fixed prefix).
std::string ByIdKey(const DocumentId& id);

// The internal ids of `table` whose by_id keys lie in `range`: [first, end) (no end: unbounded).
// nullopt when there are none. by_id is logical (served from the document log), so a by_id scan is
// a scan of the table's ids between these bounds.
struct InternalIdRange {
  InternalId first{};
  std::optional<InternalId> end;
};
std::optional<InternalIdRange> ByIdRange(TableNumber table, const KeyRange& range);

// The table catalog as a pseudo-index, for reads of what does not exist yet. A lookup that finds no
// table records a point read of the table's name (or number) here; every commit that inserts into a
// table writes both of its keys here. So the first document of a table invalidates every cached
// result and conflicts with every transaction that saw the table missing (Convex records such reads
// on its `_tables` table). Index ids of real indexes start at 1.
inline constexpr IndexId kTableCatalogIndex{0};
std::string TableNameKey(absl::string_view name);
std::string TableNumberKey(TableNumber number);

// New internal ids: 14 random bytes, then the UNIX day number (big-endian), as Convex does.
class IdGenerator {
 public:
  explicit IdGenerator(uint64_t seed) : rng_(seed) {}
  InternalId Next(Timestamp now);

 private:
  std::mt19937_64 rng_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_DOCUMENT_H_
