#include "base/log_limiter.h"

#include "gtest/gtest.h"

namespace isobar {
namespace {

TEST(LogLimiterTest, LetsTheFirstThroughAndCountsTheRestOfTheWindow) {
  LogLimiter limiter(absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  EXPECT_EQ(limiter.Admit("lease lost", t0), "");
  for (int i = 1; i <= 2314; ++i) EXPECT_FALSE(limiter.Admit("lease lost", t0 + absl::Milliseconds(i)).has_value());
  EXPECT_EQ(limiter.Admit("other", t0 + absl::Seconds(1)), "");  // keys are limited apart
  EXPECT_EQ(limiter.Admit("lease lost", t0 + absl::Seconds(10)), " (repeated 2314 times in 10s)");
  EXPECT_FALSE(limiter.Admit("lease lost", t0 + absl::Seconds(11)).has_value());
  EXPECT_EQ(limiter.Admit("lease lost", t0 + absl::Seconds(25)), " (repeated 1 times in 15s)");
  EXPECT_EQ(limiter.Admit("lease lost", t0 + absl::Seconds(40)), "");  // nothing left out since
}

TEST(LogLimiterTest, ForgetsTheOldestKeysBeyondItsBound) {
  LogLimiter limiter(absl::Hours(1), /*max_keys=*/2);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);
  EXPECT_EQ(limiter.Admit("a", t0), "");
  EXPECT_EQ(limiter.Admit("b", t0 + absl::Seconds(1)), "");
  EXPECT_EQ(limiter.Admit("c", t0 + absl::Seconds(2)), "");  // "a" is forgotten
  EXPECT_EQ(limiter.Admit("a", t0 + absl::Seconds(3)), "");
  EXPECT_FALSE(limiter.Admit("c", t0 + absl::Seconds(4)).has_value());
}

}  // namespace
}  // namespace isobar
