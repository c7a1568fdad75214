#include "storage/value.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace isobar::storage {
namespace {

const Value& UndefinedValue() {
  static const Value* undefined = new Value();
  return *undefined;
}

int CompareBytes(const std::string& a, const std::string& b) {
  int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c < 0 ? -1 : 1;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

template <typename T>
int Three(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

uint64_t TotalOrderBits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  // Negative: flip every bit (larger magnitude sorts lower). Positive: set the sign bit.
  return (bits & (uint64_t{1} << 63)) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

Value Value::MakeArray(Array items) {
  return Value(Rep(std::in_place_index<7>, std::make_shared<const Array>(std::move(items))));
}

absl::StatusOr<Value> Value::MakeObject(Object fields) {
  std::sort(fields.begin(), fields.end(), [](const Field& a, const Field& b) { return a.first < b.first; });
  for (size_t i = 1; i < fields.size(); ++i) {
    if (fields[i - 1].first == fields[i].first) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate field name \"", fields[i].first, "\""));
    }
  }
  return MakeSortedObject(std::move(fields));
}

Value Value::MakeSortedObject(Object fields) {
#ifndef NDEBUG
  for (size_t i = 1; i < fields.size(); ++i) assert(fields[i - 1].first < fields[i].first);
#endif
  return Value(Rep(std::in_place_index<8>, std::make_shared<const Object>(std::move(fields))));
}

const Value& Value::Get(absl::string_view name) const {
  if (type() != Type::kObject) return UndefinedValue();
  const Object& fields = object();
  auto it = std::lower_bound(fields.begin(), fields.end(), name,
                             [](const Field& f, absl::string_view n) { return absl::string_view(f.first) < n; });
  return it != fields.end() && it->first == name ? it->second : UndefinedValue();
}

const Value& Value::GetPath(absl::string_view dotted_path) const {
  const Value* current = this;
  while (true) {
    size_t dot = dotted_path.find('.');
    current = &current->Get(dotted_path.substr(0, dot));
    if (dot == absl::string_view::npos) return *current;
    dotted_path.remove_prefix(dot + 1);
  }
}

int Compare(const Value& a, const Value& b) {
  if (a.type() != b.type()) return a.type() < b.type() ? -1 : 1;
  switch (a.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNull:
      return 0;
    case Value::Type::kInt64:
      return Three(a.int64(), b.int64());
    case Value::Type::kFloat64:
      return Three(TotalOrderBits(a.float64()), TotalOrderBits(b.float64()));
    case Value::Type::kBoolean:
      return Three(a.boolean(), b.boolean());
    case Value::Type::kString:
      return CompareBytes(a.string(), b.string());
    case Value::Type::kBytes:
      return CompareBytes(a.bytes(), b.bytes());
    case Value::Type::kArray: {
      const Value::Array& x = a.array();
      const Value::Array& y = b.array();
      for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
        if (int c = Compare(x[i], y[i]); c != 0) return c;
      }
      return Three(x.size(), y.size());
    }
    case Value::Type::kObject: {
      const Value::Object& x = a.object();
      const Value::Object& y = b.object();
      for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
        if (int c = CompareBytes(x[i].first, y[i].first); c != 0) return c;
        if (int c = Compare(x[i].second, y[i].second); c != 0) return c;
      }
      return Three(x.size(), y.size());
    }
  }
  return 0;
}

size_t ConvexSize(const Value& value) {
  switch (value.type()) {
    case Value::Type::kUndefined:
      return 0;
    case Value::Type::kNull:
    case Value::Type::kBoolean:
      return 1;
    case Value::Type::kInt64:
    case Value::Type::kFloat64:
      return 9;
    case Value::Type::kString:
      return 2 + value.string().size();
    case Value::Type::kBytes:
      return 2 + value.bytes().size();
    case Value::Type::kArray: {
      size_t size = 2;
      for (const Value& item : value.array()) size += ConvexSize(item);
      return size;
    }
    case Value::Type::kObject: {
      size_t size = 2;
      for (const auto& [name, field] : value.object()) size += name.size() + 1 + ConvexSize(field);
      return size;
    }
  }
  return 0;
}

}  // namespace isobar::storage
