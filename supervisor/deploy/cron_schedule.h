// When a cron runs next (CONVEX_SEMANTICS.md §4), from the schedule RegisterCrons stored: interval
// (seconds, minutes or hours), hourly, daily, weekly, monthly, or a five-field cron expression
// ("minute hour day-of-month month day-of-week", with *, lists, ranges and steps; day 0 or 7 is
// Sunday; when both day fields are restricted either may match, as in cron). All in UTC.
//
//   ASSIGN_OR_RETURN(CronSchedule schedule, CronSchedule::Parse(stored));
//   absl::Time next = schedule.NextAfter(last_run);
#ifndef ISOBAR_SUPERVISOR_DEPLOY_CRON_SCHEDULE_H_
#define ISOBAR_SUPERVISOR_DEPLOY_CRON_SCHEDULE_H_

#include <bitset>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/value.h"

namespace isobar::supervisor {

class CronSchedule {
 public:
  // INVALID_ARGUMENT for a schedule that is not one of the kinds above.
  static absl::StatusOr<CronSchedule> Parse(const storage::Value& schedule);
  static absl::StatusOr<CronSchedule> ParseExpression(absl::string_view expression);

  // The first run strictly after `after`: `after` + the interval, or the next matching minute
  // (InfiniteFuture if none within five years, as for "0 0 30 2 *").
  absl::Time NextAfter(absl::Time after) const;
  // The first run when the cron is registered at `now`: at once for an interval, otherwise the next
  // matching minute.
  absl::Time First(absl::Time now) const;

 private:
  CronSchedule() = default;
  bool DayMatches(int day_of_month, int month, int weekday) const;

  absl::Duration interval_ = absl::ZeroDuration();  // non-zero: an interval schedule
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1-31
  std::bitset<13> months_;  // 1-12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool any_day_ = true;      // the day-of-month field is "*"
  bool any_weekday_ = true;  // the day-of-week field is "*"
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_CRON_SCHEDULE_H_
