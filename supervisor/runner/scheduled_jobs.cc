#include "supervisor/runner/scheduled_jobs.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/rust_format.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/system_tables.h"
#include "supervisor/deploy/function_path.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {

using storage::Value;

absl::StatusOr<std::string> ScheduleJob(storage::Transaction& txn, const CodeVersion& code, const Value& args,
                                        absl::Time now, std::optional<storage::DocumentId> parent_job,
                                        size_t args_budget, size_t* args_bytes) {
  ASSIGN_OR_RETURN(std::string name, ReferencedFunction(args, "scheduled"));
  ASSIGN_OR_RETURN(FunctionPath path, ParseFunctionPath(name));
  const FunctionDef* function = code.Find(path);
  if (function == nullptr) {
    // Convex's words, for a module that does not exist and for an export that does not.
    bool module_exists = false;
    for (const auto& module : *code.modules()) module_exists |= module.path() == path.module;
    if (!module_exists) {
      return absl::InvalidArgumentError(absl::StrCat("Attempted to schedule function at nonexistent path: ", path.module));
    }
    return absl::InvalidArgumentError(absl::StrCat("Attempted to schedule function, but no exported function ", path.name,
                                                   " found in the file: ", path.module, ". Did you forget to export it?"));
  }
  const Value& ts = args.Get("ts");
  if (ts.type() != Value::Type::kFloat64 || !std::isfinite(ts.float64())) {
    return absl::InvalidArgumentError("Invalid arguments for `ts`: cannot convert float seconds to Duration: value is either too big or NaN");
  }
  if (ts.float64() < 0) {
    return absl::InvalidArgumentError("Invalid arguments for `ts`: cannot convert float seconds to Duration: value is negative");
  }
  const double scheduled_ms = ts.float64() * 1000;
  const double delta_ms = scheduled_ms - static_cast<double>(absl::ToUnixMillis(now));
  if (std::abs(delta_ms) > static_cast<double>(absl::ToInt64Milliseconds(kMaxScheduleAhead))) {
    // As Convex words it: the time is Rust's Debug of its UnixTimestamp.
    return absl::InvalidArgumentError(absl::StrCat("UnixTimestamp(", FormatRustDuration(ts.float64()), ") is more than 5 years in the ",
                                                   delta_ms > 0 ? "future" : "past"));
  }
  std::string state = "pending";
  if (parent_job.has_value()) {
    ASSIGN_OR_RETURN(std::optional<Value> parent, txn.Get(*parent_job));
    if (parent.has_value() && parent->GetPath("state.kind") == Value::String("canceled")) state = "canceled";
  }
  ASSIGN_OR_RETURN(Value call_args, CallArguments(args));
  if (call_args.type() != Value::Type::kObject) return absl::InvalidArgumentError("Scheduled arguments must be an object");
  const size_t size = 2 + storage::ConvexSize(call_args);
  if (size > args_budget) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Too large total size of the arguments of scheduled functions from this mutation (limit: ",
        kMaxScheduledTotalArgsBytes, " bytes)"));
  }
  ASSIGN_OR_RETURN(Value job, Value::MakeObject({
                                  {"name", Value::String(path.ConvexName())},  // "basic.js:insertObject", as Convex writes it
                                  {"args", Value::MakeArray({call_args})},
                                  {"scheduledTime", Value::Float64(std::max(scheduled_ms, 0.0))},
                                  {"state", Value::MakeSortedObject({{"kind", Value::String(state)}})},
                              }));
  ASSIGN_OR_RETURN(storage::DocumentId id,
                   txn.Insert(storage::kScheduledFunctionsTable, job, storage::Access::kSystem));
  if (args_bytes != nullptr) *args_bytes = size;
  return storage::EncodeDocumentId(id);
}

absl::Status CancelJob(storage::Transaction& txn, const std::string& id_text) {
  absl::StatusOr<storage::DocumentId> id =
      txn.ResolveId("scheduler.cancel", id_text, std::string(storage::kScheduledFunctionsTable));
  if (absl::IsInvalidArgument(id.status())) {
    return absl::InvalidArgumentError(
        "Invalid scheduled function ID. The ID must be an ID on the '_scheduled_functions' table.");
  }
  if (!id.ok()) return id.status();
  ASSIGN_OR_RETURN(std::optional<Value> job, txn.Get(*id));
  if (!job.has_value()) return absl::InvalidArgumentError(absl::StrCat("No scheduled function with ID ", id_text));
  const Value& kind = job->GetPath("state.kind");
  if (kind != Value::String("pending") && kind != Value::String("inProgress")) return absl::OkStatus();
  return txn
      .Patch(*id,
             Value::MakeSortedObject(
                 {{"completedTime", Value::Float64(static_cast<double>(absl::ToUnixMillis(absl::Now())))},
                  {"state", Value::MakeSortedObject({{"kind", Value::String("canceled")}})}}),
             storage::Access::kSystem)
      .status();
}

}  // namespace isobar::supervisor
