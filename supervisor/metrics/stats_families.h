// The supervisor's state as Admin.Stats tells it (isobar.v1.StatsResponse), as Prometheus families,
// built at each scrape (metrics.h): nothing on the call path. Names:
//
//   isobar_workers{state}                          gauge    worker slots by state (starting, ready, restarting)
//   isobar_worker_starts_total{worker}             counter  processes started in the slot
//   isobar_worker_crashes_total{worker}            counter  ... that died unexpectedly
//   isobar_worker_security_events_total{worker}    counter  ... killed by the seccomp filter
//   isobar_worker_heartbeat_kills_total{worker}    counter  ... killed for not answering heartbeats
//   isobar_worker_invocations_total{worker}        counter  invocations completed
//   isobar_worker_in_flight{worker}                gauge    invocations running now
//   isobar_worker_isolates{worker}                 gauge    V8 isolates alive
//   isobar_worker_heap_bytes{worker}               gauge    V8 heap in use, as of the last call
//   isobar_worker_contexts_total{worker,made}      counter  fresh contexts, made "ahead" or "on_call"
//   isobar_snapshot_makers_total{outcome}          counter  version snapshots made, refused, failed, loaded (from disk)
//   isobar_snapshot_maker_security_events_total    counter
//   isobar_snapshot_cache_bytes                    gauge    blobs kept in memory
//   isobar_function_invocations_total              counter  function calls started (clients' and nested)
//   isobar_occ_conflicts_total                     counter  mutation commits refused for a write conflict
//   isobar_occ_retries_total                       counter  ... of which ran again
//   isobar_admission_refused_total                 counter  client calls refused: a queue was full
//   isobar_admission_expired_total                 counter  ... whose deadline passed while waiting
//   isobar_calls_running / isobar_calls_waiting    gauge    client calls running, waiting for a slot
//   isobar_scheduled_runs_total{outcome}           counter  scheduled jobs and crons: started, succeeded, failed,
//                                                           retried, superseded, recovered
//   isobar_cron_runs_total / isobar_cron_runs_skipped_total
//   isobar_deployments_open / _owned / _quarantined gauge
//   isobar_deployments_closed_total                counter  closed for being idle
//   isobar_postgres_up                             gauge    1 while PostgreSQL answers (the health service's view)
//   isobar_pg_pool_acquired_total / _waited_total / _timeouts_total / _open_failures_total   counter
//   isobar_pg_pool_connections{state}              gauge    the pool's connections, leased or not
//   isobar_query_cache_lookups_total{result}       counter  hit, miss, shared (joined a run under way)
//   isobar_query_cache_evictions_total             counter
//   isobar_query_cache_entries / _bytes            gauge
//   isobar_read_watches                            gauge    cached results and subscriptions watching for writes
#ifndef ISOBAR_SUPERVISOR_METRICS_STATS_FAMILIES_H_
#define ISOBAR_SUPERVISOR_METRICS_STATS_FAMILIES_H_

#include <vector>

#include "isobar/v1/api.pb.h"
#include "prometheus/metric_family.h"

namespace isobar::supervisor {

// What the supervisor knows beside Admin.Stats, read at the same scrape.
struct ServerFacts {
  bool postgres_up = false;
  uint64_t pg_acquired = 0, pg_waited = 0, pg_timeouts = 0, pg_open_failures = 0;
  int pg_size = 0, pg_leased = 0;
  uint64_t cache_hits = 0, cache_misses = 0, cache_shared = 0, cache_evictions = 0;
  uint64_t cache_entries = 0, cache_bytes = 0;
  uint64_t read_watches = 0;
  int64_t live_query_sets = 0;  // subscriptions: gRPC Subscribe streams and Convex WebSocket sessions
  // Several supervisors (--cluster): live members seen, calls forwarded to their deployment's owner
  // and forwards that did not reach it.
  bool cluster = false;
  uint64_t cluster_members = 0, forwarded = 0, forward_unreached = 0;
  // Actions' fetch (supervisor/egress): requests by what became of them, and in flight now.
  uint64_t fetches_rejected = 0, fetches_completed = 0, fetches_denied = 0, fetches_cancelled = 0, fetches_failed = 0;
  int fetches_in_flight = 0;
};

std::vector<prometheus::MetricFamily> StatsFamilies(const isobar::v1::StatsResponse& stats, const ServerFacts& facts);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_METRICS_STATS_FAMILIES_H_
