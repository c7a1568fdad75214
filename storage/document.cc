#include "storage/document.h"

#include "absl/strings/str_cat.h"
#include "base/rust_format.h"
#include "storage/convex_json.h"
#include "storage/index_key.h"

namespace isobar::storage {
namespace {

bool ContainsUndefined(const Value& v) {
  switch (v.type()) {
    case Value::Type::kUndefined:
      return true;
    case Value::Type::kArray:
      for (const Value& item : v.array()) {
        if (ContainsUndefined(item)) return true;
      }
      return false;
    case Value::Type::kObject:
      for (const auto& [name, field] : v.object()) {
        if (ContainsUndefined(field)) return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace

absl::Status ValidateUserFields(const Value& fields, const DocumentId* existing_id,
                                const Value* existing_creation_time) {
  if (fields.type() != Value::Type::kObject) return absl::InvalidArgumentError("a document must be an object");
  for (const auto& [name, value] : fields.object()) {
    if (name.empty() || name[0] != '_') continue;
    if (name == "_id" && existing_id != nullptr && value.type() == Value::Type::kString &&
        value.string() == EncodeDocumentId(*existing_id)) {
      continue;
    }
    if (name == "_creationTime" && existing_creation_time != nullptr && Compare(value, *existing_creation_time) == 0) {
      continue;
    }
    if (name == "_id" || name == "_creationTime") {
      return absl::InvalidArgumentError(absl::StrCat("Provided ", name, " field does not match the document's"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "Field name \"", name, "\" starts with an underscore, which is reserved for system fields"));
  }
  if (ContainsUndefined(fields)) return absl::InvalidArgumentError("undefined is not a valid Convex value");
  return absl::OkStatus();
}

absl::StatusOr<Value> WithSystemFields(const Value& fields, const DocumentId& id, double creation_time,
                                       const DocumentLimits& limits) {
  Value::Object out;
  out.reserve(fields.object().size() + 2);
  for (const auto& field : fields.object()) {
    if (field.first != "_id" && field.first != "_creationTime") out.push_back(field);
  }
  out.emplace_back("_creationTime", Value::Float64(creation_time));
  out.emplace_back("_id", Value::String(EncodeDocumentId(id)));
  // Convex's checks and messages (its value crate): the system fields count towards the field limit.
  if (out.size() > kMaxObjectFields) {
    return absl::InvalidArgumentError(
        absl::StrCat("Object has too many fields (", out.size(), " > maximum number ", kMaxObjectFields, ")"));
  }
  absl::StatusOr<Value> document = Value::MakeObject(std::move(out));
  if (!document.ok()) return document.status();
  if (size_t size = ConvexSize(*document); size > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("Value is too large (", FormatBinarySize(size), " > maximum size ",
                                                   FormatBinarySize(limits.max_bytes), ")"));
  }
  if (int depth = NestingDepth(*document); depth > limits.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat("Document is too nested (nested ", depth,
                                                   " levels deep > maximum nesting ", limits.max_depth, ")"));
  }
  return document;
}

std::string IndexKeyOf(const Value& document, const std::vector<std::string>& fields) {
  std::string key;
  for (const std::string& path : fields) AppendIndexKeyValue(document.GetPath(path), &key);
  return key;
}

std::string ByIdKey(const DocumentId& id) { return EncodeIndexKey({Value::String(EncodeDocumentId(id))}); }

namespace {

using Uint128 = unsigned __int128;

InternalId ToInternal(Uint128 n) {
  InternalId id{};
  for (int i = 15; i >= 0; --i, n >>= 8) id[static_cast<size_t>(i)] = static_cast<uint8_t>(n & 0xFF);
  return id;
}

// The smallest internal id of `table` whose by_id key is >= `bound`, or nullopt if every key is
// below it. ByIdKey is strictly increasing in the internal id, so this is a binary search.
std::optional<InternalId> FirstIdAtOrAfter(TableNumber table, const std::string& bound) {
  const Uint128 max = ~Uint128(0);
  if (ByIdKey(DocumentId{table, ToInternal(max)}) < bound) return std::nullopt;
  Uint128 low = 0, high = max;  // the answer is in [low, high]
  while (low < high) {
    const Uint128 mid = low + (high - low) / 2;
    if (ByIdKey(DocumentId{table, ToInternal(mid)}) >= bound) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return ToInternal(low);
}

}  // namespace

std::optional<InternalIdRange> ByIdRange(TableNumber table, const KeyRange& range) {
  std::optional<InternalId> first = FirstIdAtOrAfter(table, range.start);
  if (!first.has_value()) return std::nullopt;
  InternalIdRange out{*first, std::nullopt};
  if (range.end.has_value()) {
    out.end = FirstIdAtOrAfter(table, *range.end);
    if (out.end.has_value() && *out.end <= out.first) return std::nullopt;
  }
  return out;
}

std::string TableNameKey(absl::string_view name) { return EncodeIndexKey({Value::String(std::string(name))}); }

std::string TableNumberKey(TableNumber number) {
  return EncodeIndexKey({Value::Int64(static_cast<int64_t>(number.value()))});
}

InternalId IdGenerator::Next(Timestamp now) {
  InternalId id{};
  for (size_t i = 0; i < 14; i += 7) {
    uint64_t r = rng_();
    for (size_t k = 0; k < 7; ++k) id[i + k] = static_cast<uint8_t>(r >> (8 * k));
  }
  const uint16_t day = static_cast<uint16_t>(now.value() / 1000000000 / 86400);
  id[14] = static_cast<uint8_t>(day >> 8);
  id[15] = static_cast<uint8_t>(day & 0xFF);
  return id;
}

}  // namespace isobar::storage
