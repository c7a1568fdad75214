// CLOCK_MONOTONIC in nanoseconds: one clock for the supervisor and its workers (they share it; no
// process runs in a time namespace), so a time one process took can be compared with another's.
#ifndef ISOBAR_BASE_MONOTONIC_H_
#define ISOBAR_BASE_MONOTONIC_H_

#include <time.h>

#include <cstdint>

namespace isobar {

inline int64_t MonotonicNanos() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

}  // namespace isobar

#endif  // ISOBAR_BASE_MONOTONIC_H_
