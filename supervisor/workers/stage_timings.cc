#include "supervisor/workers/stage_timings.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace isobar::supervisor {

using isobar::worker::v1::FunctionCall;
using isobar::worker::v1::Invoke;

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kQueue:
      return "queue";
    case Stage::kToWorker:
      return "to_worker";
    case Stage::kWorker:
      return "worker";
    case Stage::kHostWait:
      return "host_wait";
    case Stage::kHostServe:
      return "host_serve";
    case Stage::kToSupervisor:
      return "to_supervisor";
    case Stage::kFinish:
      return "finish";
    case Stage::kTotal:
      return "total";
  }
  return "?";
}

int StageLabel(FunctionCall::Kind kind, Invoke::ContextPolicy policy) {
  int k = 0;
  switch (kind) {
    case FunctionCall::MUTATION:
      k = 1;
      break;
    case FunctionCall::ACTION:
      k = 2;
      break;
    case FunctionCall::HTTP_ACTION:
      k = 3;
      break;
    default:
      break;
  }
  return k * 2 + (policy == Invoke::WARM ? 1 : 0);
}

std::string StageLabelName(int label) {
  static constexpr const char* kKinds[] = {"query", "mutation", "action", "http_action"};
  if (label < 0 || label >= kStageLabelCount) return "?";
  return absl::StrCat(kKinds[label / 2], label % 2 == 1 ? "/warm" : "/fresh");
}

void StageTimings::Add(int label, Stage stage, absl::Duration duration) {
  if (label < 0 || label >= kStageLabelCount) return;
  const int64_t nanos = std::max<int64_t>(0, absl::ToInt64Nanoseconds(duration));
  absl::MutexLock lock(&mu_);
  Samples& samples = samples_[static_cast<size_t>(label)][static_cast<size_t>(stage)];
  if (samples.ring.size() < kKept) {
    samples.ring.push_back(nanos);
  } else {
    samples.ring[samples.added % kKept] = nanos;
  }
  ++samples.added;
}

std::vector<StageSummary> StageTimings::Summaries() const {
  std::vector<StageSummary> out;
  absl::MutexLock lock(&mu_);
  for (int label = 0; label < kStageLabelCount; ++label) {
    for (int stage = 0; stage < kStageCount; ++stage) {
      const Samples& samples = samples_[static_cast<size_t>(label)][static_cast<size_t>(stage)];
      if (samples.ring.empty()) continue;
      std::vector<int64_t> sorted = samples.ring;
      std::sort(sorted.begin(), sorted.end());
      int64_t sum = 0;
      for (int64_t n : sorted) sum += n;
      StageSummary summary;
      summary.label = StageLabelName(label);
      summary.stage = StageName(static_cast<Stage>(stage));
      summary.count = samples.added;
      summary.p50 = absl::Nanoseconds(sorted[sorted.size() / 2]);
      summary.p90 = absl::Nanoseconds(sorted[sorted.size() * 9 / 10]);
      summary.mean = absl::Nanoseconds(sum / static_cast<int64_t>(sorted.size()));
      out.push_back(std::move(summary));
    }
  }
  return out;
}

}  // namespace isobar::supervisor
