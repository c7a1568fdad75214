// Jittered exponential backoff: `min` doubled `doublings` times, at most `max`, then a random point
// in the upper half of that, so that retries which collided once spread out instead of colliding
// again.
//
//   absl::SleepFor(JitteredBackoff(absl::Milliseconds(100), absl::Seconds(2), retry));
#ifndef ISOBAR_BASE_BACKOFF_H_
#define ISOBAR_BASE_BACKOFF_H_

#include <algorithm>
#include <random>

#include "absl/time/time.h"

namespace isobar {

inline absl::Duration JitteredBackoff(absl::Duration min, absl::Duration max, int doublings) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  absl::Duration ceiling = min;
  for (int i = 0; i < doublings && ceiling < max; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max);
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  return ceiling * fraction(rng);
}

}  // namespace isobar

#endif  // ISOBAR_BASE_BACKOFF_H_
