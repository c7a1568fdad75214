#include "supervisor/deploy/cron_schedule.h"

#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "base/status_macros.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr int kSearchDays = 5 * 366;

// One field of a cron expression: every value in [lo, hi] it selects.
absl::StatusOr<std::vector<int>> ParseField(absl::string_view field, int lo, int hi, absl::string_view what) {
  auto refuse = [&] {
    return absl::InvalidArgumentError(absl::StrCat("the cron expression's ", what, " field \"", field.substr(0, 40),
                                                   "\" is not valid (", lo, "-", hi, ")"));
  };
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(field, ',')) {
    int step = 1;
    std::vector<absl::string_view> stepped = absl::StrSplit(part, absl::MaxSplits('/', 1));
    if (stepped.size() == 2 && (!absl::SimpleAtoi(stepped[1], &step) || step < 1 || step > hi)) return refuse();
    int first = lo, last = hi;
    if (stepped[0] != "*") {
      std::vector<absl::string_view> range = absl::StrSplit(stepped[0], absl::MaxSplits('-', 1));
      if (!absl::SimpleAtoi(range[0], &first)) return refuse();
      last = first;
      if (range.size() == 2 && !absl::SimpleAtoi(range[1], &last)) return refuse();
      if (stepped.size() == 2 && range.size() == 1) last = hi;  // "5/15": from 5 on
    }
    if (first < lo || last > hi || first > last) return refuse();
    for (int v = first; v <= last; v += step) out.push_back(v);
  }
  return out;
}

int Whole(const Value& v, int fallback) {
  return v.type() == Value::Type::kFloat64 ? static_cast<int>(v.float64()) : fallback;
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::ParseExpression(absl::string_view expression) {
  std::vector<absl::string_view> fields = absl::StrSplit(expression, ' ', absl::SkipEmpty());
  if (fields.size() != 5) return absl::InvalidArgumentError("a cron expression has five fields");
  CronSchedule s;
  ASSIGN_OR_RETURN(std::vector<int> minutes, ParseField(fields[0], 0, 59, "minute"));
  ASSIGN_OR_RETURN(std::vector<int> hours, ParseField(fields[1], 0, 23, "hour"));
  ASSIGN_OR_RETURN(std::vector<int> days, ParseField(fields[2], 1, 31, "day-of-month"));
  ASSIGN_OR_RETURN(std::vector<int> months, ParseField(fields[3], 1, 12, "month"));
  ASSIGN_OR_RETURN(std::vector<int> weekdays, ParseField(fields[4], 0, 7, "day-of-week"));
  for (int v : minutes) s.minutes_.set(v);
  for (int v : hours) s.hours_.set(v);
  for (int v : days) s.days_.set(v);
  for (int v : months) s.months_.set(v);
  for (int v : weekdays) s.weekdays_.set(v % 7);
  s.any_day_ = fields[2] == "*";
  s.any_weekday_ = fields[4] == "*";
  return s;
}

absl::StatusOr<CronSchedule> CronSchedule::Parse(const Value& schedule) {
  const Value& type = schedule.Get("type");
  if (type.type() != Value::Type::kString) return absl::InvalidArgumentError("the schedule has no type");
  const std::string& kind = type.string();
  const int minute = Whole(schedule.Get("minuteUTC"), 0);
  const int hour = Whole(schedule.Get("hourUTC"), 0);
  if (kind == "interval") {
    CronSchedule s;
    for (auto [unit, scale] : {std::pair{"seconds", 1.0}, std::pair{"minutes", 60.0}, std::pair{"hours", 3600.0}}) {
      const Value& v = schedule.Get(unit);
      if (v.type() == Value::Type::kFloat64 && v.float64() > 0 && std::isfinite(v.float64())) {
        s.interval_ = absl::Seconds(v.float64() * scale);
      }
    }
    if (s.interval_ < absl::Seconds(1)) return absl::InvalidArgumentError("an interval is at least one second");
    return s;
  }
  if (kind == "hourly") return ParseExpression(absl::StrCat(minute, " * * * *"));
  if (kind == "daily") return ParseExpression(absl::StrCat(minute, " ", hour, " * * *"));
  if (kind == "weekly") {
    static constexpr absl::string_view kDays[] = {"sunday", "monday", "tuesday", "wednesday",
                                                  "thursday", "friday", "saturday"};
    const Value& day = schedule.Get("dayOfWeek");
    for (int i = 0; i < 7; ++i) {
      if (day.type() == Value::Type::kString && day.string() == kDays[i]) {
        return ParseExpression(absl::StrCat(minute, " ", hour, " * * ", i));
      }
    }
    return absl::InvalidArgumentError("dayOfWeek is a day's name in lower case");
  }
  if (kind == "monthly") return ParseExpression(absl::StrCat(minute, " ", hour, " ", Whole(schedule.Get("day"), 1), " * *"));
  if (kind == "cron" && schedule.Get("cron").type() == Value::Type::kString) return ParseExpression(schedule.Get("cron").string());
  return absl::InvalidArgumentError(absl::StrCat("unknown schedule type \"", kind.substr(0, 40), "\""));
}

bool CronSchedule::DayMatches(int day_of_month, int month, int weekday) const {
  if (!months_.test(month)) return false;
  const bool day = days_.test(day_of_month);
  const bool week = weekdays_.test(weekday);
  if (any_day_ && any_weekday_) return true;
  if (any_day_) return week;
  if (any_weekday_) return day;
  return day || week;  // both restricted: either, as cron does
}

absl::Time CronSchedule::NextAfter(absl::Time after) const {
  if (interval_ > absl::ZeroDuration()) return after + interval_;
  const absl::TimeZone utc = absl::UTCTimeZone();
  // The first whole minute strictly after `after`.
  absl::CivilMinute start = absl::ToCivilMinute(after, utc) + 1;
  absl::CivilDay day(start);
  for (int i = 0; i < kSearchDays; ++i, ++day) {
    const int weekday = static_cast<int>(absl::GetWeekday(day));  // absl: Monday = 0 ... Sunday = 6
    if (!DayMatches(day.day(), day.month(), (weekday + 1) % 7)) continue;
    for (int hour = 0; hour < 24; ++hour) {
      if (!hours_.test(hour)) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!minutes_.test(minute)) continue;
        const absl::CivilMinute candidate(day.year(), day.month(), day.day(), hour, minute);
        if (candidate >= start) return absl::FromCivil(candidate, utc);
      }
    }
  }
  return absl::InfiniteFuture();
}

absl::Time CronSchedule::First(absl::Time now) const {
  return interval_ > absl::ZeroDuration() ? now : NextAfter(now);
}

}  // namespace isobar::supervisor
