// Convex validators (CONVEX_ABI.md §6): the JSON that `exportArgs` / `exportReturns` and a schema's
// `documentType` carry, parsed once and checked against values.
//
//   ASSIGN_OR_RETURN(Validator args, Validator::Parse(export_args_plain_json));
//   absl::Status ok = args.Check(value, ids);   // INVALID_ARGUMENT naming the path, value and validator
//
// Semantics follow the backend: objects refuse extra and missing required fields; `id` checks that the
// string is an id of the named table; `number` takes any float64; `bigint` takes int64; "map" and "set"
// are `any`. Messages are Convex's ("Value does not match validator.\nPath: .body\nValue: 1\nValidator:
// v.string()", "Object is missing the required field `body`. ...", "Object contains extra field `x` that is
// not in the validator. ...").
#ifndef ISOBAR_STORAGE_VALIDATOR_H_
#define ISOBAR_STORAGE_VALIDATOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "storage/document_id.h"
#include "storage/value.h"

namespace isobar::storage {

// The table an id belongs to, by name: nullopt when its table does not exist.
using TableOfId = std::function<std::optional<std::string>(const DocumentId& id)>;

class Validator {
 public:
  enum class Kind { kAny, kNull, kNumber, kBigint, kBoolean, kString, kBytes, kId, kLiteral, kArray, kObject,
                    kRecord, kUnion, kCommitTs };

  struct Field {
    std::string name;
    bool optional = false;
    std::shared_ptr<const Validator> type;
  };

  // From validator JSON parsed as plain JSON (ConvexJsonOptions::plain). INVALID_ARGUMENT when malformed.
  static absl::StatusOr<Validator> Parse(const Value& plain);
  static Validator Any() { return Validator(Kind::kAny); }

  // OK or INVALID_ARGUMENT with Convex's message.
  absl::Status Check(const Value& value, const TableOfId& ids) const;

  // As the user wrote it: v.object({body: v.string(), n: v.optional(v.int64())}).
  std::string ToString() const;

  Kind kind() const { return kind_; }
  // For an object validator: its fields, in declaration order.
  const std::vector<Field>& fields() const { return fields_; }

  // Whether a value this validator accepts can have a field at `path` (["a", "b"] for "a.b"), as
  // Convex decides for index fields: through objects and any member of a union; v.any() can.
  bool CanContainField(absl::Span<const std::string> path) const;

 private:
  explicit Validator(Kind kind) : kind_(kind) {}
  static absl::StatusOr<Validator> ParseAt(const Value& plain, int depth);
  static absl::StatusOr<std::shared_ptr<const Validator>> ParseShared(const Value& plain, int depth);
  // The first mismatch under `path` (".a[0].b"), or nullopt.
  std::optional<std::string> Mismatch(const Value& value, const TableOfId& ids, const std::string& path) const;
  bool Matches(const Value& value, const TableOfId& ids) const { return !Mismatch(value, ids, "").has_value(); }

  Kind kind_;
  std::string table_;                                   // kId
  Value literal_;                                       // kLiteral
  std::vector<std::shared_ptr<const Validator>> items_;  // kArray: 1; kRecord: keys, values; kUnion: members
  std::vector<Field> fields_;                           // kObject
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_VALIDATOR_H_
