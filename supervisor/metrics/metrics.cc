#include "supervisor/metrics/metrics.h"

#include <sstream>
#include <utility>

#include "prometheus/text_serializer.h"

namespace isobar::supervisor {
namespace {

// From half a millisecond (a cached query's neighbourhood) to a minute (actions).
const prometheus::Histogram::BucketBoundaries& ExecutionBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

// From 100 µs (a commit without fsync) to a second (PostgreSQL in trouble).
const prometheus::Histogram::BucketBoundaries& CommitBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
  return *buckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      executions_(prometheus::BuildCounter()
                      .Name("isobar_function_executions_total")
                      .Help("Function executions that ended, by deployment, function, kind and outcome")
                      .Register(*registry_)),
      execution_seconds_(prometheus::BuildHistogram()
                             .Name("isobar_function_execution_seconds")
                             .Help("Time from a function's dispatch to its outcome (commit included), by deployment and kind")
                             .Register(*registry_)),
      commit_seconds_(prometheus::BuildHistogram()
                          .Name("isobar_commit_seconds")
                          .Help("Time a mutation's commit took (queue, validation, the PostgreSQL write), by deployment and outcome")
                          .Register(*registry_)),
      queue_wait_seconds_(prometheus::BuildHistogram()
                              .Name("isobar_queue_wait_seconds")
                              .Help("Time a client call waited for a slot (admission), by kind")
                              .Register(*registry_)),
      scheduler_lag_seconds_(prometheus::BuildHistogram()
                                 .Name("isobar_scheduler_lag_seconds")
                                 .Help("How late due scheduled jobs started, after their scheduledTime")
                                 .Register(*registry_)
                                 .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
                                                                                 5, 10, 60, 300})) {}

void Metrics::RecordExecution(absl::string_view deployment, absl::string_view function, absl::string_view kind,
                              absl::string_view outcome, absl::Duration took) {
  executions_
      .Add({{"deployment", std::string(deployment)},
            {"function", std::string(function)},
            {"kind", std::string(kind)},
            {"outcome", std::string(outcome)}})
      .Increment();
  execution_seconds_.Add({{"deployment", std::string(deployment)}, {"kind", std::string(kind)}}, ExecutionBuckets())
      .Observe(absl::ToDoubleSeconds(took));
}

void Metrics::RecordQueueWait(absl::string_view kind, absl::Duration waited) {
  queue_wait_seconds_.Add({{"kind", std::string(kind)}}, ExecutionBuckets()).Observe(absl::ToDoubleSeconds(waited));
}

void Metrics::RecordSchedulerLag(absl::Duration lag) { scheduler_lag_seconds_.Observe(absl::ToDoubleSeconds(lag)); }

void Metrics::RecordCommit(absl::string_view deployment, absl::string_view outcome, absl::Duration took) {
  commit_seconds_.Add({{"deployment", std::string(deployment)}, {"outcome", std::string(outcome)}}, CommitBuckets())
      .Observe(absl::ToDoubleSeconds(took));
}

void Metrics::SetScrapeSource(std::function<std::vector<prometheus::MetricFamily>()> source) {
  absl::MutexLock lock(&mu_);
  source_ = std::move(source);
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::function<std::vector<prometheus::MetricFamily>()> source;
  {
    absl::MutexLock lock(&mu_);
    source = source_;
  }
  if (source) {
    for (prometheus::MetricFamily& family : source()) families.push_back(std::move(family));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace isobar::supervisor
