#include "supervisor/api/admin_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "supervisor/api/admin_key.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/workers/stage_timings.h"

namespace isobar::supervisor {

using isobar::worker::v1::Done;

namespace {

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(WithDetail(*context, status));
  return reactor;
}

// An eval's console output, for Admin.TailLogs.
void PublishLogs(LogHub& logs, const Done& done, WorkerId worker) {
  const int64_t now = absl::ToUnixMillis(absl::Now());
  for (const auto& line : done.log_lines()) {
    isobar::v1::LogEntry entry;
    entry.set_unix_time_ms(now);
    entry.set_function("eval");
    entry.set_level(line.level());
    entry.set_message(line.message());
    entry.set_worker_id(worker.value());
    logs.Publish(entry);
  }
}

}  // namespace

grpc::Status AdminService::TailLogs(grpc::ServerContext* context, const isobar::v1::TailLogsRequest* request,
                                    grpc::ServerWriter<isobar::v1::LogEntry>* writer) {
  grpc::Status auth = CheckAdminKey(*context, options_.admin_key);
  if (!auth.ok()) return WithDetail(*context, auth);
  std::unique_ptr<LogHub::Subscription> tail = logs_.Subscribe(request->deployment());
  // Headers go out now, so that the client knows it is subscribed before the first line.
  writer->SendInitialMetadata();
  // A synchronous stream learns of a client that went away only by asking: wait for lines at most
  // half a second at a time.
  while (!context->IsCancelled() && !tail->closed()) {
    std::optional<isobar::v1::LogEntry> entry = tail->Next(absl::Milliseconds(500));
    if (entry.has_value() && !writer->Write(*entry)) break;
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AdminService::Ping(grpc::CallbackServerContext* context, const isobar::v1::PingRequest*,
                                             isobar::v1::PingResponse*) {
  return Finished(context, CheckAdminKey(*context, options_.admin_key));
}

grpc::ServerUnaryReactor* AdminService::Stats(grpc::CallbackServerContext* context,
                                              const isobar::v1::StatsRequest*,
                                              isobar::v1::StatsResponse* response) {
  grpc::Status auth = CheckAdminKey(*context, options_.admin_key);
  if (!auth.ok()) return Finished(context, auth);
  *response = Snapshot();
  return Finished(context, grpc::Status::OK);
}

isobar::v1::StatsResponse AdminService::Snapshot() const {
  isobar::v1::StatsResponse stats;
  isobar::v1::StatsResponse* response = &stats;
  uint64_t security_events = 0;
  for (const WorkerSnapshot& w : pool_.Snapshot()) {
    auto* out = response->add_workers();
    out->set_worker_id(w.id.value());
    out->set_pid(w.pid);
    out->set_state(w.state);
    out->set_starts(w.starts);
    out->set_crashes(w.crashes);
    out->set_security_events(w.security_events);
    out->set_invocations(w.invocations);
    out->set_in_flight(w.in_flight);
    out->set_heartbeat_kills(w.heartbeat_kills);
    out->set_isolates(w.isolate_pool.isolates());
    out->set_isolate_hits(w.isolate_pool.hits());
    out->set_isolate_misses(w.isolate_pool.misses());
    out->set_isolate_evictions(w.isolate_pool.evictions());
    out->set_isolate_recycles(w.isolate_pool.recycles());
    out->set_heap_in_use_bytes(w.isolate_pool.heap_in_use_bytes());
    out->set_snapshots_made(w.isolate_pool.snapshots_made());
    out->set_snapshots_refused(w.isolate_pool.snapshots_refused());
    out->set_snapshot_invocations(w.isolate_pool.snapshot_invocations());
    out->set_snapshot_bytes(w.isolate_pool.snapshot_bytes());
    out->set_contexts_prepared(w.isolate_pool.contexts_prepared());
    out->set_contexts_on_call(w.isolate_pool.contexts_on_call());
    for (const std::string& layer : w.sandbox) out->add_sandbox(layer);
    security_events += w.security_events;
  }
  response->set_security_events(security_events);
  const SnapshotMakerStats makers = pool_.SnapshotStats();
  response->mutable_snapshot_makers()->set_made(makers.made);
  response->mutable_snapshot_makers()->set_refused(makers.refused);
  response->mutable_snapshot_makers()->set_failed(makers.failed);
  response->mutable_snapshot_makers()->set_security_events(makers.security_events);
  response->mutable_snapshot_makers()->set_dropped(makers.dropped);
  response->mutable_snapshot_makers()->set_evicted(makers.evicted);
  response->mutable_snapshot_makers()->set_cached(makers.cached);
  response->mutable_snapshot_makers()->set_bytes(makers.bytes);
  response->mutable_snapshot_makers()->set_loaded(makers.loaded);
  response->mutable_snapshot_makers()->set_stored(makers.stored);
  response->mutable_snapshot_makers()->set_disk_rejected(makers.disk_rejected);
  if (const StageTimings* timings = pool_.stage_timings(); timings != nullptr) {
    for (const StageSummary& summary : timings->Summaries()) {
      isobar::v1::StageTiming* out = response->add_stage_timings();
      out->set_label(summary.label);
      out->set_stage(summary.stage);
      out->set_count(summary.count);
      out->set_p50_us(absl::ToDoubleMicroseconds(summary.p50));
      out->set_p90_us(absl::ToDoubleMicroseconds(summary.p90));
      out->set_mean_us(absl::ToDoubleMicroseconds(summary.mean));
    }
  }
  for (const std::string& deployment : pool_.Quarantined()) response->add_quarantined_deployments(deployment);
  if (options_.function_stats) *response->mutable_functions() = options_.function_stats();
  if (options_.open_deployments) response->set_open_deployments(options_.open_deployments());
  if (options_.owned_deployments) {
    for (std::string& name : options_.owned_deployments()) response->add_owned_deployments(std::move(name));
  }
  if (options_.deployments_closed) response->set_deployments_closed(options_.deployments_closed());
  return stats;
}

grpc::ServerUnaryReactor* AdminService::Eval(grpc::CallbackServerContext* context,
                                             const isobar::v1::EvalRequest* request,
                                             isobar::v1::EvalResponse* response) {
  grpc::Status auth = CheckAdminKey(*context, options_.admin_key);
  if (!auth.ok()) return Finished(context, auth);
  if (!options_.enable_eval) {
    return Finished(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                          "Admin.Eval is off; start the supervisor with --enable-eval "
                                          "(development only)"));
  }
  absl::Duration budget =
      request->timeout_ms() == 0 ? options_.default_eval_budget : absl::Milliseconds(request->timeout_ms());
  if (budget > options_.max_eval_budget) {
    return Finished(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          absl::StrCat("timeout_ms may be at most ",
                                                       absl::ToInt64Milliseconds(options_.max_eval_budget))));
  }
  absl::Time deadline = absl::Now() + budget + options_.eval_wall_slack;
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    deadline = std::min(deadline, absl::FromChrono(context->deadline()));
  }
  isobar::worker::v1::Invoke invoke;
  invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(budget)));
  invoke.mutable_eval()->set_source(request->source());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool_.Dispatch(std::move(invoke), deadline, [this, context, reactor, response](absl::StatusOr<Done> done, WorkerId worker) {
    if (!done.ok()) {
      reactor->Finish(WithDetail(*context, done.status()));
      return;
    }
    if (done->outcome_case() == Done::kError) {
      PublishLogs(logs_, *done, worker);
      reactor->Finish(WorkerError(*context, done->error()));
      return;
    }
    response->set_result_json(done->result_json());
    response->set_worker_id(worker.value());
    PublishLogs(logs_, *done, worker);
    for (const auto& line : done->log_lines()) {
      auto* out = response->add_log_lines();
      out->set_level(line.level());
      out->set_message(line.message());
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace isobar::supervisor
