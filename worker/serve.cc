#include "worker/serve.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/log.h"
#include "worker/module_loader.h"
#include "worker/module_sources.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::WorkerMessage;

// Sends the invocation's Done; true if it announced idle work (Done.preparing).
bool SendDone(HostChannel& channel, const Evaluator& evaluator, InvocationId id, InvocationResult result) {
  WorkerMessage message;
  auto* done = message.mutable_done();
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
  pool->set_code_cache_hits(evaluator.code_cache().hits());
  pool->set_code_cache_misses(evaluator.code_cache().misses());
  done->set_invocation_id(id.value());
  done->set_user_time_us(static_cast<uint64_t>(absl::ToInt64Microseconds(result.cpu_time)));
  done->set_observed_time(result.observed_time);
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
  absl::Status sent = channel.Send(message);
  if (!sent.ok()) ISOBAR_LOG(kWarning, "worker") << "Done not sent: " << sent;
  return done->preparing();
}

// The invocations waiting for host results, and which result goes where.
class Waiting {
 public:
  // Sends `calls` for `id`. False if the stream failed (the invocation then resumes with errors).
  void Send(HostChannel& channel, InvocationId id, const std::vector<HostRequest>& calls,
            std::vector<absl::StatusOr<std::string>>* immediate) {
    Batch& batch = batches_[id];
    batch.results.assign(calls.size(), absl::UnavailableError("no result"));
    batch.missing = 0;
    immediate->clear();
    for (size_t i = 0; i < calls.size(); ++i) {
      absl::StatusOr<uint64_t> call_id = channel.StartCall(id, calls[i].op, calls[i].args_json);
      if (!call_id.ok()) {
        batch.results[i] = call_id.status();
        continue;
      }
      slots_[*call_id] = {id, i};
      ++batch.missing;
    }
    if (batch.missing == 0) {
      *immediate = std::move(batch.results);
      batches_.erase(id);
    }
  }

  // Records a result; the batch's results once it is complete.
  std::optional<std::vector<absl::StatusOr<std::string>>> Arrived(uint64_t call_id, absl::StatusOr<std::string> result) {
    auto slot = slots_.find(call_id);
    if (slot == slots_.end()) return std::nullopt;
    auto [id, index] = slot->second;
    slots_.erase(slot);
    auto batch = batches_.find(id);
    if (batch == batches_.end()) return std::nullopt;  // cancelled meanwhile
    batch->second.results[index] = std::move(result);
    if (--batch->second.missing > 0) return std::nullopt;
    std::vector<absl::StatusOr<std::string>> results = std::move(batch->second.results);
    batches_.erase(batch);
    return results;
  }

  void Forget(InvocationId id) { batches_.erase(id); }

 private:
  struct Batch {
    std::vector<absl::StatusOr<std::string>> results;
    size_t missing = 0;
  };
  absl::flat_hash_map<InvocationId, Batch> batches_;
  absl::flat_hash_map<uint64_t, std::pair<InvocationId, size_t>> slots_;
};

}  // namespace

void Serve(HostChannel& channel, Evaluator& evaluator, size_t module_source_bytes) {
  Waiting waiting;
  ModuleSources sources(module_source_bytes);
  bool announced = false;  // a Done said the worker would prepare: Prepared follows the idle work
  // Sends the step's host calls, or its result; loops while calls fail at once.
  auto handle = [&](InvocationId id, Evaluator::Step step) {
    while (!step.done.has_value()) {
      std::vector<absl::StatusOr<std::string>> immediate;
      waiting.Send(channel, id, step.host_calls, &immediate);
      if (immediate.empty()) return;
      step = evaluator.Resume(id, std::move(immediate));
    }
    announced = SendDone(channel, evaluator, id, std::move(*step.done)) || announced;
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
        std::optional<std::vector<absl::StatusOr<std::string>>> results =
            waiting.Arrived(event->call_id, std::move(event->result));
        if (results.has_value()) handle(event->invocation, evaluator.Resume(event->invocation, std::move(*results)));
        break;
      }
      case HostEvent::Kind::kCancel:
        waiting.Forget(event->invocation);
        evaluator.Cancel(event->invocation);
        break;
    }
  }
}

}  // namespace isobar::worker
