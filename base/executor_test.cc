#include "base/executor.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

TEST(ExecutorTest, RunsEveryTaskOnItsThreads) {
  Executor executor("test", 4);
  std::atomic<int> sum{0};
  absl::BlockingCounter done(1000);
  for (int i = 1; i <= 1000; ++i) {
    executor.Run([&, i] {
      sum += i;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(sum.load(), 500500);
}

TEST(ExecutorTest, DelayedTasksWaitForTheirTimeAndRunInDueOrder) {
  Executor executor("test", 1);
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification last;
  const absl::Time start = absl::Now();
  absl::Time ran_at;
  executor.RunAt(start + absl::Milliseconds(60), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(3);
    ran_at = absl::Now();
    last.Notify();
  });
  executor.RunAt(start + absl::Milliseconds(30), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(2);
  });
  executor.Run([&] {
    absl::MutexLock lock(&mu);
    order.push_back(1);
  });
  last.WaitForNotification();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(ran_at - start, absl::Milliseconds(60));
}

TEST(ExecutorTest, ATaskMayScheduleAnother) {
  Executor executor("test", 2);
  absl::Notification second;
  executor.Run([&] { executor.Run([&] { second.Notify(); }); });
  second.WaitForNotification();
  EXPECT_TRUE(second.HasBeenNotified());
}

TEST(ExecutorTest, DestructionDropsTasksNotYetDue) {
  std::atomic<bool> ran{false};
  {
    Executor executor("test", 1);
    executor.RunAt(absl::Now() + absl::Hours(1), [&] { ran = true; });
    EXPECT_EQ(executor.Pending(), 1u);
  }
  EXPECT_FALSE(ran.load());
}

}  // namespace
}  // namespace isobar
