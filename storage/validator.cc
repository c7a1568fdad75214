#include "storage/validator.h"

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"

namespace isobar::storage {
namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxShownValue = 256;

// A value as messages show it: Convex JSON, cut short.
// A float as Rust's Debug prints an f64: "5.0", "1.5", "1e21", "NaN", "inf".
std::string RustFloat(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  const double magnitude = std::fabs(x);
  if (x == std::floor(x) && magnitude < 1e16) return absl::StrFormat("%.1f", x);
  char text[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, x);
    if (std::strtod(text, nullptr) == x) break;
  }
  std::string out = text;
  const size_t e = out.find('e');
  if (e == std::string::npos) return out;
  // "1.5e-07" -> "1.5e-7", "1e+21" -> "1e21"
  std::string exponent = out.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent.erase(0, exponent[0] == '-' || exponent[0] == '+' ? 1 : 0);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return absl::StrCat(out.substr(0, e), "e", negative ? "-" : "", exponent);
}

// As Convex displays a value in its messages (its value crate's Display): numbers as Rust prints
// them, strings quoted, object keys bare ({a: 1.0, b: "x"}), bytes as b"<base64>".
void AppendShown(const Value& value, std::string* out) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      absl::StrAppend(out, "undefined");
      return;
    case Value::Type::kNull:
      absl::StrAppend(out, "null");
      return;
    case Value::Type::kInt64:
      absl::StrAppend(out, value.int64());
      return;
    case Value::Type::kFloat64:
      absl::StrAppend(out, RustFloat(value.float64()));
      return;
    case Value::Type::kBoolean:
      absl::StrAppend(out, value.boolean() ? "true" : "false");
      return;
    case Value::Type::kString:
      absl::StrAppend(out, "\"", absl::CEscape(value.string()), "\"");
      return;
    case Value::Type::kBytes:
      absl::StrAppend(out, "b\"", absl::Base64Escape(value.bytes()), "\"");
      return;
    case Value::Type::kArray: {
      absl::StrAppend(out, "[");
      for (size_t i = 0; i < value.array().size(); ++i) {
        if (i > 0) absl::StrAppend(out, ", ");
        AppendShown(value.array()[i], out);
      }
      absl::StrAppend(out, "]");
      return;
    }
    case Value::Type::kObject: {
      absl::StrAppend(out, "{");
      bool first = true;
      for (const auto& [name, field] : value.object()) {
        absl::StrAppend(out, first ? "" : ", ", name, ": ");
        first = false;
        AppendShown(field, out);
      }
      absl::StrAppend(out, "}");
      return;
    }
  }
}

std::string Show(const Value& value) {
  std::string text;
  AppendShown(value, &text);
  if (text.size() > kMaxShownValue) text = absl::StrCat(text.substr(0, kMaxShownValue), "...");
  return text;
}

const std::string* StringField(const Value& object, absl::string_view name) {
  const Value& v = object.Get(name);
  return v.type() == Value::Type::kString ? &v.string() : nullptr;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Validator>> Validator::ParseShared(const Value& plain, int depth) {
  ASSIGN_OR_RETURN(Validator v, ParseAt(plain, depth));
  return std::make_shared<const Validator>(std::move(v));
}

absl::StatusOr<Validator> Validator::Parse(const Value& plain) { return ParseAt(plain, 0); }

absl::StatusOr<Validator> Validator::ParseAt(const Value& plain, int depth) {
  if (depth > kMaxDepth) return absl::InvalidArgumentError("validator nested too deeply");
  if (plain.type() != Value::Type::kObject) return absl::InvalidArgumentError("a validator is a JSON object");
  const std::string* type = StringField(plain, "type");
  if (type == nullptr) return absl::InvalidArgumentError("a validator has a string \"type\"");
  static constexpr std::pair<absl::string_view, Kind> kSimple[] = {
      {"any", Kind::kAny},         {"map", Kind::kAny},         {"set", Kind::kAny},
      {"null", Kind::kNull},       {"number", Kind::kNumber},   {"float64", Kind::kNumber},
      {"bigint", Kind::kBigint},   {"int64", Kind::kBigint},    {"boolean", Kind::kBoolean},
      {"string", Kind::kString},   {"bytes", Kind::kBytes},     {"commitTs", Kind::kCommitTs},
  };
  for (const auto& [name, kind] : kSimple) {
    if (*type == name) return Validator(kind);
  }
  const Value& value = plain.Get("value");
  if (*type == "id") {
    const std::string* table = StringField(plain, "tableName");
    if (table == nullptr) return absl::InvalidArgumentError("an id validator has a \"tableName\"");
    Validator v(Kind::kId);
    v.table_ = *table;
    return v;
  }
  if (*type == "literal") {
    ASSIGN_OR_RETURN(Value literal, FromPlainJson(value, /*allow_undefined=*/false));
    switch (literal.type()) {
      case Value::Type::kString:
      case Value::Type::kFloat64:
      case Value::Type::kInt64:
      case Value::Type::kBoolean:
        break;
      default:
        return absl::InvalidArgumentError("a literal validator holds a string, number, boolean or bigint");
    }
    Validator v(Kind::kLiteral);
    v.literal_ = std::move(literal);
    return v;
  }
  if (*type == "array") {
    Validator v(Kind::kArray);
    ASSIGN_OR_RETURN(auto element, ParseShared(value, depth + 1));
    v.items_.push_back(std::move(element));
    return v;
  }
  if (*type == "union") {
    if (value.type() != Value::Type::kArray) return absl::InvalidArgumentError("a union validator has an array");
    Validator v(Kind::kUnion);
    for (const Value& member : value.array()) {
      ASSIGN_OR_RETURN(auto parsed, ParseShared(member, depth + 1));
      v.items_.push_back(std::move(parsed));
    }
    return v;
  }
  auto field_type = [&](const Value& entry) -> absl::StatusOr<std::pair<std::shared_ptr<const Validator>, bool>> {
    if (entry.type() != Value::Type::kObject) return absl::InvalidArgumentError("a field entry is an object");
    ASSIGN_OR_RETURN(auto parsed, ParseShared(entry.Get("fieldType"), depth + 1));
    const Value& optional = entry.Get("optional");
    return std::make_pair(std::move(parsed), optional.type() == Value::Type::kBoolean && optional.boolean());
  };
  if (*type == "object") {
    if (value.type() != Value::Type::kObject) return absl::InvalidArgumentError("an object validator has fields");
    Validator v(Kind::kObject);
    for (const auto& [name, entry] : value.object()) {
      ASSIGN_OR_RETURN(auto typed, field_type(entry));
      v.fields_.push_back(Field{name, typed.second, std::move(typed.first)});
    }
    return v;
  }
  if (*type == "record") {
    Validator v(Kind::kRecord);
    ASSIGN_OR_RETURN(auto keys, ParseShared(plain.Get("keys"), depth + 1));
    ASSIGN_OR_RETURN(auto values, field_type(plain.Get("values")));
    v.items_ = {std::move(keys), std::move(values.first)};
    return v;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown validator type \"", *type, "\""));
}

std::string Validator::ToString() const {
  switch (kind_) {
    case Kind::kAny: return "v.any()";
    case Kind::kNull: return "v.null()";
    case Kind::kNumber: return "v.float64()";
    case Kind::kBigint: return "v.int64()";
    case Kind::kBoolean: return "v.boolean()";
    case Kind::kString: return "v.string()";
    case Kind::kBytes: return "v.bytes()";
    case Kind::kCommitTs: return "v.commitTs()";
    case Kind::kId: return absl::StrCat("v.id(\"", table_, "\")");
    case Kind::kLiteral: return absl::StrCat("v.literal(", ToConvexJson(literal_), ")");
    case Kind::kArray: return absl::StrCat("v.array(", items_[0]->ToString(), ")");
    case Kind::kRecord: return absl::StrCat("v.record(", items_[0]->ToString(), ", ", items_[1]->ToString(), ")");
    case Kind::kUnion:
      return absl::StrCat("v.union(", absl::StrJoin(items_, ", ", [](std::string* out, const auto& item) {
                            out->append(item->ToString());
                          }), ")");
    case Kind::kObject:
      return absl::StrCat("v.object({", absl::StrJoin(fields_, ", ", [](std::string* out, const Field& f) {
                            absl::StrAppend(out, f.name, ": ",
                                            f.optional ? absl::StrCat("v.optional(", f.type->ToString(), ")")
                                                       : f.type->ToString());
                          }), "})");
  }
  return "v.any()";
}

bool Validator::CanContainField(absl::Span<const std::string> path) const {
  if (path.empty()) return true;
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kUnion:
      return std::any_of(items_.begin(), items_.end(), [&](const auto& member) { return member->CanContainField(path); });
    case Kind::kObject:
      for (const Field& f : fields_) {
        if (f.name == path[0]) return f.type->CanContainField(path.subspan(1));
      }
      return false;
    default:
      return false;
  }
}

absl::Status Validator::Check(const Value& value, const TableOfId& ids) const {
  std::optional<std::string> mismatch = Mismatch(value, ids, "");
  if (!mismatch.has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(*mismatch);
}

std::optional<std::string> Validator::Mismatch(const Value& value, const TableOfId& ids,
                                               const std::string& path) const {
  auto no_match = [&]() -> std::optional<std::string> {
    return absl::StrCat("Value does not match validator.\n", path.empty() ? "" : absl::StrCat("Path: ", path), "\nValue: ", Show(value),
                        "\nValidator: ", ToString());
  };
  switch (kind_) {
    case Kind::kAny:
      return value.is_undefined() ? no_match() : std::nullopt;
    case Kind::kNull:
      return value.type() == Value::Type::kNull ? std::nullopt : no_match();
    case Kind::kNumber:
      return value.type() == Value::Type::kFloat64 ? std::nullopt : no_match();
    case Kind::kBigint:
      return value.type() == Value::Type::kInt64 ? std::nullopt : no_match();
    case Kind::kBoolean:
      return value.type() == Value::Type::kBoolean ? std::nullopt : no_match();
    case Kind::kString:
      return value.type() == Value::Type::kString ? std::nullopt : no_match();
    case Kind::kBytes:
      return value.type() == Value::Type::kBytes ? std::nullopt : no_match();
    case Kind::kCommitTs:
      return value.type() == Value::Type::kInt64 ? std::nullopt : no_match();
    case Kind::kId: {
      if (value.type() != Value::Type::kString) return no_match();
      absl::StatusOr<DocumentId> id = DecodeDocumentId(value.string());
      if (!id.ok()) return no_match();
      std::optional<std::string> table = ids ? ids(*id) : std::nullopt;
      if (!table.has_value()) return no_match();
      if (*table == table_) return std::nullopt;
      // Convex's words, with the path right after the sentence.
      const std::string where = path.empty() ? "" : absl::StrCat("Path: ", path);
      if (absl::StartsWith(*table, "_")) {
        return absl::StrCat("Found ID \"", value.string(), "\" from a system table, which does not match the table name in ",
                            "validator `v.id(\"", table_, "\")`.", where);
      }
      return absl::StrCat("Found ID \"", value.string(), "\" from table `", *table,
                          "`, which does not match the table name in validator `v.id(\"", table_, "\")`.", where);
    }
    case Kind::kLiteral:
      return value.type() == literal_.type() && Compare(value, literal_) == 0 ? std::nullopt : no_match();
    case Kind::kArray: {
      if (value.type() != Value::Type::kArray) return no_match();
      for (size_t i = 0; i < value.array().size(); ++i) {
        if (auto m = items_[0]->Mismatch(value.array()[i], ids, absl::StrCat(path, "[", i, "]"))) return m;
      }
      return std::nullopt;
    }
    case Kind::kRecord: {
      if (value.type() != Value::Type::kObject) return no_match();
      for (const auto& [name, field] : value.object()) {
        if (!items_[0]->Matches(Value::String(name), ids)) {
          return absl::StrCat("Record key does not match validator.\n", path.empty() ? "" : absl::StrCat("Path: ", path),
                              "\nKey: \"", name, "\"\nValidator: ", items_[0]->ToString());
        }
        if (auto m = items_[1]->Mismatch(field, ids, absl::StrCat(path, ".", name))) return m;
      }
      return std::nullopt;
    }
    case Kind::kUnion: {
      for (const auto& member : items_) {
        if (member->Matches(value, ids)) return std::nullopt;
      }
      return no_match();
    }
    case Kind::kObject: {
      if (value.type() != Value::Type::kObject) return no_match();
      const std::string where = path.empty() ? "" : absl::StrCat("\nPath: ", path);
      for (const auto& [name, field] : value.object()) {
        bool known = false;
        for (const Field& f : fields_) known = known || f.name == name;
        if (!known) {
          return absl::StrCat("Object contains extra field `", name, "` that is not in the validator.", where,
                              "\n\nObject: ", Show(value), "\nValidator: ", ToString());
        }
      }
      for (const Field& f : fields_) {
        const Value& field = value.Get(f.name);
        if (field.is_undefined()) {
          if (f.optional) continue;
          return absl::StrCat("Object is missing the required field `", f.name,
                              "`. Consider wrapping the field validator in `v.optional(...)` if this is expected.",
                              where, "\n\nObject: ", Show(value), "\nValidator: ", ToString());
        }
        if (auto m = f.type->Mismatch(field, ids, absl::StrCat(path, ".", f.name))) return m;
      }
      return std::nullopt;
    }
  }
  return no_match();
}

}  // namespace isobar::storage
