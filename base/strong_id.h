// Strong identity types: distinct C++ types for values that are all integers underneath, so that a
// worker id can never be passed where an invocation id belongs (STYLE.md convention 10).
//
//   struct WorkerIdTag {};
//   using WorkerId = StrongId<WorkerIdTag, int32_t>;
//   WorkerId id(3);  id.value() == 3;
//
// Ids are explicit to construct, compare and hash (absl and std), and print as their value.
#ifndef ISOBAR_BASE_STRONG_ID_H_
#define ISOBAR_BASE_STRONG_ID_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <utility>

namespace isobar {

template <typename Tag, typename T>
class StrongId {
 public:
  using ValueType = T;

  constexpr StrongId() = default;
  constexpr explicit StrongId(T value) : value_(std::move(value)) {}

  constexpr const T& value() const { return value_; }

  friend constexpr bool operator==(const StrongId& a, const StrongId& b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(const StrongId& a, const StrongId& b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(const StrongId& a, const StrongId& b) { return a.value_ < b.value_; }
  friend constexpr bool operator>(const StrongId& a, const StrongId& b) { return b.value_ < a.value_; }
  friend constexpr bool operator<=(const StrongId& a, const StrongId& b) { return !(b.value_ < a.value_); }
  friend constexpr bool operator>=(const StrongId& a, const StrongId& b) { return !(a.value_ < b.value_); }

  template <typename H>
  friend H AbslHashValue(H h, const StrongId& id) {
    return H::combine(std::move(h), id.value_);
  }

  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.value_; }

 private:
  T value_{};
};

struct WorkerIdTag {};
// A worker slot in the supervisor's pool (0..N-1); a restarted worker keeps its slot.
using WorkerId = StrongId<WorkerIdTag, int32_t>;

struct InvocationIdTag {};
// One function invocation, unique within a supervisor process lifetime.
using InvocationId = StrongId<InvocationIdTag, uint64_t>;

struct CallIdTag {};
// One host call within an invocation.
using CallId = StrongId<CallIdTag, uint64_t>;

}  // namespace isobar

template <typename Tag, typename T>
struct std::hash<isobar::StrongId<Tag, T>> {
  size_t operator()(const isobar::StrongId<Tag, T>& id) const { return std::hash<T>()(id.value()); }
};

#endif  // ISOBAR_BASE_STRONG_ID_H_
