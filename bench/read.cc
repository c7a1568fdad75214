// bench/read: point gets (db.get) and 100-row index range scans through transactions, against pgbench
// running the equivalent primary-key SELECT and 100-row range SELECT on the same PostgreSQL.
// Last line: {"bench":"read", ...}. Run: bazel run //bench:read
#include <cstdio>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness.h"
#include "bench/pgbench.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/index_key.h"
#include "storage/pg_testing.h"

namespace isobar::bench {
namespace {

constexpr int kDocuments = 10000;

int Main() {
  storage::testing::TestPostgres& postgres = storage::testing::SharedPostgres();
  const std::string socket_dir = postgres.conninfo().substr(5, postgres.conninfo().find(' ') - 5);
  {
    storage::PgPool::Lease conn = *postgres.pool().Acquire();
    if (!conn->Exec("CREATE TABLE pgbench_read (id integer PRIMARY KEY, v jsonb)").ok() ||
        !conn->Exec(absl::StrCat("INSERT INTO pgbench_read SELECT i, jsonb_build_object('n', i, 'body', 'hello') "
                                 "FROM generate_series(1, ", kDocuments, ") i"))
             .ok()) {
      return 1;
    }
  }
  storage::PgPool pool(postgres.conninfo(), 8);
  const storage::DeploymentId deployment = storage::testing::NewDeployment(pool);
  storage::Database db(pool, deployment);
  if (!db.Open().ok()) return 1;
  storage::TableNumber table = db.catalog().GetOrCreateTable(deployment, "items")->number;
  if (!db.catalog().CreateIndex(deployment, table, "by_n", {"n"}, true).ok()) return 1;
  db.schemas().Invalidate(table);
  std::vector<storage::DocumentId> ids;
  for (int batch = 0; batch < kDocuments / 1000; ++batch) {
    std::unique_ptr<storage::Transaction> txn = db.Begin();
    for (int i = 0; i < 1000; ++i) {
      storage::Value fields = storage::Value::MakeSortedObject(
          {{"body", storage::Value::String("hello")}, {"n", storage::Value::Float64(batch * 1000 + i)}});
      ids.push_back(*txn->Insert("items", fields));
    }
    if (!db.Commit(*txn).ok()) return 1;
  }
  std::shared_ptr<const storage::TableSchema> schema = *db.schemas().ByName("items", false);
  const storage::IndexInfo& by_n = *schema->Find("by_n");

  std::mt19937 rng(3);
  auto get_op = [&] {
    std::unique_ptr<storage::Transaction> txn = db.Begin();
    absl::StatusOr<std::optional<storage::Value>> doc = txn->Get(ids[rng() % ids.size()]);
    return doc.ok() && doc->has_value();
  };
  auto range_op = [&] {
    std::unique_ptr<storage::Transaction> txn = db.Begin();
    double start = static_cast<double>(rng() % (kDocuments - 100));
    storage::KeyRange range{storage::EncodeIndexKey({storage::Value::Float64(start)}), std::nullopt};
    absl::StatusOr<storage::ScanResult> r = txn->Scan(schema, by_n, range, storage::Order::kAsc, 100);
    return r.ok() && r->documents.size() == 100;
  };
  const absl::Duration window = absl::Seconds(4);
  Latency get = MeasureLatency(get_op, 200, 1000000, window);
  Latency range = MeasureLatency(range_op, 20, 1000000, window);
  const double get_ops = static_cast<double>(get.samples) / absl::ToDoubleSeconds(window);
  const double range_ops = static_cast<double>(range.samples) / absl::ToDoubleSeconds(window);
  absl::StatusOr<PgbenchResult> pg_get = RunPgbench(
      socket_dir, absl::StrCat("\\set id random(1, ", kDocuments, ")\nSELECT v FROM pgbench_read WHERE id = :id;"), 1, window);
  absl::StatusOr<PgbenchResult> pg_range = RunPgbench(
      socket_dir,
      absl::StrCat("\\set id random(1, ", kDocuments - 100, ")\nSELECT v FROM pgbench_read WHERE id >= :id ORDER BY id LIMIT 100;"),
      1, window);
  if (!pg_get.ok() || !pg_range.ok()) {
    std::fprintf(stderr, "%s\n", (pg_get.ok() ? pg_range.status() : pg_get.status()).ToString().c_str());
    return 1;
  }
  std::printf("point get:       %.0f/s (p50 %.0f us)   pgbench PK select %.0f/s (p50 %.0f us)\n", get_ops, get.p50_us,
              pg_get->tps, pg_get->p50_us);
  std::printf("100-row range:   %.0f/s (p50 %.0f us)   pgbench 100-row select %.0f/s (p50 %.0f us)\n", range_ops,
              range.p50_us, pg_range->tps, pg_range->p50_us);
  std::printf("{\"bench\": \"read\", \"get_per_s\": %s, \"get_p50_us\": %s, \"range100_per_s\": %s, \"range100_p50_us\": %s, "
              "\"floor\": {\"what\": \"pgbench 1 client, same PostgreSQL\", \"pk_select_per_s\": %s, \"range100_select_per_s\": %s}, "
              "\"ratio\": %s, \"range_ratio\": %s}\n",
              Num(get_ops).c_str(), Num(get.p50_us).c_str(), Num(range_ops).c_str(), Num(range.p50_us).c_str(),
              Num(pg_get->tps).c_str(), Num(pg_range->tps).c_str(), Num(get_ops / pg_get->tps).c_str(),
              Num(range_ops / pg_range->tps).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
