#include "base/clock.h"

#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

TEST(ManualClockTest, WakesRunOnlyOnceTheirTimeComesInDueOrder) {
  Executor executor("clock-test", 1);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  ManualClock clock(executor, start);
  absl::Mutex mu;
  std::vector<int> order;
  auto record = [&](int n) {
    return [&, n] {
      absl::MutexLock lock(&mu);
      order.push_back(n);
    };
  };
  clock.WakeAt(start + absl::Seconds(20), record(2));
  clock.WakeAt(start + absl::Seconds(10), record(1));
  clock.WakeAt(start + absl::Seconds(30), record(3));
  EXPECT_EQ(clock.waiting(), 3u);
  clock.Advance(absl::Seconds(25));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(25));
  EXPECT_EQ(clock.waiting(), 1u);
  absl::Notification past;
  clock.WakeAt(start, [&] { past.Notify(); });  // already due: runs without an Advance
  past.WaitForNotification();
  clock.Set(start);  // never back
  EXPECT_EQ(clock.Now(), start + absl::Seconds(25));
  executor.Shutdown();  // runs what was handed over
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(clock.waiting(), 1u);
}

TEST(RealClockTest, WakesAfterTheTime) {
  Executor executor("clock-test", 1);
  RealClock clock(executor);
  const absl::Time when = clock.Now() + absl::Milliseconds(20);
  absl::Notification woke;
  absl::Time woke_at;
  clock.WakeAt(when, [&] {
    woke_at = absl::Now();
    woke.Notify();
  });
  woke.WaitForNotification();
  EXPECT_GE(woke_at, when);
}

}  // namespace
}  // namespace isobar
