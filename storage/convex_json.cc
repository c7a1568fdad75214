#include "storage/convex_json.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include <algorithm>

#include "absl/strings/str_cat.h"

namespace isobar::storage {
namespace {

// The first UTF-8 character of `text` (one byte if it is not valid UTF-8).
absl::string_view FirstCharacter(absl::string_view text) {
  const unsigned char lead = static_cast<unsigned char>(text[0]);
  size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return text.substr(0, std::min(length, text.size()));
}

// Convex's rules and messages for field names (its value crate, field_name.rs).
absl::Status ValidateFieldName(const std::string& name, const std::string& /*path*/, size_t max_length) {
  if (name.size() > max_length) {
    return absl::InvalidArgumentError(absl::StrCat("Field name is too long (", name.size(), " > maximum ", max_length, ")"));
  }
  if (!name.empty() && name[0] == '$') {
    return absl::InvalidArgumentError(absl::StrCat("Field name ", name, " starts with '$', which is reserved."));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c < 32 || c > 126) {
      const absl::string_view character = FirstCharacter(absl::string_view(name).substr(i));
      return absl::InvalidArgumentError(absl::StrCat("Field name ", name, " has invalid character '", character,
                                                     "': Field names can only contain non-control ASCII characters"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DecodeBase64(const Value& value, absl::string_view what) {
  if (value.type() != Value::Type::kString) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must hold a base64 string"));
  }
  std::string bytes;
  if (!absl::Base64Unescape(value.string(), &bytes) || absl::Base64Escape(bytes) != value.string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds invalid or non-canonical base64"));
  }
  return bytes;
}

absl::StatusOr<Value> DecodeSpecial(const std::string& name, const Value& value, const std::string& path,
                                  bool allow_undefined) {
  if (name == "$integer" || name == "$float") {
    absl::StatusOr<std::string> bytes = DecodeBase64(value, name);
    if (!bytes.ok()) return bytes.status();
    if (bytes->size() != 8) return absl::InvalidArgumentError(absl::StrCat(name, " must encode exactly 8 bytes"));
    uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>((*bytes)[static_cast<size_t>(i)]);
    if (name == "$integer") return Value::Int64(static_cast<int64_t>(bits));
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isfinite(d) && !(d == 0 && std::signbit(d))) {
      return absl::InvalidArgumentError("$float is only for NaN, Infinity, -Infinity and -0; send other numbers as JSON numbers");
    }
    return Value::Float64(d);
  }
  if (name == "$bytes") {
    absl::StatusOr<std::string> bytes = DecodeBase64(value, name);
    if (!bytes.ok()) return bytes.status();
    return Value::Bytes(std::move(*bytes));
  }
  if (name == "$undefined" && allow_undefined && value.type() == Value::Type::kNull) return Value::Undefined();
  return absl::InvalidArgumentError(absl::StrCat("Field name ", name, " starts with '$', which is reserved."));
}

class Parser {
 public:
  Parser(absl::string_view text, const ConvexJsonOptions& options) : text_(text), options_(options) {}

  absl::StatusOr<Value> ParseDocument() {
    if (text_.size() > options_.limits.max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("JSON value is ", text_.size(), " bytes; the limit is ", options_.limits.max_bytes));
    }
    absl::StatusOr<Value> value = ParseValue(0, "");
    if (!value.ok()) return value;
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the JSON value");
    if (value->is_undefined() && !options_.allow_undefined && !options_.plain) {
      return absl::InvalidArgumentError("undefined is not a valid Convex value");
    }
    return value;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", pos_, ": ", what));
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(absl::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  // `depth`: containers enclosing this value. `path`: for messages.
  absl::StatusOr<Value> ParseValue(int depth, const std::string& path) {
    if (++values_ > options_.limits.max_values) {
      return absl::ResourceExhaustedError(
          absl::StrCat("Value has too many parts (more than ", options_.limits.max_values, " values in all)"));
    }
    SkipSpace();
    if (pos_ >= text_.size()) return Error("unexpected end of input");
    switch (text_[pos_]) {
      case '{':
        return ParseObject(depth, path);
      case '[':
        return ParseArray(depth, path);
      case '"': {
        std::string s;
        if (absl::Status st = ParseString(&s); !st.ok()) return st;
        return Value::String(std::move(s));
      }
      case 't':
        if (Consume("true")) return Value::Boolean(true);
        break;
      case 'f':
        if (Consume("false")) return Value::Boolean(false);
        break;
      case 'n':
        if (Consume("null")) return Value::Null();
        break;
      default:
        if (text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9')) return ParseNumber();
    }
    return Error("expected a JSON value");
  }

  absl::Status CheckDepth(int depth, const std::string& path) const {
    if (depth + 1 > options_.limits.max_depth) {
      return absl::ResourceExhaustedError(absl::StrCat("Value is too nested (nested ", depth + 1,
                                                       " levels deep > maximum nesting ", options_.limits.max_depth, ")"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Value> ParseArray(int depth, const std::string& path) {
    if (absl::Status st = CheckDepth(depth, path); !st.ok()) return st;
    ++pos_;  // [
    Value::Array items;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Value::MakeArray(std::move(items));
    }
    for (;;) {
      if (items.size() >= options_.limits.max_array_items) {
        return absl::ResourceExhaustedError(absl::StrCat("Array length is too long (", items.size() + 1,
                                                         " > maximum length ", options_.limits.max_array_items, ")"));
      }
      absl::StatusOr<Value> item = ParseValue(depth + 1, absl::StrCat(path, "[", items.size(), "]"));
      if (!item.ok()) return item;
      if (item->is_undefined() && !options_.plain) {
        return absl::InvalidArgumentError("undefined is not a valid Convex value in an array");
      }
      items.push_back(std::move(*item));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Value::MakeArray(std::move(items));
      }
      return Error("expected ',' or ']'");
    }
  }

  absl::StatusOr<Value> ParseObject(int depth, const std::string& path) {
    if (absl::Status st = CheckDepth(depth, path); !st.ok()) return st;
    ++pos_;  // {
    Value::Object fields;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return Value::MakeSortedObject({});
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a field name");
      std::string name;
      if (absl::Status st = ParseString(&name); !st.ok()) return st;
      SkipSpace();
      if (!Consume(":")) return Error("expected ':'");
      if (fields.size() >= options_.limits.max_object_fields) {
        return absl::ResourceExhaustedError(absl::StrCat("Object has too many fields (", fields.size() + 1,
                                                         " > maximum number ", options_.limits.max_object_fields, ")"));
      }
      std::string field_path = path.empty() ? name : absl::StrCat(path, ".", name);
      absl::StatusOr<Value> value = ParseValue(depth + 1, field_path);
      if (!value.ok()) return value;
      fields.emplace_back(std::move(name), std::move(*value));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        break;
      }
      return Error("expected ',' or '}'");
    }
    if (options_.plain) {
      absl::StatusOr<Value> object = Value::MakeObject(std::move(fields));
      if (!object.ok()) return absl::InvalidArgumentError(object.status().message());
      return object;
    }
    if (fields.size() == 1 && !fields[0].first.empty() && fields[0].first[0] == '$') {
      return DecodeSpecial(fields[0].first, fields[0].second, path, options_.allow_undefined);
    }
    for (const auto& [name, value] : fields) {
      if (absl::Status st = ValidateFieldName(name, path, options_.limits.max_field_name_length); !st.ok()) return st;
      if (value.is_undefined() && !options_.allow_undefined) {
        return absl::InvalidArgumentError(absl::StrCat("undefined is not a valid Convex value (field \"", name, "\")"));
      }
    }
    absl::StatusOr<Value> object = Value::MakeObject(std::move(fields));
    if (!object.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(object.status().message(), path.empty() ? "" : " at ", path));
    }
    return object;
  }

  absl::StatusOr<Value> ParseNumber() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !(text_[pos_] >= '0' && text_[pos_] <= '9')) return Error("invalid number");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !(text_[pos_] >= '0' && text_[pos_] <= '9')) return Error("invalid number");
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !(text_[pos_] >= '0' && text_[pos_] <= '9')) return Error("invalid number");
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    }
    const absl::string_view number = text_.substr(start, pos_ - start);
    if (options_.export_integers && number.find_first_of(".eE") == absl::string_view::npos) {
      int64_t integer = 0;
      if (absl::SimpleAtoi(number, &integer)) return Value::Int64(integer);  // else a float64, as Convex reads it
    }
    double d = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), d);
    if (ec == std::errc::result_out_of_range) {
      // from_chars leaves `d` alone out of range, so tell underflow (rounds to zero, as in
      // JavaScript) from overflow by the number's form: a negative exponent, or no exponent and a zero
      // integer part, is tiny.
      size_t e = number.find_first_of("eE");
      bool negative_exponent = e != absl::string_view::npos && number[e + 1] == '-';
      bool zero_integer = e == absl::string_view::npos && number.substr(number[0] == '-' ? 1 : 0, 1) == "0";
      if (!negative_exponent && !zero_integer) {
        pos_ = start;
        return Error("number out of float64 range");
      }
      d = number[0] == '-' ? -0.0 : 0.0;
    } else if (ec != std::errc() || end != number.data() + number.size()) {
      pos_ = start;
      return Error("invalid number");
    }
    return Value::Float64(d);
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + static_cast<size_t>(i)];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return false;
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  // One raw UTF-8 sequence starting at pos_, validated (no overlongs, surrogates or > U+10FFFF).
  bool CopyUtf8(std::string* out) {
    const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
    unsigned char c = s[pos_];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++pos_;
      return true;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (pos_ + len > text_.size()) return false;
    for (size_t i = 1; i < len; ++i) {
      if ((s[pos_ + i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[pos_ + i] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out->append(text_.data() + pos_, len);
    pos_ += len;
    return true;
  }

  absl::Status ParseString(std::string* out) {
    ++pos_;  // "
    for (;;) {
      if (pos_ >= text_.size()) return Error("unterminated string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        if (!CopyUtf8(out)) return Error("invalid UTF-8 in a string");
        continue;
      }
      ++pos_;
      if (pos_ >= text_.size()) return Error("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return Error("invalid \\u escape");
          if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("lone surrogate in a string");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (!Consume("\\u") || !Hex4(&low) || low < 0xDC00 || low > 0xDFFF) {
              return Error("lone surrogate in a string");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Error("invalid escape");
      }
    }
  }

  absl::string_view text_;
  const ConvexJsonOptions& options_;
  size_t pos_ = 0;
  size_t values_ = 0;  // parsed so far: each costs a Value (tens of bytes) for one byte of text
};

void AppendQuoted(const std::string& s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(out, "\\u00", absl::BytesToHexString(absl::string_view(&c, 1)));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}


// kConvex: Convex JSON. kClean: Convex's "json" format (Int64 as a decimal string, bytes as base64,
// special floats by name). kExport: its snapshot export format (Int64 as a JSON integer, finite floats
// always with a point or an exponent, the rest as Convex JSON).
enum class Format { kConvex, kClean, kExport };

void Append(const Value& value, Format format, std::string* out) {
  const bool clean = format == Format::kClean;
  switch (value.type()) {
    case Value::Type::kUndefined:
      out->append(R"({"$undefined":null})");
      return;
    case Value::Type::kNull:
      out->append("null");
      return;
    case Value::Type::kInt64:
      if (clean) {
        absl::StrAppend(out, "\"", value.int64(), "\"");
        return;
      }
      if (format == Format::kExport) {
        absl::StrAppend(out, value.int64());
        return;
      }
      absl::StrAppend(out, R"({"$integer":")", LittleEndianBase64(static_cast<uint64_t>(value.int64())), "\"}");
      return;
    case Value::Type::kFloat64: {
      double d = value.float64();
      if (clean && !std::isfinite(d)) {
        out->append(std::isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
      }
      if (format == Format::kConvex ? !std::isfinite(d) || (d == 0 && std::signbit(d)) : !clean && !std::isfinite(d)) {
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof(bits));
        absl::StrAppend(out, R"({"$float":")", LittleEndianBase64(bits), "\"}");
        return;
      }
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), d);
      const absl::string_view number(buffer, static_cast<size_t>(end - buffer));
      out->append(number.data(), number.size());
      // An export's reader takes a number without a point or an exponent for an Int64.
      if (format == Format::kExport && number.find_first_of(".e") == absl::string_view::npos) out->append(".0");
      return;
    }
    case Value::Type::kBoolean:
      out->append(value.boolean() ? "true" : "false");
      return;
    case Value::Type::kString:
      AppendQuoted(value.string(), out);
      return;
    case Value::Type::kBytes:
      if (clean) {
        absl::StrAppend(out, "\"", absl::Base64Escape(value.bytes()), "\"");
        return;
      }
      absl::StrAppend(out, R"({"$bytes":")", absl::Base64Escape(value.bytes()), "\"}");
      return;
    case Value::Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& item : value.array()) {
        if (!first) out->push_back(',');
        first = false;
        Append(item, format, out);
      }
      out->push_back(']');
      return;
    }
    case Value::Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [name, field] : value.object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendQuoted(name, out);
        out->push_back(':');
        Append(field, format, out);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace

namespace {

absl::StatusOr<Value> ConvertPlain(const Value& plain, bool allow_undefined) {
  const ConvexJsonLimits limits;
  switch (plain.type()) {
    case Value::Type::kArray: {
      if (plain.array().size() > limits.max_array_items) {
        return absl::InvalidArgumentError(absl::StrCat("Array length is too long (", plain.array().size(),
                                                       " > maximum length ", limits.max_array_items, ")"));
      }
      Value::Array items;
      for (const Value& item : plain.array()) {
        absl::StatusOr<Value> converted = ConvertPlain(item, false);
        if (!converted.ok()) return converted;
        items.push_back(std::move(*converted));
      }
      return Value::MakeArray(std::move(items));
    }
    case Value::Type::kObject: {
      const Value::Object& fields = plain.object();
      if (fields.size() == 1 && !fields[0].first.empty() && fields[0].first[0] == '$') {
        return DecodeSpecial(fields[0].first, fields[0].second, "", allow_undefined);
      }
      if (fields.size() > limits.max_object_fields) {
        return absl::InvalidArgumentError(absl::StrCat("Object has too many fields (", fields.size(),
                                                       " > maximum number ", limits.max_object_fields, ")"));
      }
      Value::Object out;
      for (const auto& [name, value] : fields) {
        if (absl::Status st = ValidateFieldName(name, "", limits.max_field_name_length); !st.ok()) return st;
        absl::StatusOr<Value> converted = ConvertPlain(value, allow_undefined);
        if (!converted.ok()) return converted;
        out.emplace_back(name, std::move(*converted));
      }
      return Value::MakeSortedObject(std::move(out));
    }
    default:
      return plain;
  }
}

}  // namespace

absl::StatusOr<Value> FromPlainJson(const Value& plain, bool allow_undefined) {
  const ConvexJsonLimits limits;
  if (const int depth = NestingDepth(plain); depth > limits.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat("Value is too nested (nested ", depth, " levels deep > maximum nesting ",
                                                   limits.max_depth, ")"));
  }
  return ConvertPlain(plain, allow_undefined);
}

absl::StatusOr<Value> ParseConvexJson(absl::string_view json, const ConvexJsonOptions& options) {
  return Parser(json, options).ParseDocument();
}

std::string ToConvexJson(const Value& value) {
  std::string out;
  Append(value, Format::kConvex, &out);
  return out;
}

std::string ToExportJson(const Value& value) {
  std::string out;
  Append(value, Format::kExport, &out);
  return out;
}

std::string ToCleanJson(const Value& value) {
  std::string out;
  Append(value, Format::kClean, &out);
  return out;
}

std::string LittleEndianBase64(uint64_t bits) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
  return absl::Base64Escape(absl::string_view(bytes, 8));
}

int NestingDepth(const Value& value) {
  int deepest = 0;
  if (value.type() == Value::Type::kArray) {
    for (const Value& item : value.array()) deepest = std::max(deepest, NestingDepth(item));
    return deepest + 1;
  }
  if (value.type() == Value::Type::kObject) {
    for (const auto& [name, field] : value.object()) deepest = std::max(deepest, NestingDepth(field));
    return deepest + 1;
  }
  return 0;
}

}  // namespace isobar::storage
