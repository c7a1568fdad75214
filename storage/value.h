// The Convex value model (CONVEX_ABI.md §4): what documents, arguments, results and index keys hold.
//
//   Value doc = Value::MakeObject({{"n", Value::Int64(3)}, {"tags", Value::MakeArray({Value::String("a")})}});
//   Compare(Value::Null(), Value::Int64(0)) < 0            // the total order of §4.4
//
// Values are immutable; arrays and objects share their contents, so copies are cheap. Object fields
// are kept sorted by name (byte order; field names are printable ASCII, where that equals the UTF-16
// order Convex uses) and unique: MakeObject sorts and rejects duplicates.
//
// `undefined` exists only where Convex uses it: a missing field in an index key or filter, and
// "remove this field" in a patch. It never appears inside a stored document.
#ifndef ISOBAR_STORAGE_VALUE_H_
#define ISOBAR_STORAGE_VALUE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::storage {

class Value {
 public:
  // In the total order's type order.
  enum class Type { kUndefined, kNull, kInt64, kFloat64, kBoolean, kString, kBytes, kArray, kObject };

  using Array = std::vector<Value>;
  using Field = std::pair<std::string, Value>;
  using Object = std::vector<Field>;  // sorted by name, unique

  Value() = default;  // undefined
  static Value Undefined() { return Value(); }
  static Value Null() { return Value(Rep(std::in_place_index<1>, nullptr)); }
  static Value Int64(int64_t v) { return Value(Rep(std::in_place_index<2>, v)); }
  static Value Float64(double v) { return Value(Rep(std::in_place_index<3>, v)); }
  static Value Boolean(bool v) { return Value(Rep(std::in_place_index<4>, v)); }
  static Value String(std::string v) { return Value(Rep(std::in_place_index<5>, std::move(v))); }
  static Value Bytes(std::string v) { return Value(Rep(std::in_place_index<6>, BytesRep{std::move(v)})); }
  static Value MakeArray(Array items);
  // Sorts the fields; INVALID_ARGUMENT on a duplicate name.
  static absl::StatusOr<Value> MakeObject(Object fields);
  // For fields already sorted and unique (checked in debug builds only).
  static Value MakeSortedObject(Object fields);

  Type type() const { return static_cast<Type>(rep_.index()); }
  bool is_undefined() const { return type() == Type::kUndefined; }

  // Accessors; calling one for another type is a bug (checked with assert).
  int64_t int64() const { return std::get<2>(rep_); }
  double float64() const { return std::get<3>(rep_); }
  bool boolean() const { return std::get<4>(rep_); }
  const std::string& string() const { return std::get<5>(rep_); }
  const std::string& bytes() const { return std::get<6>(rep_).data; }
  const Array& array() const { return *std::get<7>(rep_); }
  const Object& object() const { return *std::get<8>(rep_); }

  // The field's value, or undefined when absent (or when this is not an object).
  const Value& Get(absl::string_view name) const;
  // Follows a dotted path ("a.b.c") through nested objects; undefined where it leads nowhere.
  const Value& GetPath(absl::string_view dotted_path) const;

 private:
  struct BytesRep {
    std::string data;
  };
  using Rep = std::variant<std::monostate, std::nullptr_t, int64_t, double, bool, std::string, BytesRep,
                           std::shared_ptr<const Array>, std::shared_ptr<const Object>>;
  explicit Value(Rep rep) : rep_(std::move(rep)) {}

  Rep rep_;
};

// The total order (CONVEX_ABI.md §4.4): type order first; floats by IEEE total order
// (-NaN < -Inf < ... < -0 < +0 < ... < +Inf < NaN); strings and bytes by bytes; arrays
// lexicographically; objects as sorted [name, value] lists. Returns <0, 0 or >0.
int Compare(const Value& a, const Value& b);
inline bool operator==(const Value& a, const Value& b) { return Compare(a, b) == 0; }
inline bool operator!=(const Value& a, const Value& b) { return Compare(a, b) != 0; }
inline bool operator<(const Value& a, const Value& b) { return Compare(a, b) < 0; }

// Convex's size estimate (values/size.js): null/boolean 1; number/bigint 9; string 2 + UTF-8 bytes;
// bytes 2 + length; array 2 + elements; object 2 + sum(name + 1 + value).
size_t ConvexSize(const Value& value);

// The float64 bits mapped so that unsigned comparison is IEEE total order.
uint64_t TotalOrderBits(double value);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_VALUE_H_
