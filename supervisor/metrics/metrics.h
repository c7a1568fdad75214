// The supervisor's Prometheus metrics (issue 21, item 2), kept in prometheus-cpp's registry and
// written in Prometheus's text format (0.0.4) at each scrape of /metrics.
//
//   Metrics metrics;
//   runner_options.metrics = &metrics;                   // calls and commits, as they finish
//   metrics.SetScrapeSource([&] { return StatsFamilies(admin.Snapshot()); });  // read at each scrape
//   std::string text = metrics.Scrape();
//
// Two kinds of series:
//   - recorded on the call path (RecordExecution, RecordCommit): per deployment and function, an atomic
//     increment or a histogram observation each; label values come only from deployed functions'
//     names (never from a request's unresolved path), so their number is bounded by what was pushed;
//   - read at each scrape from what Admin.Stats tells (stats_families.h): workers, snapshot makers,
//     OCC, admission, the scheduler, deployments, PostgreSQL. Nothing on the call path.
// Thread-safe.
#ifndef ISOBAR_SUPERVISOR_METRICS_METRICS_H_
#define ISOBAR_SUPERVISOR_METRICS_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace isobar::supervisor {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A function execution ended (a client's call, a scheduled job, an HTTP action, a nested call; a
  // mutation run again after a conflict counts once): isobar_function_executions_total and
  // isobar_function_execution_seconds. `kind`: query, mutation, action or http_action. `outcome`: ok,
  // or the error's kind (user_error, convex_error, limit, unavailable, ...).
  void RecordExecution(absl::string_view deployment, absl::string_view function, absl::string_view kind,
                       absl::string_view outcome, absl::Duration took);
  // The commit of a mutation that wrote returned (`outcome`: committed, conflict, or failed):
  // isobar_commit_seconds{deployment, outcome}.
  void RecordCommit(absl::string_view deployment, absl::string_view outcome, absl::Duration took);

  // A client call waited `waited` for its slot (zero: none): isobar_queue_wait_seconds{kind}.
  void RecordQueueWait(absl::string_view kind, absl::Duration waited);
  // A due scheduled job started `lag` after its scheduledTime: isobar_scheduler_lag_seconds.
  void RecordSchedulerLag(absl::Duration lag);

  // Families read at each scrape, after the recorded ones. Set once, before scrapes.
  void SetScrapeSource(std::function<std::vector<prometheus::MetricFamily>()> source) ABSL_LOCKS_EXCLUDED(mu_);

  // Every series, in Prometheus's text format.
  std::string Scrape() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& executions_;
  prometheus::Family<prometheus::Histogram>& execution_seconds_;
  prometheus::Family<prometheus::Histogram>& commit_seconds_;
  prometheus::Family<prometheus::Histogram>& queue_wait_seconds_;
  prometheus::Histogram& scheduler_lag_seconds_;
  mutable absl::Mutex mu_;
  std::function<std::vector<prometheus::MetricFamily>()> source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_METRICS_METRICS_H_
