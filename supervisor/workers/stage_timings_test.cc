#include "supervisor/workers/stage_timings.h"

#include <string>

#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using isobar::worker::v1::FunctionCall;
using isobar::worker::v1::Invoke;

TEST(StageTimingsTest, LabelsAreKindAndPolicy) {
  EXPECT_EQ(StageLabelName(StageLabel(FunctionCall::QUERY, Invoke::FRESH)), "query/fresh");
  EXPECT_EQ(StageLabelName(StageLabel(FunctionCall::MUTATION, Invoke::WARM)), "mutation/warm");
  EXPECT_EQ(StageLabelName(StageLabel(FunctionCall::HTTP_ACTION, Invoke::WARM)), "http_action/warm");
  EXPECT_EQ(StageLabelName(-1), "?");
}

TEST(StageTimingsTest, SummariesAreOverTheLastSamplesKept) {
  StageTimings timings;
  const int query = StageLabel(FunctionCall::QUERY, Invoke::FRESH);
  for (int i = 1; i <= 100; ++i) timings.Add(query, Stage::kWorker, absl::Microseconds(i));
  timings.Add(query, Stage::kQueue, absl::Microseconds(-5));  // a skewed clock's sample counts as 0
  std::vector<StageSummary> summaries = timings.Summaries();
  ASSERT_EQ(summaries.size(), 2u);  // stages in order: queue, then worker
  EXPECT_EQ(summaries[0].stage, "queue");
  EXPECT_EQ(summaries[0].p50, absl::ZeroDuration());
  EXPECT_EQ(summaries[1].label, "query/fresh");
  EXPECT_EQ(summaries[1].stage, "worker");
  EXPECT_EQ(summaries[1].count, 100u);
  EXPECT_EQ(summaries[1].p50, absl::Microseconds(51));
  EXPECT_EQ(summaries[1].p90, absl::Microseconds(91));
  EXPECT_EQ(summaries[1].mean, absl::Nanoseconds(50500));
  // Past 4096 samples the oldest go: 5000 more of 1 ms leave only those.
  for (int i = 0; i < 5000; ++i) timings.Add(query, Stage::kWorker, absl::Milliseconds(1));
  summaries = timings.Summaries();
  EXPECT_EQ(summaries[1].count, 5100u);
  EXPECT_EQ(summaries[1].p50, absl::Milliseconds(1));
  EXPECT_EQ(summaries[1].mean, absl::Milliseconds(1));
}

}  // namespace
}  // namespace isobar::supervisor
