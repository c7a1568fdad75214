#include "supervisor/logs/log_hub.h"

#include <thread>

#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

isobar::v1::LogEntry Entry(const std::string& deployment, const std::string& message) {
  isobar::v1::LogEntry entry;
  entry.set_deployment(deployment);
  entry.set_level("log");
  entry.set_message(message);
  return entry;
}

TEST(LogHubTest, SubscribersSeeTheirDeploymentsLinesInOrder) {
  LogHub hub;
  auto all = hub.Subscribe("");
  auto chat = hub.Subscribe("chat");
  hub.Publish(Entry("chat", "one"));
  hub.Publish(Entry("other", "two"));
  hub.Publish(Entry("chat", "three"));
  EXPECT_EQ(all->Next(absl::ZeroDuration())->message(), "one");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->message(), "two");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->message(), "three");
  EXPECT_FALSE(all->Next(absl::ZeroDuration()).has_value());
  EXPECT_EQ(chat->Next(absl::ZeroDuration())->message(), "one");
  EXPECT_EQ(chat->Next(absl::ZeroDuration())->message(), "three");
  EXPECT_FALSE(chat->Next(absl::ZeroDuration()).has_value());
}

TEST(LogHubTest, ASlowTailLosesItsOldestLinesAndIsTold) {
  LogHub hub(/*per_subscriber_capacity=*/3);
  auto tail = hub.Subscribe("");
  for (int i = 0; i < 10; ++i) hub.Publish(Entry("d", std::to_string(i)));
  EXPECT_EQ(tail->Next(absl::ZeroDuration())->message(), "... 7 log lines dropped: this tail fell behind");
  EXPECT_EQ(tail->Next(absl::ZeroDuration())->message(), "7");
  EXPECT_EQ(tail->Next(absl::ZeroDuration())->message(), "8");
  EXPECT_EQ(tail->Next(absl::ZeroDuration())->message(), "9");
}

TEST(LogHubTest, NextWaitsForAPublishAndEndsAtClose) {
  LogHub hub;
  auto tail = hub.Subscribe("");
  std::thread publisher([&] { hub.Publish(Entry("d", "late")); });
  std::optional<isobar::v1::LogEntry> entry = tail->Next(absl::Seconds(30));
  publisher.join();
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->message(), "late");
  hub.Close();
  EXPECT_FALSE(tail->Next(absl::Seconds(30)).has_value());  // returns at once: closed
}

}  // namespace
}  // namespace isobar::supervisor
