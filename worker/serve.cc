#include "worker/serve.h"

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/log.h"
#include "base/monotonic.h"
#include "worker/module_loader.h"
#include "worker/module_sources.h"
#include "worker/version_snapshot.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::WorkerMessage;

// When an invocation's JS thread work began, and how long it had host calls out (Done's timings).
struct CallTimes {
  int64_t started_ns = 0;
  int64_t host_wait_ns = 0;
};

// Sends the invocation's Done; true if it announced idle work (Done.preparing).
bool SendDone(HostChannel& channel, const Evaluator& evaluator, InvocationId id, InvocationResult result,
              CallTimes times) {
  WorkerMessage message;
  auto* done = message.mutable_done();
  done->set_started_ns(times.started_ns);
  done->set_host_wait_ns(times.host_wait_ns);
  done->set_preparing(evaluator.running() == 0 && evaluator.HasIdleWork());
  const IsolateStats isolates = evaluator.isolate_stats();
  auto* pool = done->mutable_isolate_pool();
  pool->set_hits(isolates.hits);
  pool->set_misses(isolates.misses);
  pool->set_evictions(isolates.evictions);
  pool->set_recycles(isolates.recycles);
  pool->set_creations(isolates.creations);
  pool->set_isolates(isolates.isolates);
  pool->set_heap_in_use_bytes(isolates.heap_in_use_bytes);
  pool->set_contexts_prepared(isolates.contexts_prepared);
  pool->set_contexts_on_call(isolates.contexts_on_call);
  pool->set_code_cache_hits(evaluator.code_cache().hits());
  pool->set_code_cache_misses(evaluator.code_cache().misses());
  const SnapshotStats& snapshots = evaluator.snapshot_stats();
  pool->set_snapshots_made(snapshots.made);
  pool->set_snapshots_refused(snapshots.refused);
  pool->set_snapshots_cached(snapshots.cached);
  pool->set_snapshot_bytes(snapshots.bytes);
  pool->set_snapshot_invocations(snapshots.invocations);
  done->set_invocation_id(id.value());
  done->set_user_time_us(static_cast<uint64_t>(absl::ToInt64Microseconds(result.cpu_time)));
  done->set_observed_time(result.observed_time);
  done->set_snapshot_missing(result.snapshot_missing);
  for (std::string& id : result.prefetch_used) done->add_prefetched_used(std::move(id));
  if (result.result_json.ok()) {
    done->set_result_json(std::move(*result.result_json));
  } else {
    auto* error = done->mutable_error();
    error->set_code(static_cast<int>(result.result_json.status().code()));
    error->set_message(std::string(result.result_json.status().message()));
    error->set_user_error(result.user_error);
    if (result.convex_error_data.has_value()) error->set_convex_error_data(*result.convex_error_data);
    error->set_stack(std::move(result.stack));
  }
  for (LogLine& line : result.logs) {
    auto* out = done->add_log_lines();
    out->set_level(std::move(line.level));
    out->set_message(std::move(line.message));
  }
  done->set_finished_ns(MonotonicNanos());
  absl::Status sent = channel.Send(message);
  if (!sent.ok()) ISOBAR_LOG(kWarning, "worker") << "Done not sent: " << sent;
  return done->preparing();
}

// The invocations waiting for host results, and which result goes where: batches by invocation and
// batch id (an action may have several out at once).
class Waiting {
 public:
  inline static const std::vector<std::string> kNone;
  // Sends `batch` of `id`. Its results at once (errors) if none of its calls could be sent.
  std::optional<std::vector<absl::StatusOr<std::string>>> Send(HostChannel& channel, InvocationId id,
                                                                 const HostBatch& batch) {
    auto& batches = batches_[id];
    if (batches.empty()) out_since_[id] = MonotonicNanos();
    Batch& out = batches[batch.id];
    out.results.assign(batch.calls.size(), absl::UnavailableError("no result"));
    out.missing = 0;
    for (size_t i = 0; i < batch.calls.size(); ++i) {
      absl::StatusOr<uint64_t> call_id =
          channel.StartCall(id, batch.calls[i].op, batch.calls[i].args_json, i == 0 ? batch.prefetched_used : kNone);
      if (!call_id.ok()) {
        out.results[i] = call_id.status();
        continue;
      }
      slots_[*call_id] = {id, batch.id, i};
      ++out.missing;
    }
    if (out.missing > 0) return std::nullopt;
    std::vector<absl::StatusOr<std::string>> results = std::move(out.results);
    batches.erase(batch.id);
    if (batches.empty()) Back(id);
    return results;
  }

  struct Complete {
    uint64_t batch;
    std::vector<absl::StatusOr<std::string>> results;
  };
  // Records a result; the batch's results once it is complete.
  std::optional<Complete> Arrived(uint64_t call_id, absl::StatusOr<std::string> result) {
    auto slot = slots_.find(call_id);
    if (slot == slots_.end()) return std::nullopt;
    const Slot where = slot->second;
    slots_.erase(slot);
    auto invocation = batches_.find(where.invocation);
    if (invocation == batches_.end()) return std::nullopt;  // finished or cancelled meanwhile
    auto batch = invocation->second.find(where.batch);
    if (batch == invocation->second.end()) return std::nullopt;
    batch->second.results[where.index] = std::move(result);
    if (--batch->second.missing > 0) return std::nullopt;
    Complete complete{where.batch, std::move(batch->second.results)};
    invocation->second.erase(batch);
    if (invocation->second.empty()) Back(where.invocation);
    return complete;
  }

  // The invocation has finished or is cancelled: results still to come are dropped.
  void Forget(InvocationId id) {
    batches_.erase(id);
    host_wait_.erase(id);
    out_since_.erase(id);
  }

  // Wall time `id` has had host calls out so far (from its first batch out to its last one back).
  int64_t host_wait_ns(InvocationId id) const {
    auto it = host_wait_.find(id);
    return it == host_wait_.end() ? 0 : it->second;
  }

 private:
  struct Batch {
    std::vector<absl::StatusOr<std::string>> results;
    size_t missing = 0;
  };
  // `id` has no batch out any more.
  void Back(InvocationId id) {
    auto since = out_since_.find(id);
    if (since == out_since_.end()) return;
    host_wait_[id] += MonotonicNanos() - since->second;
    out_since_.erase(since);
  }
  struct Slot {
    InvocationId invocation;
    uint64_t batch;
    size_t index;
  };
  absl::flat_hash_map<InvocationId, absl::flat_hash_map<uint64_t, Batch>> batches_;
  absl::flat_hash_map<uint64_t, Slot> slots_;
  absl::flat_hash_map<InvocationId, int64_t> out_since_;  // when its current batches went out
  absl::flat_hash_map<InvocationId, int64_t> host_wait_;
};

}  // namespace

void Serve(HostChannel& channel, Evaluator& evaluator, size_t module_source_bytes) {
  Waiting waiting;
  absl::flat_hash_map<InvocationId, int64_t> started;  // when each running invocation was taken
  ModuleSources sources(module_source_bytes);
  bool announced = false;  // a Done said the worker would prepare: Prepared follows the idle work
  // Sends the step's batches, or its result; goes on while batches fail at once.
  auto handle = [&](InvocationId id, Evaluator::Step step) {
    std::deque<std::pair<uint64_t, std::vector<absl::StatusOr<std::string>>>> failed;
    while (!step.done.has_value()) {
      for (const HostBatch& batch : step.batches) {
        if (auto results = waiting.Send(channel, id, batch)) failed.emplace_back(batch.id, std::move(*results));
      }
      if (failed.empty()) return;
      auto [batch, results] = std::move(failed.front());
      failed.pop_front();
      step = evaluator.Resume(id, batch, std::move(results));
    }
    CallTimes times{.host_wait_ns = waiting.host_wait_ns(id)};
    if (auto it = started.find(id); it != started.end()) {
      times.started_ns = it->second;
      started.erase(it);
    }
    waiting.Forget(id);  // an action's calls still out: their results are not wanted
    announced = SendDone(channel, evaluator, id, std::move(*step.done), times) || announced;
  };
  for (;;) {
    // Idle work only when nothing runs: an invocation waiting for its host results (a fraction of a
    // millisecond away) must not wait for a context to be prepared (a few milliseconds).
    if (evaluator.running() == 0 && !channel.HasEvent()) {
      evaluator.Prepare();  // idle: the next context, off the request path
      if (announced) {
        WorkerMessage prepared;
        prepared.mutable_prepared();
        absl::Status sent = channel.Send(prepared);
        (void)sent;  // a broken stream ends the worker
        announced = false;
      }
    }
    std::optional<HostEvent> event = channel.NextEvent();
    if (!event.has_value()) return;
    switch (event->kind) {
      case HostEvent::Kind::kInvoke: {
        const InvocationId id(event->invoke.invocation_id());
        started[id] = MonotonicNanos();
        // Modules sent without their source (this worker had it) get it back before anything runs.
        isobar::worker::v1::Invoke& invoke = event->invoke;
        absl::Status resolved = invoke.has_function() ? sources.Resolve(invoke.mutable_function()->mutable_modules())
                                : invoke.has_analyze() ? sources.Resolve(invoke.mutable_analyze()->mutable_modules())
                                                       : absl::OkStatus();
        if (!resolved.ok()) {
          WorkerMessage refused;
          refused.mutable_done()->set_invocation_id(id.value());
          refused.mutable_done()->set_sources_missing(absl::IsFailedPrecondition(resolved));
          refused.mutable_done()->mutable_error()->set_code(static_cast<int>(resolved.code()));
          refused.mutable_done()->mutable_error()->set_message(std::string(resolved.message()));
          absl::Status sent = channel.Send(refused);
          (void)sent;  // a broken stream ends the worker
          started.erase(id);
          break;
        }
        handle(id, evaluator.Start(std::move(event->invoke)));
        break;
      }
      case HostEvent::Kind::kResult: {
        if (!event->logs.empty()) {
          std::vector<LogLine> lines;
          for (const auto& line : event->logs) lines.push_back({line.level(), line.message()});
          evaluator.AddLogs(event->invocation, std::move(lines));
        }
        std::optional<Waiting::Complete> complete = waiting.Arrived(event->call_id, std::move(event->result));
        if (complete.has_value()) {
          handle(event->invocation, evaluator.Resume(event->invocation, complete->batch, std::move(complete->results)));
        }
        break;
      }
      case HostEvent::Kind::kCancel:
        started.erase(event->invocation);
        waiting.Forget(event->invocation);
        evaluator.Cancel(event->invocation);
        break;
      case HostEvent::Kind::kSnapshotBlob:
        evaluator.AddSnapshot(std::move(event->snapshot_blob));
        break;
      case HostEvent::Kind::kMakeSnapshot:
        ISOBAR_LOG(kWarning, "worker") << "MakeSnapshot sent to a serving worker; ignored";
        break;
    }
  }
}

void ServeSnapshotMaker(HostChannel& channel, Evaluator& evaluator) {
  std::optional<HostEvent> event = channel.NextEvent();
  if (!event.has_value()) return;
  WorkerMessage message;
  isobar::worker::v1::SnapshotMade& made = *message.mutable_snapshot_made();
  if (event->kind != HostEvent::Kind::kMakeSnapshot) {
    made.set_refused("a snapshot maker was sent something else than MakeSnapshot");
  } else {
    const isobar::worker::v1::MakeSnapshot& request = event->make_snapshot;
    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const VersionSnapshot>> blob =
        evaluator.MakeSnapshotBlob("", request.classic(), request.wasm());  // (the supervisor names it)
    made.set_took_us(static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start)));
    if (blob.ok()) {
      made.mutable_snapshot()->set_blob((*blob)->blob());
      for (const std::string& path : (*blob)->module_paths()) made.mutable_snapshot()->add_module_paths(path);
    } else {
      made.set_refused(std::string(blob.status().message()));
    }
  }
  absl::Status sent = channel.Send(message);
  if (!sent.ok()) {
    ISOBAR_LOG(kWarning, "snapshot maker") << "SnapshotMade not sent: " << sent;
    return;
  }
  // The answer may still be on its way out (the writer's sender thread): wait for the supervisor to
  // end the stream once it has read it.
  while (channel.NextEvent().has_value()) {
  }
}

}  // namespace isobar::worker
