#include "supervisor/metrics/stats_families.h"

#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace isobar::supervisor {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Builds one family at a time: Add(value, labels...) adds a series.
class FamilyBuilder {
 public:
  FamilyBuilder(std::vector<MetricFamily>& out, std::string name, std::string help, MetricType type)
      : out_(out), family_{std::move(name), std::move(help), type, {}} {}
  ~FamilyBuilder() { out_.push_back(std::move(family_)); }

  FamilyBuilder& Add(double value, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (family_.type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family_.metric.push_back(std::move(metric));
    return *this;
  }

 private:
  std::vector<MetricFamily>& out_;
  MetricFamily family_;
};

void WorkerFamilies(const isobar::v1::StatsResponse& stats, std::vector<MetricFamily>& out) {
  std::map<std::string, int> states = {{"starting", 0}, {"ready", 0}, {"restarting", 0}};
  for (const auto& worker : stats.workers()) ++states[worker.state()];
  {
    FamilyBuilder family(out, "isobar_workers", "Worker slots by state", MetricType::Gauge);
    for (const auto& [state, count] : states) family.Add(count, {{"state", state}});
  }
  struct PerWorker {
    const char* name;
    const char* help;
    MetricType type;
    uint64_t (isobar::v1::WorkerStats::*get)() const;
  };
  const PerWorker per_worker[] = {
      {"isobar_worker_starts_total", "Worker processes started in the slot", MetricType::Counter,
       &isobar::v1::WorkerStats::starts},
      {"isobar_worker_crashes_total", "Worker processes of the slot that died unexpectedly", MetricType::Counter,
       &isobar::v1::WorkerStats::crashes},
      {"isobar_worker_security_events_total", "Worker processes of the slot killed by the seccomp filter",
       MetricType::Counter, &isobar::v1::WorkerStats::security_events},
      {"isobar_worker_heartbeat_kills_total", "Worker processes of the slot killed for not answering heartbeats",
       MetricType::Counter, &isobar::v1::WorkerStats::heartbeat_kills},
      {"isobar_worker_invocations_total", "Invocations the slot's workers completed", MetricType::Counter,
       &isobar::v1::WorkerStats::invocations},
      {"isobar_worker_isolates", "V8 isolates alive in the worker", MetricType::Gauge,
       &isobar::v1::WorkerStats::isolates},
      {"isobar_worker_heap_bytes", "V8 heap in use in the worker, as of its last call", MetricType::Gauge,
       &isobar::v1::WorkerStats::heap_in_use_bytes},
  };
  for (const PerWorker& metric : per_worker) {
    FamilyBuilder family(out, metric.name, metric.help, metric.type);
    for (const auto& worker : stats.workers()) {
      family.Add(static_cast<double>((worker.*metric.get)()), {{"worker", absl::StrCat(worker.worker_id())}});
    }
  }
  {
    FamilyBuilder family(out, "isobar_worker_in_flight", "Invocations the worker runs now", MetricType::Gauge);
    for (const auto& worker : stats.workers()) family.Add(worker.in_flight(), {{"worker", absl::StrCat(worker.worker_id())}});
  }
  FamilyBuilder contexts(out, "isobar_worker_contexts_total",
                         "Fresh contexts of live isolates, made ahead while idle or on the call", MetricType::Counter);
  for (const auto& worker : stats.workers()) {
    const std::string id = absl::StrCat(worker.worker_id());
    contexts.Add(static_cast<double>(worker.contexts_prepared()), {{"made", "ahead"}, {"worker", id}});
    contexts.Add(static_cast<double>(worker.contexts_on_call()), {{"made", "on_call"}, {"worker", id}});
  }
}

}  // namespace

std::vector<MetricFamily> StatsFamilies(const isobar::v1::StatsResponse& stats, const ServerFacts& facts) {
  std::vector<MetricFamily> out;
  WorkerFamilies(stats, out);
  const auto& makers = stats.snapshot_makers();
  FamilyBuilder(out, "isobar_snapshot_makers_total", "Version snapshots by outcome (loaded: read back from disk)",
                MetricType::Counter)
      .Add(static_cast<double>(makers.made()), {{"outcome", "made"}})
      .Add(static_cast<double>(makers.refused()), {{"outcome", "refused"}})
      .Add(static_cast<double>(makers.failed()), {{"outcome", "failed"}})
      .Add(static_cast<double>(makers.loaded()), {{"outcome", "loaded"}});
  FamilyBuilder(out, "isobar_snapshot_maker_security_events_total",
                "Snapshot makers that died by SIGSYS, SIGSEGV, SIGBUS or SIGILL", MetricType::Counter)
      .Add(static_cast<double>(makers.security_events()));
  FamilyBuilder(out, "isobar_snapshot_cache_bytes", "Version snapshots kept in memory", MetricType::Gauge)
      .Add(static_cast<double>(makers.bytes()));

  const auto& functions = stats.functions();
  FamilyBuilder(out, "isobar_function_invocations_total", "Function calls started (clients' and nested)",
                MetricType::Counter)
      .Add(static_cast<double>(functions.invocations()));
  FamilyBuilder(out, "isobar_occ_conflicts_total", "Mutation commits refused for a write conflict", MetricType::Counter)
      .Add(static_cast<double>(functions.occ_conflicts()));
  FamilyBuilder(out, "isobar_occ_retries_total", "Mutations run again after a conflict", MetricType::Counter)
      .Add(static_cast<double>(functions.occ_retries()));
  FamilyBuilder(out, "isobar_admission_refused_total", "Client calls refused at once: a queue was full",
                MetricType::Counter)
      .Add(static_cast<double>(functions.admission_refused()));
  FamilyBuilder(out, "isobar_admission_expired_total", "Client calls whose deadline passed while they waited",
                MetricType::Counter)
      .Add(static_cast<double>(functions.admission_expired()));
  FamilyBuilder(out, "isobar_calls_running", "Client calls running now", MetricType::Gauge).Add(functions.running());
  FamilyBuilder(out, "isobar_calls_waiting", "Client calls waiting for a slot", MetricType::Gauge)
      .Add(functions.waiting());

  const auto& scheduler = functions.scheduler();
  FamilyBuilder(out, "isobar_scheduled_runs_total", "Scheduled jobs and cron runs by what became of them",
                MetricType::Counter)
      .Add(static_cast<double>(scheduler.started()), {{"outcome", "started"}})
      .Add(static_cast<double>(scheduler.succeeded()), {{"outcome", "succeeded"}})
      .Add(static_cast<double>(scheduler.failed()), {{"outcome", "failed"}})
      .Add(static_cast<double>(scheduler.retried()), {{"outcome", "retried"}})
      .Add(static_cast<double>(scheduler.superseded()), {{"outcome", "superseded"}})
      .Add(static_cast<double>(scheduler.recovered()), {{"outcome", "recovered"}});
  FamilyBuilder(out, "isobar_cron_runs_total", "Cron runs begun", MetricType::Counter)
      .Add(static_cast<double>(scheduler.cron_runs()));
  FamilyBuilder(out, "isobar_cron_runs_skipped_total", "Cron runs missed while no supervisor ran", MetricType::Counter)
      .Add(static_cast<double>(scheduler.cron_runs_skipped()));

  FamilyBuilder(out, "isobar_deployments_open", "Deployments whose state is loaded now", MetricType::Gauge)
      .Add(stats.open_deployments());
  FamilyBuilder(out, "isobar_deployments_owned", "Deployments whose writer lease this supervisor holds",
                MetricType::Gauge)
      .Add(stats.owned_deployments_size());
  FamilyBuilder(out, "isobar_deployments_quarantined", "Deployments refused for now: their calls kept killing workers",
                MetricType::Gauge)
      .Add(stats.quarantined_deployments_size());
  FamilyBuilder(out, "isobar_deployments_closed_total", "Deployments closed for being idle", MetricType::Counter)
      .Add(static_cast<double>(stats.deployments_closed()));
  FamilyBuilder(out, "isobar_postgres_up", "1 while PostgreSQL answers", MetricType::Gauge)
      .Add(facts.postgres_up ? 1 : 0);
  auto counter = [&out](const char* name, const char* help, uint64_t value) {
    FamilyBuilder(out, name, help, MetricType::Counter).Add(static_cast<double>(value));
  };
  counter("isobar_pg_pool_acquired_total", "PostgreSQL connections leased from the pool", facts.pg_acquired);
  counter("isobar_pg_pool_waited_total", "... of which waited for a busy pool", facts.pg_waited);
  counter("isobar_pg_pool_timeouts_total", "Leases given up after the pool stayed busy (calls failed retryably)",
          facts.pg_timeouts);
  counter("isobar_pg_pool_open_failures_total", "PostgreSQL connections that could not be opened", facts.pg_open_failures);
  FamilyBuilder(out, "isobar_pg_pool_connections", "The pool's connections: leased now, or not", MetricType::Gauge)
      .Add(facts.pg_leased, {{"state", "leased"}})
      .Add(facts.pg_size - facts.pg_leased, {{"state", "free"}});
  FamilyBuilder(out, "isobar_query_cache_lookups_total",
                "Client queries looked up in the cache: hit, miss (it ran), shared (joined a run under way)",
                MetricType::Counter)
      .Add(static_cast<double>(facts.cache_hits), {{"result", "hit"}})
      .Add(static_cast<double>(facts.cache_misses), {{"result", "miss"}})
      .Add(static_cast<double>(facts.cache_shared), {{"result", "shared"}});
  counter("isobar_query_cache_evictions_total", "Cached query results dropped for the cache's bound", facts.cache_evictions);
  FamilyBuilder(out, "isobar_query_cache_entries", "Query results cached now", MetricType::Gauge)
      .Add(static_cast<double>(facts.cache_entries));
  FamilyBuilder(out, "isobar_query_cache_bytes", "Bytes of the query results cached now", MetricType::Gauge)
      .Add(static_cast<double>(facts.cache_bytes));
  FamilyBuilder(out, "isobar_read_watches", "Cached results and subscribed queries watching for writes",
                MetricType::Gauge)
      .Add(static_cast<double>(facts.read_watches));
  FamilyBuilder(out, "isobar_subscriptions", "Live query sets open now (gRPC Subscribe streams, Convex WebSocket sessions)",
                MetricType::Gauge)
      .Add(static_cast<double>(facts.live_query_sets));
  FamilyBuilder(out, "isobar_fetches_total",
                "Actions' fetches by outcome: rejected before starting (a bad URL or header, a limit), completed, "
                "denied by the egress policy, cancelled, failed (network, peer, timeout)",
                MetricType::Counter)
      .Add(static_cast<double>(facts.fetches_rejected), {{"outcome", "rejected"}})
      .Add(static_cast<double>(facts.fetches_completed), {{"outcome", "completed"}})
      .Add(static_cast<double>(facts.fetches_denied), {{"outcome", "denied"}})
      .Add(static_cast<double>(facts.fetches_cancelled), {{"outcome", "cancelled"}})
      .Add(static_cast<double>(facts.fetches_failed), {{"outcome", "failed"}});
  FamilyBuilder(out, "isobar_fetches_in_flight", "Actions' fetches holding a slot now", MetricType::Gauge)
      .Add(static_cast<double>(facts.fetches_in_flight));
  if (facts.cluster) {
    FamilyBuilder(out, "isobar_cluster_members", "Live supervisors of this database's cluster, this one included",
                  MetricType::Gauge)
        .Add(static_cast<double>(facts.cluster_members));
    counter("isobar_forwarded_calls_total", "Calls and streams sent on to the member serving their deployment",
            facts.forwarded);
    counter("isobar_forward_unreached_total", "... of which did not reach it (it died or was unreachable)",
            facts.forward_unreached);
  }
  return out;
}

}  // namespace isobar::supervisor
