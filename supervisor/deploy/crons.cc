#include "supervisor/deploy/crons.h"

#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/system_tables.h"
#include "supervisor/deploy/cron_schedule.h"
#include "supervisor/deploy/function_path.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr size_t kMaxCrons = 1000;

absl::Status Refuse(const std::string& cron, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("cron \"", cron.substr(0, 100), "\": ", why));
}

// A whole number in [lo, hi], or absent when `optional`.
bool InRange(const Value& v, double lo, double hi, bool optional) {
  if (v.is_undefined()) return optional;
  return v.type() == Value::Type::kFloat64 && std::floor(v.float64()) == v.float64() && v.float64() >= lo &&
         v.float64() <= hi;
}

absl::Status CheckSchedule(const std::string& name, const Value& schedule) {
  const Value& type = schedule.Get("type");
  if (schedule.type() != Value::Type::kObject || type.type() != Value::Type::kString) {
    return Refuse(name, "its schedule has no type");
  }
  const std::string& kind = type.string();
  const Value& minute = schedule.Get("minuteUTC");
  const Value& hour = schedule.Get("hourUTC");
  if (kind == "interval") {
    int units = 0;
    for (const char* unit : {"seconds", "minutes", "hours"}) {
      const Value& v = schedule.Get(unit);
      if (v.is_undefined()) continue;
      ++units;
      if (v.type() != Value::Type::kFloat64 || !(v.float64() > 0) || !std::isfinite(v.float64())) {
        return Refuse(name, "an interval must be a positive number");
      }
    }
    return units == 1 ? absl::OkStatus() : Refuse(name, "an interval has exactly one of seconds, minutes, hours");
  }
  if (kind == "hourly") return InRange(minute, 0, 59, true) ? absl::OkStatus() : Refuse(name, "minuteUTC is 0-59");
  if (kind == "daily" || kind == "weekly" || kind == "monthly") {
    if (!InRange(hour, 0, 23, false) || !InRange(minute, 0, 59, true)) {
      return Refuse(name, "hourUTC is 0-23 and minuteUTC 0-59");
    }
    if (kind == "weekly") {
      static constexpr absl::string_view kDays[] = {"monday", "tuesday", "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"};
      const Value& day = schedule.Get("dayOfWeek");
      bool known = false;
      for (absl::string_view d : kDays) known = known || (day.type() == Value::Type::kString && day.string() == d);
      if (!known) return Refuse(name, "dayOfWeek is a day's name in lower case");
    }
    if (kind == "monthly" && !InRange(schedule.Get("day"), 1, 31, false)) return Refuse(name, "day is 1-31");
    return absl::OkStatus();
  }
  if (kind == "cron") {
    const Value& cron = schedule.Get("cron");
    if (cron.type() != Value::Type::kString) return Refuse(name, "a cron expression is a string");
    absl::StatusOr<CronSchedule> parsed = CronSchedule::ParseExpression(cron.string());
    return parsed.ok() ? absl::OkStatus() : Refuse(name, parsed.status().message());
  }
  return Refuse(name, absl::StrCat("unknown schedule type \"", kind.substr(0, 40), "\""));
}

}  // namespace

absl::StatusOr<std::vector<CronSpec>> ParseCrons(const Value& analysis, const CodeVersion& code,
                                                 const storage::TableOfId& ids) {
  std::vector<CronSpec> out;
  const Value& crons = analysis.Get("crons");
  if (crons.type() != Value::Type::kObject) return out;
  if (crons.object().size() > kMaxCrons) {
    return absl::InvalidArgumentError(absl::StrCat("a deployment has at most ", kMaxCrons, " crons"));
  }
  for (const auto& [name, cron] : crons.object()) {
    if (name.empty() || name.size() > 256) return Refuse(name, "its name is 1 to 256 characters");
    const Value& function = cron.Get("name");
    if (function.type() != Value::Type::kString) return Refuse(name, "it names no function");
    absl::StatusOr<FunctionPath> path = ParseFunctionPath(function.string());
    if (!path.ok()) return Refuse(name, path.status().message());
    const FunctionDef* def = code.Find(*path);
    if (def == nullptr) return Refuse(name, absl::StrCat("no function ", path->canonical, " in this push"));
    if (def->kind == FunctionKind::kQuery) return Refuse(name, "crons run mutations and actions, not queries");
    RETURN_IF_ERROR(CheckSchedule(name, cron.Get("schedule")));
    // Stored with the known fields only (nothing else from the bundle reaches the table).
    Value::Object schedule;
    for (const char* field : {"cron", "day", "dayOfWeek", "hourUTC", "hours", "minuteUTC", "minutes", "seconds", "type"}) {
      const Value& v = cron.Get("schedule").Get(field);
      if (!v.is_undefined()) schedule.emplace_back(field, v);
    }
    const Value& args = cron.Get("args");
    Value call_args = Value::MakeSortedObject({});
    if (args.type() == Value::Type::kArray && args.array().size() == 1) {
      absl::StatusOr<Value> decoded = storage::FromPlainJson(args.array()[0], /*allow_undefined=*/false);
      if (!decoded.ok() || decoded->type() != Value::Type::kObject) return Refuse(name, "its arguments are not an object");
      call_args = *decoded;
    }
    if (absl::Status valid = def->args.Check(call_args, ids); !valid.ok()) return Refuse(name, valid.message());
    out.push_back(CronSpec{name, def->path, call_args, Value::MakeSortedObject(std::move(schedule))});
  }
  return out;
}

absl::Status RegisterCrons(LiveDeployment& deployment, const std::vector<CronSpec>& crons) {
  std::map<std::string, const CronSpec*> wanted;
  for (const CronSpec& cron : crons) wanted[cron.name] = &cron;
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::unique_ptr<storage::Transaction> txn = deployment.db().Begin();
    ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table,
                     txn->schemas().ByName(storage::kCronJobsTable, /*create=*/true));
    ASSIGN_OR_RETURN(storage::ScanResult existing,
                     txn->Scan(table, table->by_creation_time(), {}, storage::Order::kAsc, kMaxCrons + 1));
    std::map<std::string, bool> kept;
    for (const Value& job : existing.documents) {
      ASSIGN_OR_RETURN(storage::DocumentId id, txn->ResolveId("crons", job.Get("_id").string(), std::nullopt));
      const Value& name = job.Get("name");
      auto it = name.type() == Value::Type::kString ? wanted.find(name.string()) : wanted.end();
      if (it == wanted.end() || kept.count(it->first) > 0) {
        RETURN_IF_ERROR(txn->Delete(id, storage::Access::kSystem).status());
        continue;
      }
      kept[it->first] = true;
      const CronSpec& spec = *it->second;
      const bool same = job.Get("function") == Value::String(spec.function) && job.Get("args") == spec.args &&
                        job.Get("schedule") == spec.schedule;
      if (!same) {
        ASSIGN_OR_RETURN(Value fields, Value::MakeObject({{"name", Value::String(spec.name)},
                                                          {"function", Value::String(spec.function)},
                                                          {"args", spec.args},
                                                          {"schedule", spec.schedule}}));
        RETURN_IF_ERROR(txn->Replace(id, fields, storage::Access::kSystem).status());
      }
    }
    for (const CronSpec& spec : crons) {
      if (kept.count(spec.name) > 0) continue;
      ASSIGN_OR_RETURN(Value fields, Value::MakeObject({{"name", Value::String(spec.name)},
                                                        {"function", Value::String(spec.function)},
                                                        {"args", spec.args},
                                                        {"schedule", spec.schedule}}));
      RETURN_IF_ERROR(txn->Insert(storage::kCronJobsTable, fields, storage::Access::kSystem).status());
    }
    absl::StatusOr<storage::Timestamp> committed = deployment.db().Commit(*txn);
    if (committed.ok()) return absl::OkStatus();
    last = committed.status();
    if (!absl::IsAborted(last)) break;
  }
  return last;
}

}  // namespace isobar::supervisor
