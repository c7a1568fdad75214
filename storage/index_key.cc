#include "storage/index_key.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace isobar::storage {
namespace {

enum Tag : uint8_t {
  kEnd = 0x00,
  kUndefined = 0x10,
  kNull = 0x20,
  kInt64 = 0x30,
  kFloat64 = 0x40,
  kFalse = 0x50,
  kTrue = 0x51,
  kString = 0x60,
  kBytes = 0x70,
  kArray = 0x80,
  kObject = 0x90,
};

void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

void AppendEscaped(absl::string_view bytes, std::string* out) {
  for (char c : bytes) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xFF');
  }
  out->push_back('\0');
}

bool SkipEscaped(absl::string_view in, size_t* pos) {
  while (*pos < in.size()) {
    if (in[(*pos)++] != '\0') continue;
    if (*pos < in.size() && in[*pos] == '\xFF') {
      ++*pos;
      continue;
    }
    return true;
  }
  return false;
}

// Moves `*pos` past one value's encoding; false if none starts there.
bool SkipValue(absl::string_view in, size_t* pos, int depth) {
  if (depth > 128 || *pos >= in.size()) return false;
  switch (static_cast<uint8_t>(in[(*pos)++])) {
    case kUndefined:
    case kNull:
    case kFalse:
    case kTrue:
      return true;
    case kInt64:
    case kFloat64:
      if (*pos + 8 > in.size()) return false;
      *pos += 8;
      return true;
    case kString:
    case kBytes:
      return SkipEscaped(in, pos);
    case kArray:
    case kObject: {
      const bool object = static_cast<uint8_t>(in[*pos - 1]) == kObject;
      while (*pos < in.size() && in[*pos] != kEnd) {
        if (object && (static_cast<uint8_t>(in[(*pos)++]) != kString || !SkipEscaped(in, pos))) return false;
        if (!SkipValue(in, pos, depth + 1)) return false;
      }
      if (*pos >= in.size()) return false;
      ++*pos;
      return true;
    }
    default:
      return false;
  }
}

class Decoder {
 public:
  explicit Decoder(absl::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }

  absl::StatusOr<Value> Next(int depth) {
    if (depth > 128) return Corrupt("nesting");
    if (pos_ >= in_.size()) return Corrupt("truncated");
    uint8_t tag = static_cast<uint8_t>(in_[pos_++]);
    switch (tag) {
      case kUndefined: return Value::Undefined();
      case kNull: return Value::Null();
      case kFalse: return Value::Boolean(false);
      case kTrue: return Value::Boolean(true);
      case kInt64: {
        uint64_t v;
        if (!Fixed(&v)) return Corrupt("truncated int64");
        return Value::Int64(static_cast<int64_t>(v ^ (uint64_t{1} << 63)));
      }
      case kFloat64: {
        uint64_t v;
        if (!Fixed(&v)) return Corrupt("truncated float64");
        uint64_t bits = (v & (uint64_t{1} << 63)) != 0 ? v & ~(uint64_t{1} << 63) : ~v;
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        return Value::Float64(d);
      }
      case kString:
      case kBytes: {
        std::string s;
        if (!Escaped(&s)) return Corrupt("unterminated string");
        return tag == kString ? Value::String(std::move(s)) : Value::Bytes(std::move(s));
      }
      case kArray: {
        Value::Array items;
        while (pos_ < in_.size() && in_[pos_] != kEnd) {
          absl::StatusOr<Value> item = Next(depth + 1);
          if (!item.ok()) return item;
          items.push_back(std::move(*item));
        }
        if (pos_ >= in_.size()) return Corrupt("unterminated array");
        ++pos_;
        return Value::MakeArray(std::move(items));
      }
      case kObject: {
        Value::Object fields;
        while (pos_ < in_.size() && in_[pos_] != kEnd) {
          if (static_cast<uint8_t>(in_[pos_++]) != kString) return Corrupt("field name without its tag");
          std::string name;
          if (!Escaped(&name)) return Corrupt("unterminated field name");
          // The encoder writes fields sorted by name: any other order is no key's encoding.
          if (!fields.empty() && name <= fields.back().first) return Corrupt("fields out of order");
          absl::StatusOr<Value> field = Next(depth + 1);
          if (!field.ok()) return field;
          fields.emplace_back(std::move(name), std::move(*field));
        }
        if (pos_ >= in_.size()) return Corrupt("unterminated object");
        ++pos_;
        absl::StatusOr<Value> object = Value::MakeObject(std::move(fields));
        if (!object.ok()) return Corrupt("duplicate field");
        return object;
      }
      default:
        return Corrupt(absl::StrCat("unknown tag ", tag));
    }
  }

 private:
  absl::Status Corrupt(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("invalid index key (", what, ") at byte ", pos_));
  }
  bool Fixed(uint64_t* v) {
    if (pos_ + 8 > in_.size()) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Escaped(std::string* out) {
    while (pos_ < in_.size()) {
      char c = in_[pos_++];
      if (c != '\0') {
        out->push_back(c);
        continue;
      }
      if (pos_ < in_.size() && in_[pos_] == '\xFF') {
        out->push_back('\0');
        ++pos_;
        continue;
      }
      return true;
    }
    return false;
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

void AppendIndexKeyValue(const Value& value, std::string* out) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      out->push_back(static_cast<char>(kUndefined));
      return;
    case Value::Type::kNull:
      out->push_back(static_cast<char>(kNull));
      return;
    case Value::Type::kInt64:
      out->push_back(static_cast<char>(kInt64));
      AppendBigEndian(static_cast<uint64_t>(value.int64()) ^ (uint64_t{1} << 63), out);
      return;
    case Value::Type::kFloat64:
      out->push_back(static_cast<char>(kFloat64));
      AppendBigEndian(TotalOrderBits(value.float64()), out);
      return;
    case Value::Type::kBoolean:
      out->push_back(static_cast<char>(value.boolean() ? kTrue : kFalse));
      return;
    case Value::Type::kString:
      out->push_back(static_cast<char>(kString));
      AppendEscaped(value.string(), out);
      return;
    case Value::Type::kBytes:
      out->push_back(static_cast<char>(kBytes));
      AppendEscaped(value.bytes(), out);
      return;
    case Value::Type::kArray:
      out->push_back(static_cast<char>(kArray));
      for (const Value& item : value.array()) AppendIndexKeyValue(item, out);
      out->push_back(static_cast<char>(kEnd));
      return;
    case Value::Type::kObject:
      out->push_back(static_cast<char>(kObject));
      for (const auto& [name, field] : value.object()) {
        // The name carries the string tag, so that even "" differs from the terminator.
        out->push_back(static_cast<char>(kString));
        AppendEscaped(name, out);
        AppendIndexKeyValue(field, out);
      }
      out->push_back(static_cast<char>(kEnd));
      return;
  }
}

std::string EncodeIndexKey(absl::Span<const Value> values) {
  std::string out;
  for (const Value& v : values) AppendIndexKeyValue(v, &out);
  return out;
}

absl::StatusOr<std::vector<Value>> DecodeIndexKey(absl::string_view encoded) {
  Decoder decoder(encoded);
  std::vector<Value> values;
  while (!decoder.done()) {
    absl::StatusOr<Value> v = decoder.Next(0);
    if (!v.ok()) return v.status();
    values.push_back(std::move(*v));
  }
  return values;
}

absl::InlinedVector<size_t, 8> IndexKeyValueEnds(absl::string_view encoded) {
  absl::InlinedVector<size_t, 8> ends;
  size_t pos = 0;
  while (pos < encoded.size() && SkipValue(encoded, &pos, 0)) ends.push_back(pos);
  return ends;
}

std::string WholeValuesEnd(absl::string_view prefix) { return absl::StrCat(prefix, "\xFF"); }

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<uint8_t>(out.back()) == 0xFF) out.pop_back();
  if (!out.empty()) out.back() = static_cast<char>(static_cast<uint8_t>(out.back()) + 1);
  return out;
}

}  // namespace isobar::storage
