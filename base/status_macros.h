// Status propagation macros. Debian's Abseil 20220623 has no absl/status/status_macros.h, so Isobar
// carries its own two, with the same meaning:
//
//   RETURN_IF_ERROR(DoThing());                    // returns the status if it is not OK
//   ASSIGN_OR_RETURN(auto conn, Connect(url));     // returns the status, or moves the value out
//
// Both evaluate their argument exactly once. They are for functions returning absl::Status or
// absl::StatusOr<T>; a StatusOr is constructible from a non-OK Status.
#ifndef ISOBAR_BASE_STATUS_MACROS_H_
#define ISOBAR_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ISOBAR_STATUS_CONCAT_INNER_(a, b) a##b
#define ISOBAR_STATUS_CONCAT_(a, b) ISOBAR_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                        \
  do {                                                               \
    ::absl::Status isobar_status_ = ::isobar::internal::ToStatus(expr); \
    if (!isobar_status_.ok()) return isobar_status_;                 \
  } while (false)

#define ASSIGN_OR_RETURN(lhs, expr)                                                  \
  ISOBAR_ASSIGN_OR_RETURN_IMPL_(ISOBAR_STATUS_CONCAT_(isobar_statusor_, __LINE__), lhs, \
                                expr)

#define ISOBAR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace isobar::internal {

inline const absl::Status& ToStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace isobar::internal

#endif  // ISOBAR_BASE_STATUS_MACROS_H_
