// Documents as the storage engine handles them: a Convex object holding the user's fields plus the
// system fields _id (the encoded document id, a string) and _creationTime (milliseconds, a float).
#ifndef ISOBAR_STORAGE_DOCUMENT_H_
#define ISOBAR_STORAGE_DOCUMENT_H_

#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/document_id.h"
#include "storage/persistence.h"
#include "storage/types.h"
#include "storage/value.h"

namespace isobar::storage {

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

// The by_id key of a document id (the point interval that db.get reads).
std::string ByIdKey(const DocumentId& id);

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
