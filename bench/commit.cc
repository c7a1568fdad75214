// bench/commit: durable one-insert transactions through the committer (OCC validation, group commit,
// publication), at 1 and 16 concurrent committers, against pgbench's one-row JSONB insert on the same
// embedded PostgreSQL in the same run (PERFORMANCE.md P4 and P5).
// Last line: {"bench":"commit", ...}. Run: bazel run //bench:commit
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/harness.h"
#include "bench/pgbench.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/pg_testing.h"

namespace isobar::bench {
namespace {

struct Run {
  double tps = 0;
  double p50_us = 0;
};

Run Commits(storage::Database& db, int threads, absl::Duration duration) {
  const storage::Value fields = *storage::ParseConvexJson(R"({"a":1,"body":"hello"})");
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        absl::Time begin = absl::Now();
        std::unique_ptr<storage::Transaction> txn = db.Begin();
        if (!txn->Insert("bench", fields).ok() || !db.Commit(*txn).ok()) {
          std::fprintf(stderr, "commit failed\n");
          std::exit(1);
        }
        latencies[static_cast<size_t>(t)].push_back(absl::ToDoubleMicroseconds(absl::Now() - begin));
      }
    });
  }
  std::this_thread::sleep_for(absl::ToChronoMicroseconds(duration));  // the measurement window
  stop = true;
  for (std::thread& t : pool) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return Run{static_cast<double>(all.size()) / seconds, Median(std::move(all))};
}

int Main() {
  storage::testing::TestPostgres& postgres = storage::testing::SharedPostgres();
  const std::string socket_dir = postgres.conninfo().substr(5, postgres.conninfo().find(' ') - 5);
  {
    storage::PgPool::Lease conn = *postgres.pool().Acquire();
    if (!conn->Exec("CREATE TABLE IF NOT EXISTS pgbench_floor (id bigserial PRIMARY KEY, v jsonb)").ok()) return 1;
  }
  const std::string insert = R"(INSERT INTO pgbench_floor (v) VALUES ('{"a":1,"body":"hello"}');)";
  storage::PgPool pool(postgres.conninfo(), 8);
  storage::Database db(pool, storage::testing::NewDeployment(pool));
  if (!db.Open().ok()) return 1;
  Commits(db, 1, absl::Seconds(1));  // warm-up: table creation, connections

  const absl::Duration window = absl::Seconds(5);
  absl::StatusOr<PgbenchResult> floor1 = RunPgbench(socket_dir, insert, 1, window);
  Run ours1 = Commits(db, 1, window);
  absl::StatusOr<PgbenchResult> floor16 = RunPgbench(socket_dir, insert, 16, window);
  Run ours16 = Commits(db, 16, window);
  if (!floor1.ok() || !floor16.ok()) {
    std::fprintf(stderr, "%s\n", (floor1.ok() ? floor16.status() : floor1.status()).ToString().c_str());
    return 1;
  }
  storage::Committer::Stats stats = db.committer().stats();
  std::printf("pgbench one-row insert: 1 client %.0f tps (p50 %.0f us); 16 clients %.0f tps\n", floor1->tps,
              floor1->p50_us, floor16->tps);
  std::printf("isobar commit:          1 client %.0f tps (p50 %.0f us); 16 clients %.0f tps; %.1f commits per group\n",
              ours1.tps, ours1.p50_us, ours16.tps,
              static_cast<double>(stats.commits) / static_cast<double>(std::max<uint64_t>(stats.groups, 1)));
  std::printf("{\"bench\": \"commit\", \"c1_tps\": %s, \"c1_p50_us\": %s, \"c16_tps\": %s, \"c16_p50_us\": %s, "
              "\"floor\": {\"what\": \"pgbench one-row JSONB insert, same PostgreSQL\", \"c1_tps\": %s, "
              "\"c1_p50_us\": %s, \"c16_tps\": %s}, \"ratio\": %s, \"c1_tps_ratio\": %s, \"p50_ratio\": %s}\n",
              Num(ours1.tps).c_str(), Num(ours1.p50_us).c_str(), Num(ours16.tps).c_str(), Num(ours16.p50_us).c_str(),
              Num(floor1->tps).c_str(), Num(floor1->p50_us).c_str(), Num(floor16->tps).c_str(),
              Num(ours16.tps / floor16->tps).c_str(), Num(ours1.tps / floor1->tps).c_str(),
              Num(ours1.p50_us / floor1->p50_us).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
