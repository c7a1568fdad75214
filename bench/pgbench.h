// Runs PostgreSQL's own pgbench against a server, as the floor for storage benchmarks: the same
// machine, the same PostgreSQL, the same run.
#ifndef ISOBAR_BENCH_PGBENCH_H_
#define ISOBAR_BENCH_PGBENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace isobar::bench {

struct PgbenchResult {
  double tps = 0;
  double p50_us = 0;  // median transaction latency (from pgbench's per-transaction log)
};

// `script`: one SQL statement per transaction. `socket_dir`: the server's unix socket directory.
absl::StatusOr<PgbenchResult> RunPgbench(const std::string& socket_dir, const std::string& script, int clients,
                                         absl::Duration duration);

}  // namespace isobar::bench

#endif  // ISOBAR_BENCH_PGBENCH_H_
