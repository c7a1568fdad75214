#include "supervisor/scheduling.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/system_tables.h"
#include "supervisor/function_path.h"
#include "supervisor/syscall_args.h"

namespace isobar::supervisor {

using storage::Value;

absl::StatusOr<std::string> ScheduleJob(storage::Transaction& txn, const CodeVersion& code, const Value& args,
                                        absl::Time now, std::optional<storage::DocumentId> parent_job) {
  ASSIGN_OR_RETURN(std::string name, ReferencedFunction(args, "scheduled"));
  ASSIGN_OR_RETURN(FunctionPath path, ParseFunctionPath(name));
  const FunctionDef* function = code.Find(path);
  if (function == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Attempted to schedule function at nonexistent path: ", path.canonical));
  }
  const Value& ts = args.Get("ts");
  if (ts.type() != Value::Type::kFloat64 || !std::isfinite(ts.float64())) {
    return absl::InvalidArgumentError("The scheduled time must be a finite number");
  }
  const double scheduled_ms = ts.float64() * 1000;
  if (scheduled_ms > static_cast<double>(absl::ToUnixMillis(now + kMaxScheduleAhead))) {
    return absl::InvalidArgumentError("A function cannot be scheduled more than 5 years ahead");
  }
  if (scheduled_ms < static_cast<double>(absl::ToUnixMillis(now - kMaxScheduleAhead))) {
    return absl::InvalidArgumentError("A function cannot be scheduled more than 5 years in the past");
  }
  std::string state = "pending";
  if (parent_job.has_value()) {
    ASSIGN_OR_RETURN(std::optional<Value> parent, txn.Get(*parent_job));
    if (parent.has_value() && parent->GetPath("state.kind") == Value::String("canceled")) state = "canceled";
  }
  ASSIGN_OR_RETURN(Value call_args, CallArguments(args));
  if (call_args.type() != Value::Type::kObject) return absl::InvalidArgumentError("Scheduled arguments must be an object");
  if (storage::ConvexSize(call_args) > kMaxScheduledArgsBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Scheduled function arguments are too large (limit: ", kMaxScheduledArgsBytes, " bytes)"));
  }
  ASSIGN_OR_RETURN(Value job, Value::MakeObject({
                                  {"name", Value::String(absl::StrCat(path.module, ":", path.name))},  // "basic.js:insertObject", as Convex writes it
                                  {"args", Value::MakeArray({call_args})},
                                  {"scheduledTime", Value::Float64(std::max(scheduled_ms, 0.0))},
                                  {"state", Value::MakeSortedObject({{"kind", Value::String(state)}})},
                              }));
  ASSIGN_OR_RETURN(storage::DocumentId id,
                   txn.Insert(storage::kScheduledFunctionsTable, job, storage::Access::kSystem));
  return storage::EncodeDocumentId(id);
}

absl::Status CancelJob(storage::Transaction& txn, const std::string& id_text) {
  ASSIGN_OR_RETURN(storage::DocumentId id,
                   txn.ResolveId("scheduler.cancel", id_text, std::string(storage::kScheduledFunctionsTable)));
  ASSIGN_OR_RETURN(std::optional<Value> job, txn.Get(id));
  if (!job.has_value()) return absl::InvalidArgumentError(absl::StrCat("No scheduled function with ID ", id_text));
  const Value& kind = job->GetPath("state.kind");
  if (kind != Value::String("pending") && kind != Value::String("inProgress")) return absl::OkStatus();
  return txn
      .Patch(id, Value::MakeSortedObject({{"state", Value::MakeSortedObject({{"kind", Value::String("canceled")}})}}),
             storage::Access::kSystem)
      .status();
}

}  // namespace isobar::supervisor
