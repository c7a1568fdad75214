#include "supervisor/deploy/cron_schedule.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

CronSchedule Schedule(const std::string& json) {
  absl::StatusOr<storage::Value> value = storage::ParseConvexJson(json);
  EXPECT_TRUE(value.ok()) << value.status();
  absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(*value);
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  return *schedule;
}

TEST(CronScheduleTest, IntervalsRunAtOnceThenEveryInterval) {
  CronSchedule every = Schedule(R"({"type":"interval","minutes":5})");
  const absl::Time t = Utc(2026, 11, 22, 10, 3, 7);
  EXPECT_EQ(every.First(t), t);
  EXPECT_EQ(every.NextAfter(t), t + absl::Minutes(5));
  EXPECT_EQ(Schedule(R"({"type":"interval","seconds":90})").NextAfter(t), t + absl::Seconds(90));
  EXPECT_EQ(Schedule(R"({"type":"interval","hours":2})").NextAfter(t), t + absl::Hours(2));
}

TEST(CronScheduleTest, CalendarKindsInUtc) {
  const absl::Time t = Utc(2026, 11, 22, 10, 3, 7);  // a Sunday
  EXPECT_EQ(Schedule(R"({"type":"hourly","minuteUTC":30})").NextAfter(t), Utc(2026, 11, 22, 10, 30));
  EXPECT_EQ(Schedule(R"({"type":"hourly","minuteUTC":3})").NextAfter(t), Utc(2026, 11, 22, 11, 3));
  EXPECT_EQ(Schedule(R"({"type":"daily","hourUTC":9,"minuteUTC":15})").NextAfter(t), Utc(2026, 11, 23, 9, 15));
  EXPECT_EQ(Schedule(R"({"type":"daily","hourUTC":17,"minuteUTC":0})").NextAfter(t), Utc(2026, 11, 22, 17, 0));
  EXPECT_EQ(Schedule(R"({"type":"weekly","dayOfWeek":"wednesday","hourUTC":8,"minuteUTC":0})").NextAfter(t),
            Utc(2026, 11, 25, 8, 0));
  EXPECT_EQ(Schedule(R"({"type":"weekly","dayOfWeek":"sunday","hourUTC":8,"minuteUTC":0})").NextAfter(t),
            Utc(2026, 11, 29, 8, 0));
  EXPECT_EQ(Schedule(R"({"type":"monthly","day":1,"hourUTC":0,"minuteUTC":0})").NextAfter(t), Utc(2026, 12, 1, 0, 0));
  // Months without a 31st are skipped.
  EXPECT_EQ(Schedule(R"({"type":"monthly","day":31,"hourUTC":0,"minuteUTC":0})").NextAfter(t), Utc(2026, 12, 31, 0, 0));
  EXPECT_EQ(Schedule(R"({"type":"monthly","day":31,"hourUTC":0,"minuteUTC":0})").NextAfter(Utc(2026, 12, 31, 0, 0)),
            Utc(2027, 1, 31, 0, 0));
  // Strictly after: a run at the exact minute moves on.
  EXPECT_EQ(Schedule(R"({"type":"daily","hourUTC":10,"minuteUTC":3})").NextAfter(Utc(2026, 11, 22, 10, 3)),
            Utc(2026, 11, 23, 10, 3));
}

TEST(CronScheduleTest, CronExpressions) {
  const absl::Time t = Utc(2026, 11, 22, 10, 3, 7);
  auto next = [&](const char* expression, absl::Time after) {
    absl::StatusOr<CronSchedule> s = CronSchedule::ParseExpression(expression);
    EXPECT_TRUE(s.ok()) << expression << ": " << s.status();
    return s.ok() ? s->NextAfter(after) : absl::InfinitePast();
  };
  EXPECT_EQ(next("* * * * *", t), Utc(2026, 11, 22, 10, 4));
  EXPECT_EQ(next("*/15 * * * *", t), Utc(2026, 11, 22, 10, 15));
  EXPECT_EQ(next("5,50 9-17 * * *", t), Utc(2026, 11, 22, 10, 5));
  EXPECT_EQ(next("5,50 9-17 * * *", Utc(2026, 11, 22, 17, 50)), Utc(2026, 11, 23, 9, 5));
  EXPECT_EQ(next("0 0 * * 1-5", t), Utc(2026, 11, 23, 0, 0));  // the next weekday
  EXPECT_EQ(next("0 12 * * 7", t), Utc(2026, 11, 22, 12, 0));   // 7 is Sunday too
  EXPECT_EQ(next("0 0 1 1 *", t), Utc(2027, 1, 1, 0, 0));
  EXPECT_EQ(next("0 0 29 2 *", t), Utc(2028, 2, 29, 0, 0));     // the next leap day
  EXPECT_EQ(next("0 0 30 2 *", t), absl::InfiniteFuture());     // never
  // Both day fields restricted: either matches (the 1st, or any Monday).
  EXPECT_EQ(next("0 0 1 * 1", t), Utc(2026, 11, 23, 0, 0));
  EXPECT_EQ(next("30/10 * * * *", t), Utc(2026, 11, 22, 10, 30));
  for (const char* bad : {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
                          "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *"}) {
    EXPECT_FALSE(CronSchedule::ParseExpression(bad).ok()) << bad;
  }
}

TEST(CronScheduleTest, RefusesUnknownKinds) {
  absl::StatusOr<storage::Value> v = storage::ParseConvexJson(R"({"type":"fortnightly"})");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(CronSchedule::Parse(*v).ok());
}

}  // namespace
}  // namespace isobar::supervisor
