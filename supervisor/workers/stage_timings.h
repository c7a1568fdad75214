// Per-stage timings of function calls, for finding where a call's time goes (issue 20): switchable
// (the supervisor's --trace-stages; off, nothing is recorded and nothing is paid but a null check).
//
//   StageTimings timings;                       // owned by main, outlives the pool and the runner
//   timings.Add(StageLabel(kind, policy), Stage::kQueue, sent - dispatched);
//   for (const StageSummary& s : timings.Summaries()) ... s.label, s.stage, s.p50 ...
//
// Stages (the worker's times come in its Done, on CLOCK_MONOTONIC, which every process shares):
//   queue         the runner's Dispatch -> the Invoke written to a worker (the pool's queue)
//   to_worker     Invoke written -> the worker's JS thread starts it
//   worker        the worker started it -> it sent its Done (all of it, host waits included)
//   host_wait     ... of which its JS thread waited for host results
//   host_serve    one host call: received from the worker -> its result written back
//   to_supervisor the worker sent its Done -> the supervisor read it
//   finish        Done read -> the caller answered (a mutation's commit, a query's read set)
//   total         the runner's Dispatch -> the caller answered
// Each (label, stage) keeps its last 4096 samples; summaries are over those.
#ifndef ISOBAR_SUPERVISOR_WORKERS_STAGE_TIMINGS_H_
#define ISOBAR_SUPERVISOR_WORKERS_STAGE_TIMINGS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::supervisor {

enum class Stage { kQueue, kToWorker, kWorker, kHostWait, kHostServe, kToSupervisor, kFinish, kTotal };
inline constexpr int kStageCount = 8;
const char* StageName(Stage stage);

// Which calls a sample belongs to: the function's kind and its context policy ("query/fresh").
inline constexpr int kStageLabelCount = 8;  // 4 kinds x 2 policies
int StageLabel(isobar::worker::v1::FunctionCall::Kind kind, isobar::worker::v1::Invoke::ContextPolicy policy);
std::string StageLabelName(int label);

struct StageSummary {
  std::string label;
  std::string stage;
  uint64_t count = 0;  // samples ever added
  absl::Duration p50;
  absl::Duration p90;
  absl::Duration mean;  // of the samples kept
};

class StageTimings {
 public:
  StageTimings() = default;
  StageTimings(const StageTimings&) = delete;
  StageTimings& operator=(const StageTimings&) = delete;

  void Add(int label, Stage stage, absl::Duration duration) ABSL_LOCKS_EXCLUDED(mu_);
  // For every (label, stage) with samples.
  std::vector<StageSummary> Summaries() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr size_t kKept = 4096;
  struct Samples {
    uint64_t added = 0;
    std::vector<int64_t> ring;  // nanoseconds; grows to kKept, then wraps
  };
  mutable absl::Mutex mu_;
  std::array<std::array<Samples, kStageCount>, kStageLabelCount> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_STAGE_TIMINGS_H_
