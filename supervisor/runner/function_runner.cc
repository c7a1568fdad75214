#include "supervisor/runner/function_runner.h"

#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/backoff.h"
#include "base/deployment_url.h"
#include "base/log.h"
#include "base/monotonic.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/index_key.h"
#include "storage/system_tables.h"
#include "supervisor/deploy/function_path.h"
#include "supervisor/runner/fetch_calls.h"
#include "supervisor/runner/limit_warnings.h"
#include "supervisor/runner/prefetch.h"
#include "supervisor/runner/value_limits.h"
#include "supervisor/workers/stage_timings.h"

namespace isobar::supervisor {
namespace {

using isobar::worker::v1::Done;
using storage::Value;

uint64_t RandomSeed() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

// A user-facing failure of the function itself (validation of its arguments or return value).
FunctionOutcome UserFailure(grpc::StatusCode code, std::string message) {
  FunctionOutcome outcome;
  outcome.error.code = code;
  outcome.error.detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
  outcome.error.detail.set_message(std::move(message));
  return outcome;
}

// "Query", "Mutation", "Action", as Convex's messages name kinds.
std::string TitleKind(FunctionKind kind) {
  std::string title(KindName(kind));
  title[0] = absl::ascii_toupper(title[0]);
  return title;
}

// An execution's outcome as metrics label it: "ok", or its error's kind ("user_error", "limit", ...).
std::string OutcomeLabel(const FunctionOutcome& outcome) {
  if (outcome.ok) return "ok";
  return absl::AsciiStrToLower(isobar::v1::ErrorDetail::Kind_Name(outcome.error.detail.kind()));
}

isobar::worker::v1::FunctionCall::Kind WorkerKind(FunctionKind kind, bool http) {
  using isobar::worker::v1::FunctionCall;
  if (http) return FunctionCall::HTTP_ACTION;
  switch (kind) {
    case FunctionKind::kQuery:
      return FunctionCall::QUERY;
    case FunctionKind::kMutation:
      return FunctionCall::MUTATION;
    case FunctionKind::kAction:
      return FunctionCall::ACTION;
  }
  return FunctionCall::KIND_UNSPECIFIED;
}

}  // namespace

// One client call across its attempts (a mutation runs again after an OCC conflict).
struct FunctionRunner::Attempt {
  FunctionCallRequest request;
  FunctionCallback done;
  std::shared_ptr<LiveDeployment> deployment;
  std::shared_ptr<const CodeVersion> code;
  FunctionDef function;
  FunctionPath path;
  std::string args_json;  // canonical Convex JSON of the validated arguments
  size_t args_bytes = 0;  // Convex's size of [args]
  std::optional<size_t> result_bytes;
  int retries = 0;
  // With stage timings (MonotonicNanos): when the latest Done arrived.
  int64_t done_received_ns = 0;
  // A nested call's borrowed transaction: where it stood before the call.
  std::optional<storage::Transaction::Savepoint> savepoint;
  // Its arguments that may be document ids (prefetch.h; what was read ahead is the session's).
  std::vector<std::string> prefetch_candidates;
};

namespace {

// Names a function of a code version, for the prefetcher's usage.
std::string PrefetchKey(const LiveDeployment& deployment, const CodeVersion& code, const FunctionPath& path) {
  return absl::StrCat(deployment.info().name, "\n", code.version(), "\n", path.canonical);
}

}  // namespace

void FunctionRunner::Run(FunctionCallRequest request, FunctionCallback done) {
  executor_.Run([this, request = std::move(request), done = std::move(done)]() mutable {
    Start(std::move(request), std::move(done));
  });
}

void FunctionRunner::Start(FunctionCallRequest request, FunctionCallback done) {
  ++invocations_;
  if (request.depth > kMaxCallDepth) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError(
        "Cross component call depth limit exceeded. Do you have an infinite loop in your app?")));
    return;
  }
  absl::StatusOr<std::shared_ptr<LiveDeployment>> deployment = deployments_.Get(request.deployment);
  if (!deployment.ok()) {
    std::move(done)(FunctionOutcome::Failure(deployment.status()));
    return;
  }
  auto attempt = std::make_shared<Attempt>();
  attempt->deployment = *deployment;
  // A nested call runs the caller's code version, whatever was pushed since.
  attempt->code = request.parent != nullptr ? request.parent->code : attempt->deployment->code();
  if (attempt->code == nullptr) {
    std::move(done)(FunctionOutcome::Failure(absl::FailedPreconditionError(absl::StrCat(
        "deployment \"", request.deployment, "\" has no functions yet: push its code first (isobarctl deploy)"))));
    return;
  }
  if (request.http.has_value()) {
    StartHttpAction(std::move(attempt), std::move(request), std::move(done));
    return;
  }
  absl::StatusOr<FunctionPath> path = ParseFunctionPath(request.path);
  if (!path.ok()) {
    std::move(done)(FunctionOutcome::Failure(path.status()));
    return;
  }
  const FunctionDef* function = attempt->code->Find(*path);
  if (function == nullptr || (function->internal && !request.allow_internal)) {
    // NOT_FOUND for gRPC; of the kind api.proto gives a function that does not exist (a request's
    // mistake, which the Convex protocols report as the function's failure).
    FunctionOutcome missing = FunctionOutcome::Failure(
        absl::NotFoundError(absl::StrCat("Could not find public function for '", path->canonical, "'.")));
    missing.error.detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
    std::move(done)(std::move(missing));
    return;
  }
  if (function->kind != request.kind) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError(absl::StrCat("Trying to execute ", path->ConvexName(), " as ",
                                                                   TitleKind(request.kind), ", but it is defined as ",
                                                                   TitleKind(function->kind), "."))));
    return;
  }
  absl::StatusOr<Value> args = storage::ParseConvexJson(request.args_json.empty() ? "{}" : request.args_json);
  if (!args.ok()) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError(absl::StrCat("The arguments are not Convex JSON: ",
                                                                   args.status().message()))));
    return;
  }
  if (args->type() != Value::Type::kObject) {
    std::move(done)(FunctionOutcome::Failure(absl::InvalidArgumentError("The arguments must be an object")));
    return;
  }
  // Convex checks the array of arguments, [args]: one level more than the object.
  if (const int depth = storage::NestingDepth(*args) + 1; depth > storage::ConvexJsonLimits().max_depth) {
    const std::string message = absl::StrCat("Value is too nested (nested ", depth, " levels deep > maximum nesting ",
                                             storage::ConvexJsonLimits().max_depth, ")");
    std::move(done)(UserFailure(grpc::StatusCode::INVALID_ARGUMENT,
                                request.depth == 0 ? message
                                                   : absl::StrCat("Invalid arguments for ", path->ConvexName(),
                                                                  ": ", message)));
    return;
  }
  if (absl::Status size = CheckArgsSize(path->ConvexName(), *args); !size.ok()) {
    std::move(done)(UserFailure(grpc::StatusCode::INVALID_ARGUMENT, std::string(size.message())));
    return;
  }
  if (absl::Status valid = function->args.Check(*args, attempt->deployment->TableOfId()); !valid.ok()) {
    std::move(done)(UserFailure(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("ArgumentValidationError: ", valid.message())));
    return;
  }
  attempt->function = *function;
  attempt->path = *std::move(path);
  if (options_.prefetch && request.parent == nullptr && function->kind != FunctionKind::kAction) {
    attempt->prefetch_candidates = Prefetcher::Candidates(*args);
  }
  attempt->args_json = storage::ToConvexJson(*args);
  attempt->args_bytes = 2 + storage::ConvexSize(*args);
  attempt->request = std::move(request);
  attempt->done = std::move(done);
  Dispatch(std::move(attempt));
}

void FunctionRunner::StartHttpAction(std::shared_ptr<Attempt> attempt, FunctionCallRequest request,
                                     FunctionCallback done) {
  if (attempt->code->analysis().Get("httpRoutes").type() != Value::Type::kArray) {
    std::move(done)(FunctionOutcome::Failure(absl::NotFoundError(absl::StrCat(
        "deployment \"", request.deployment, "\" has no HTTP actions: convex/http.ts exports no httpRouter()"))));
    return;
  }
  // Named in logs as Convex names an HTTP action: its method and path.
  attempt->function = FunctionDef{.path = request.http->route.empty() ? absl::StrCat(request.http->method, " ", request.http->path)
                                                                     : request.http->route,
                                  .kind = FunctionKind::kAction};
  attempt->path = FunctionPath{.module = "http.js", .name = "default", .canonical = "http:default"};
  // The request (up to 20 MiB of body, as base64) is held once: the attempt's copy is the one sent.
  attempt->args_bytes = request.args_json.size();
  attempt->args_json = std::move(request.args_json);
  attempt->request = std::move(request);
  attempt->done = std::move(done);
  Dispatch(std::move(attempt));
}

void FunctionRunner::Dispatch(std::shared_ptr<Attempt> attempt) {
  if (attempt->retries == 0) {
    if (attempt->request.request_id.empty()) {
      attempt->request.request_id = attempt->request.parent != nullptr ? attempt->request.parent->request_id
                                                                       : absl::StrFormat("%016x", RandomSeed());
    }
    // Once per execution, when its caller hears the outcome (a rerun after a conflict keeps its first
    // dispatch): its request id, stage timings (with --trace-stages), metrics and its log line.
    // Metrics' labels name the deployed function (resolved by now), never the request's path.
    StageTimings* timings = workers_.stage_timings();
    const int label = timings == nullptr
                          ? -1
                          : StageLabel(WorkerKind(attempt->function.kind, attempt->request.http.has_value()),
                                       attempt->code->warm_contexts().value_or(options_.warm_contexts)
                                           ? isobar::worker::v1::Invoke::WARM
                                           : isobar::worker::v1::Invoke::FRESH);
    const int64_t dispatched_ns = MonotonicNanos();
    // (The attempt owns this callback and outlives its call.)
    attempt->done = [timings, label, metrics = options_.metrics, log = options_.log_calls, dispatched_ns,
                     attempt = attempt.get(), done = std::move(attempt->done)](FunctionOutcome outcome) mutable {
      outcome.request_id = attempt->request.request_id;
      const int64_t now = MonotonicNanos();
      const absl::Duration took = absl::Nanoseconds(now - dispatched_ns);
      if (timings != nullptr) {
        if (attempt->done_received_ns > 0) timings->Add(label, Stage::kFinish, absl::Nanoseconds(now - attempt->done_received_ns));
        timings->Add(label, Stage::kTotal, took);
      }
      const absl::string_view kind =
          attempt->request.http.has_value() ? "http_action" : KindName(attempt->function.kind);
      const std::string result = OutcomeLabel(outcome);
      if (metrics != nullptr) {
        metrics->RecordExecution(attempt->deployment->info().name, attempt->path.canonical, kind, result, took);
      }
      if (log) {
        ISOBAR_LOG(kInfo, "calls")
                .Field("deployment", attempt->deployment->info().name)
                .Field("function", attempt->path.canonical)
                .Field("kind", kind)
                .Field("outcome", result)
                .Field("ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(took)))
                .Field("request", attempt->request.request_id)
            << attempt->path.canonical << " " << result;
      }
      std::move(done)(std::move(outcome));
    };
  }
  const FunctionCallRequest& request = attempt->request;
  auto session = std::make_shared<InvocationSession>();
  session->deployment = attempt->deployment;
  session->code = attempt->code;
  session->function = attempt->function;
  session->identity_json = request.identity_json.empty() ? "null" : request.identity_json;
  session->identity_error = request.identity_error;
  session->depth = request.depth;
  session->deadline = request.deadline;
  session->scheduled_job = request.scheduled_job;
  if (request.parent == nullptr) session->prev_journal = request.journal;
  session->request_id = request.request_id;
  session->cloud_url = DeploymentUrl(options_.public_url, attempt->deployment->info().name);
  session->site_url = DeploymentUrl(options_.site_url, attempt->deployment->info().name);
  if (request.parent == nullptr) {
    session->http_stream = request.http_stream;
    session->http_request_body = request.http_request_body;
  }
  if (request.parent != nullptr) session->identity_read = request.parent->identity_read;
  if (attempt->function.kind != FunctionKind::kAction && request.parent != nullptr) {
    // Borrow the caller's transaction: while the nested call runs, the caller has none (so nothing
    // can touch it from two invocations at once).
    std::unique_ptr<storage::Transaction> borrowed;
    ScheduledCounts scheduled;
    {
      absl::MutexLock lock(&request.parent->mu);
      borrowed = std::move(request.parent->txn);
      scheduled = request.parent->scheduled;  // the transaction's scheduling limits count nested calls too
    }
    if (borrowed == nullptr) {
      std::move(attempt->done)(FunctionOutcome::Failure(absl::FailedPreconditionError("the calling function has no transaction to share")));
      return;
    }
    attempt->savepoint = borrowed->Save();
    absl::MutexLock lock(&session->mu);
    session->txn = std::move(borrowed);
    session->scheduled = scheduled;
  } else if (attempt->function.kind != FunctionKind::kAction) {
    absl::MutexLock lock(&session->mu);
    if (attempt->function.kind == FunctionKind::kQuery && request.snapshot_ts.has_value()) {
      absl::StatusOr<std::unique_ptr<storage::Transaction>> at = attempt->deployment->db().BeginAt(*request.snapshot_ts);
      if (!at.ok()) {
        std::move(attempt->done)(FunctionOutcome::Failure(at.status()));
        return;
      }
      session->txn = *std::move(at);
    } else {
      session->txn = attempt->deployment->db().Begin();
    }
  }
  if (attempt->function.kind == FunctionKind::kMutation && !request.idempotency_key.empty()) {
    absl::StatusOr<std::optional<std::string>> stored = StoredResult(*session, request.idempotency_key);
    if (!stored.ok()) {
      std::move(attempt->done)(FunctionOutcome::Failure(stored.status()));
      return;
    }
    if (stored->has_value()) {
      FunctionOutcome outcome;
      outcome.ok = true;
      outcome.result_json = **stored;
      outcome.occ_retries = attempt->retries;
      std::move(attempt->done)(std::move(outcome));
      return;
    }
  }

  isobar::worker::v1::Invoke invoke;
  if (!attempt->prefetch_candidates.empty() &&
      prefetcher_.Wanted(PrefetchKey(*attempt->deployment, *attempt->code, attempt->path))) {
    absl::StatusOr<std::vector<Prefetcher::Read>> reads;
    {
      absl::MutexLock lock(&session->mu);
      reads = Prefetcher::ReadAhead(*session->txn, attempt->prefetch_candidates);
    }
    // (A read that failed is left to the function: it asks the host, and hears the failure, if it reads.)
    if (reads.ok()) {
      for (const Prefetcher::Read& read : *reads) {
        auto* out = invoke.add_prefetched();
        out->set_id(read.id_text);
        out->set_result_json(read.result_json);
      }
      absl::MutexLock lock(&session->mu);
      session->prefetched = *std::move(reads);
    }
  }
  auto* call = invoke.mutable_function();
  call->set_kind(WorkerKind(attempt->function.kind, request.http.has_value()));
  switch (attempt->function.kind) {
    case FunctionKind::kQuery:
      invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.query_cpu_budget)));
      break;
    case FunctionKind::kMutation:
      invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.mutation_cpu_budget)));
      break;
    case FunctionKind::kAction:
      call->set_request_id(session->request_id);
      invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.action_cpu_budget)));
      break;
  }
  call->set_module_path(attempt->path.module);
  call->set_export_name(attempt->path.name);
  if (request.http.has_value()) {
    call->set_http_path(request.http->path);
    // Dispatched once (only mutations run again), so the request moves to the worker's message.
    call->set_args_json(std::move(attempt->args_json));
  } else {
    call->set_args_json(absl::StrCat("[", attempt->args_json, "]"));
  }
  // The modules go by reference to the code version: the pool sends each worker process their
  // sources once, and no call copies them.
  invoke.set_deployment(attempt->deployment->info().name);
  invoke.set_context_policy(attempt->code->warm_contexts().value_or(options_.warm_contexts)
                                ? isobar::worker::v1::Invoke::WARM
                                : isobar::worker::v1::Invoke::FRESH);
  invoke.set_seed(RandomSeed());
  invoke.set_unix_time_ms(static_cast<double>(absl::ToUnixMillis(absl::Now())));
  invoke.set_import_seed(attempt->code->import_phase().seed);
  invoke.set_import_unix_time_ms(attempt->code->import_phase().unix_time_ms);
  workers_.Dispatch(
      std::move(invoke), request.deadline,
      [this, attempt, session](absl::StatusOr<Done> done, WorkerId worker) mutable {
        if (workers_.stage_timings() != nullptr) attempt->done_received_ns = MonotonicNanos();
        // Completions arrive on the pool's threads (a worker stream's reader). A client's query or
        // action finishes right there (nothing in Finish blocks for it); a mutation commits, and a
        // nested call answers another worker's stream, so those move to the executor.
        const bool inline_finish =
            attempt->request.parent == nullptr && attempt->request.depth == 0 && attempt->function.kind != FunctionKind::kMutation;
        if (inline_finish) {
          Finish(std::move(attempt), std::move(session), std::move(done), worker);
          return;
        }
        executor_.Run([this, attempt = std::move(attempt), session = std::move(session), done = std::move(done),
                       worker]() mutable { Finish(std::move(attempt), std::move(session), std::move(done), worker); });
      },
      DispatchOptions{.session = session,
                      .accepted_work = request.depth > 0 || attempt->retries > 0,
                      .modules = attempt->code->modules()});
}

ExecutionSize FunctionRunner::Measure(const Attempt& attempt, InvocationSession& session) {
  ExecutionSize size{.args_bytes = attempt.args_bytes, .result_bytes = attempt.result_bytes};
  absl::MutexLock lock(&session.mu);
  std::optional<TransactionCounts> counts = session.committed_counts;
  if (session.txn != nullptr) counts = TransactionCounts::Of(*session.txn);
  if (counts.has_value()) {
    size.documents_read = counts->documents_read;
    size.read_intervals = counts->read_intervals;
    size.bytes_read = counts->bytes_read;
    size.writes = counts->writes;
    size.bytes_written = counts->bytes_written;
  }
  size.scheduled = session.scheduled.jobs;
  size.scheduled_args_bytes = session.scheduled.args_bytes;
  size.max_scheduled_args_bytes = session.scheduled.largest_args_bytes;
  return size;
}

// Stack frames in the error and the log lines (console.trace, a logged error.stack) point at the
// user's files, through the pushed source maps.
void FunctionRunner::MapStackFrames(const SourceMaps& maps, isobar::worker::v1::Done* done) {
  if (maps.empty()) return;
  for (auto& line : *done->mutable_log_lines()) {
    if (absl::StrContains(line.message(), "convex:/")) line.set_message(maps.MapFrames(line.message()));
  }
  if (done->has_error() && !done->error().stack().empty()) {
    done->mutable_error()->set_stack(maps.MapFrames(done->error().stack()));
  }
}

void FunctionRunner::PublishLogs(const Attempt& attempt, const Done& done, WorkerId worker) {
  // The lines of a query's or mutation's ctx.runQuery/runMutation reach its caller's log and are
  // published with it; an action's nested calls log as calls of their own (as on Convex).
  if (attempt.request.parent != nullptr) return;
  const int64_t now = absl::ToUnixMillis(absl::Now());
  for (const auto& line : done.log_lines()) {
    isobar::v1::LogEntry entry;
    entry.set_unix_time_ms(now);
    entry.set_deployment(attempt.deployment->info().name);
    entry.set_function(attempt.function.path);
    entry.set_level(line.level());
    entry.set_message(line.message());
    entry.set_worker_id(worker.value());
    entry.set_request_id(attempt.request.request_id);
    logs_.Publish(entry);
  }
}

absl::Duration FunctionRunner::Backoff(int retry) {
  return JitteredBackoff(options_.occ_backoff_min, options_.occ_backoff_max, retry);
}

void FunctionRunner::Finish(std::shared_ptr<Attempt> attempt, std::shared_ptr<InvocationSession> session,
                            absl::StatusOr<Done> done, WorkerId worker) {
  {
    // The invocation is over: nested calls still waiting for their turn will not start.
    absl::MutexLock lock(&session->nested.mu);
    session->nested.finished = true;
  }
  // A fetch the action left going ends with it.
  if (attempt->function.kind == FunctionKind::kAction) CancelFetches(*session);
  FunctionOutcome outcome;
  outcome.occ_retries = attempt->retries;
  auto finish = [&](FunctionOutcome result) {
    result.occ_retries = attempt->retries;
    if (attempt->function.kind == FunctionKind::kQuery && attempt->request.parent == nullptr) {
      // What the query depended on, for the query cache and subscriptions.
      absl::MutexLock lock(&session->mu);
      if (session->txn != nullptr) {
        result.reads = std::make_shared<const storage::ReadSet>(session->txn->reads());
        result.snapshot_ts = session->txn->begin_ts();
      }
      result.code_version = attempt->code->version();
      result.journal = session->next_journal;
      result.identity_read = session->identity_read->load();
    }
    if (attempt->request.parent != nullptr) ReturnBorrowed(*attempt, *session, result.ok);
    if (attempt->request.parent == nullptr) {
      // Convex's warnings near a limit end the log, whether the function succeeded or not.
      for (isobar::v1::LogLine& line : LimitWarnings(Measure(*attempt, *session))) result.logs.push_back(std::move(line));
    }
    std::move(attempt->done)(std::move(result));
  };
  if (!done.ok()) {
    {
      // What the function read of the documents read ahead is unknown: all count (a failure a query
      // result keeps hears of their changes).
      absl::MutexLock lock(&session->mu);
      if (session->txn != nullptr) Prefetcher::AddAllReads(*session->txn, session->prefetched);
    }
    finish(FunctionOutcome::Failure(done.status()));
    return;
  }
  {
    // The documents read ahead that the function read are its reads, as if it had asked the host.
    (void)NotePrefetchesUsed(*session, done->prefetched_used());
    bool read_ahead = false, used = false;
    absl::Status failure;
    {
      absl::MutexLock lock(&session->mu);
      read_ahead = !session->prefetched.empty();
      used = session->prefetch_uses > 0;
      failure = session->prefetch_failure;
    }
    if (read_ahead) prefetcher_.Record(PrefetchKey(*attempt->deployment, *attempt->code, attempt->path), used);
    if (!failure.ok()) {
      finish(FunctionOutcome::Failure(failure));
      return;
    }
  }
  MapStackFrames(attempt->code->source_maps(), &*done);
  PublishLogs(*attempt, *done, worker);
  outcome.observed_time = done->observed_time() || session->time_dependent.load();
  for (const auto& line : done->log_lines()) {
    isobar::v1::LogLine& out = outcome.logs.emplace_back();
    out.set_level(line.level());
    out.set_message(line.message());
  }
  if (done->outcome_case() != Done::kResultJson) {
    absl::Status host_failure;
    {
      absl::MutexLock lock(&session->mu);
      host_failure = session->host_failure;
      // A failed invocation may have dropped what it had not told yet (a batch cut by its CPU limit).
      if (session->txn != nullptr) Prefetcher::AddAllReads(*session->txn, session->prefetched);
    }
    outcome.error = !host_failure.ok()                 ? Describe(host_failure)
                    : done->outcome_case() == Done::kError ? DescribeWorkerError(done->error())
                                                           : Describe(absl::InternalError("the worker finished without a result"));
    finish(std::move(outcome));
    return;
  }
  if (attempt->request.http.has_value()) {
    outcome.ok = true;
    outcome.result_json = std::move(*done->mutable_result_json());
    finish(std::move(outcome));
    return;
  }
  absl::StatusOr<Value> result = storage::ParseConvexJson(done->result_json());
  if (!result.ok()) {
    // User code returned something that is not a Convex value (a lone surrogate in a string, say): a
    // user error, worded as Convex words it.
    // Text that is not JSON, or JSON that is not a Convex value: Convex words them differently.
    const bool not_json = absl::StartsWith(result.status().message(), "invalid JSON");
    FunctionOutcome failed = UserFailure(
        grpc::StatusCode::INVALID_ARGUMENT,
        not_json ? absl::StrCat("Function \"", attempt->function.path,
                                "\" failed. Could not parse return value as json: ", result.status().message())
                 : absl::StrCat("Function ", attempt->path.ConvexName(), " return value invalid: ",
                                result.status().message()));
    failed.error.detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
    failed.logs = std::move(outcome.logs);
    finish(std::move(failed));
    return;
  }
  attempt->result_bytes = storage::ConvexSize(*result);
  if (absl::Status size = CheckResultSize(attempt->path.ConvexName(), *result);
      !size.ok()) {
    FunctionOutcome failed = UserFailure(grpc::StatusCode::INVALID_ARGUMENT, std::string(size.message()));
    failed.logs = std::move(outcome.logs);
    finish(std::move(failed));
    return;
  }
  if (attempt->function.returns.has_value()) {
    if (absl::Status valid = attempt->function.returns->Check(*result, attempt->deployment->TableOfId()); !valid.ok()) {
      FunctionOutcome failed = UserFailure(grpc::StatusCode::INVALID_ARGUMENT,
                                           absl::StrCat("ReturnsValidationError: ", valid.message()));
      failed.error.detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
      failed.logs = std::move(outcome.logs);
      finish(std::move(failed));
      return;
    }
  }
  if (attempt->function.kind == FunctionKind::kMutation && attempt->request.parent == nullptr) {
    absl::StatusOr<storage::Timestamp> committed = absl::FailedPreconditionError(
        "The function returned while a nested ctx.runQuery/ctx.runMutation it started was still running; await it");
    {
      absl::MutexLock lock(&session->mu);
      session->streams.clear();
      // No transaction: it is lent to a nested call the function did not wait for, and nothing of the
      // function may commit.
      if (session->txn != nullptr) {
        // The scheduler's bookkeeping and the result kept for an idempotency key commit with the
        // mutation's own writes: all, or nothing.
        absl::Status stored = attempt->request.before_commit ? attempt->request.before_commit(*session->txn)
                                                             : absl::OkStatus();
        if (stored.ok() && !attempt->request.idempotency_key.empty()) {
          stored = StoreResult(*session, attempt->request.idempotency_key, storage::ToConvexJson(*result));
        }
        if (stored.ok() && absl::Now() >= attempt->request.deadline) {
          // Its caller has given up on it by now: writes it could no longer report must not land.
          stored = absl::DeadlineExceededError("the call's deadline passed before its writes could commit; none were");
        }
        session->committed_counts = TransactionCounts::Of(*session->txn);
        const absl::Time commit_start = absl::Now();
        const bool writes = !session->txn->read_only();  // a mutation that wrote nothing commits nothing
        committed = stored.ok() ? attempt->deployment->db().Commit(*session->txn, attempt->request.deadline)
                                : absl::StatusOr<storage::Timestamp>(stored);
        if (options_.metrics != nullptr && stored.ok() && writes) {
          options_.metrics->RecordCommit(attempt->deployment->info().name,
                                         committed.ok()                     ? "committed"
                                         : absl::IsAborted(committed.status()) ? "conflict"
                                                                               : "failed",
                                         absl::Now() - commit_start);
        }
        session->txn.reset();
      }
    }
    if (absl::IsAborted(committed.status())) {
      ++occ_conflicts_;
      const absl::Time retry_at = absl::Now() + Backoff(attempt->retries);
      if (attempt->retries < options_.max_occ_retries && retry_at < attempt->request.deadline) {
        ++attempt->retries;
        ++occ_retries_;
        executor_.RunAt(retry_at, [this, attempt]() mutable { Dispatch(std::move(attempt)); });
        return;
      }
    }
    if (!committed.ok()) {
      FunctionOutcome failed = FunctionOutcome::Failure(committed.status());
      failed.logs = std::move(outcome.logs);
      finish(std::move(failed));
      return;
    }
    outcome.commit_ts = *committed;
  }
  outcome.ok = true;
  outcome.result_json = storage::ToConvexJson(*result);
  finish(std::move(outcome));
}

void FunctionRunner::ReturnBorrowed(Attempt& attempt, InvocationSession& session, bool succeeded) {
  std::unique_ptr<storage::Transaction> txn;
  ScheduledCounts scheduled;
  {
    absl::MutexLock lock(&session.mu);
    session.streams.clear();
    txn = std::move(session.txn);
    scheduled = session.scheduled;
  }
  if (txn == nullptr) return;
  // A failed nested mutation leaves nothing behind.
  if (!succeeded && attempt.savepoint.has_value()) txn->Restore(*std::move(attempt.savepoint));
  absl::MutexLock lock(&attempt.request.parent->mu);
  attempt.request.parent->txn = std::move(txn);
  if (succeeded) attempt.request.parent->scheduled = scheduled;
}

absl::StatusOr<std::optional<std::string>> FunctionRunner::StoredResult(InvocationSession& session,
                                                                       const std::string& key) {
  absl::MutexLock lock(&session.mu);
  storage::Transaction& txn = *session.txn;
  ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table,
                   txn.schemas().ByName(storage::kIdempotencyTable, /*create=*/true));
  const storage::IndexInfo* by_key = table->Find("by_key");
  if (by_key == nullptr) return absl::DataLossError("the idempotency table has no by_key index");
  // Every entry whose key field is `key`: [key] .. [key, +inf).
  storage::KeyRange range;
  range.start = storage::EncodeIndexKey({Value::String(key)});
  range.end = storage::WholeValuesEnd(range.start);
  ASSIGN_OR_RETURN(storage::ScanResult found, txn.Scan(table, *by_key, range, storage::Order::kAsc, 1));
  if (found.documents.empty()) return std::optional<std::string>();
  const Value& result = found.documents[0].Get("result");
  if (result.type() != Value::Type::kString) return absl::DataLossError("an idempotency record has no result");
  return std::optional<std::string>(result.string());
}

absl::Status FunctionRunner::StoreResult(InvocationSession& session, const std::string& key,
                                         const std::string& result_json) {
  ASSIGN_OR_RETURN(Value record, Value::MakeObject({{"key", Value::String(key)},
                                                    {"path", Value::String(session.function.path)},
                                                    {"result", Value::String(result_json)}}));
  return session.txn->Insert(storage::kIdempotencyTable, record, storage::Access::kSystem).status();
}

}  // namespace isobar::supervisor
