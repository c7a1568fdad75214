// The embedded PostgreSQL for real: initdb, start, connect, migrate, write, stop, and a second start on
// the same data directory that finds the data again.
#include "storage/embedded_postgres.h"

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "storage/echo_log.h"
#include "storage/migrations.h"
#include "storage/pg_conn.h"
#include "storage/pg_pool.h"

namespace isobar::storage {
namespace {

std::unique_ptr<EmbeddedPostgres> StartOrDie(const std::string& data_dir) {
  EmbeddedPostgresOptions options;
  options.data_dir = data_dir;
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
  EXPECT_TRUE(pg.ok()) << pg.status();
  return pg.ok() ? std::move(*pg) : nullptr;
}

int64_t CountEchoRows(PgConn& conn) {
  absl::StatusOr<PgResult> rows = conn.Exec("SELECT count(*) FROM isobar.echo_log");
  EXPECT_TRUE(rows.ok()) << rows.status();
  int64_t count = -1;
  if (rows.ok()) {
    EXPECT_TRUE(absl::SimpleAtoi(rows->Get(0, 0), &count));
  }
  return count;
}

TEST(EmbeddedPostgresTest, StartsAcceptsStopsAndRestartsOnSameData) {
  testing::TempDir dir;
  const std::string hostile = "'); DROP TABLE isobar.echo_log; --\n\"x\"";
  {
    std::unique_ptr<EmbeddedPostgres> pg = StartOrDie(dir.path());
    ASSERT_NE(pg, nullptr);
    EXPECT_TRUE(pg->created());
    absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(pg->conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status();
    absl::StatusOr<int> applied = ApplyMigrations(**conn);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(*applied, LatestSchemaVersion());
    absl::StatusOr<int64_t> id = AppendEcho(**conn, WorkerId(3), hostile);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_GT(*id, 0);
    conn->reset();
    EXPECT_TRUE(pg->Stop().ok());
    EXPECT_EQ(pg->pid(), -1);
  }
  {
    std::unique_ptr<EmbeddedPostgres> pg = StartOrDie(dir.path());
    ASSERT_NE(pg, nullptr);
    EXPECT_FALSE(pg->created());
    absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(pg->conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status();
    absl::StatusOr<int> applied = ApplyMigrations(**conn);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(*applied, 0);
    EXPECT_EQ(CountEchoRows(**conn), 1);
    // The hostile payload was stored as data, byte for byte.
    absl::StatusOr<PgResult> row = (*conn)->Exec("SELECT worker_id, payload FROM isobar.echo_log");
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(row->Get(0, 0), "3");
    EXPECT_EQ(row->Get(0, 1), hostile);
  }
}

TEST(EmbeddedPostgresTest, ErrorsMapToCanonicalCodes) {
  testing::TempDir dir;
  std::unique_ptr<EmbeddedPostgres> pg = StartOrDie(dir.path());
  ASSERT_NE(pg, nullptr);
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(pg->conninfo());
  ASSERT_TRUE(conn.ok()) << conn.status();
  PgConn& c = **conn;
  EXPECT_EQ(c.Exec("SELEKT 1").status().code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(c.Exec("CREATE TEMP TABLE t (k int PRIMARY KEY)").ok());
  ASSERT_TRUE(c.Exec("INSERT INTO t VALUES ($1)", {"1"}).ok());
  EXPECT_EQ(c.Exec("INSERT INTO t VALUES ($1)", {"1"}).status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.Exec("SET statement_timeout = 20").ok());
  EXPECT_EQ(c.Exec("SELECT pg_sleep(5)").status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(c.reusable());

  // The server going away makes the connection UNAVAILABLE and unusable; the pool reconnects.
  PgPool pool(pg->conninfo(), 2);
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    ASSERT_TRUE((*lease)->Exec("SELECT 1").ok());
  }
  ASSERT_TRUE(pg->Stop().ok());
  EXPECT_EQ(c.Exec("SELECT 1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c.healthy());
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();  // the idle connection is handed out, broken
    EXPECT_EQ((*lease)->Exec("SELECT 1").status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(pool.Acquire().status().code(), absl::StatusCode::kUnavailable);  // dropped; none to open
  pg = StartOrDie(dir.path());
  ASSERT_NE(pg, nullptr);
  absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_TRUE((*lease)->Exec("SELECT 1").ok());
}

TEST(EmbeddedPostgresTest, ConnectingToNothingIsUnavailable) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<PgConn>> conn =
      PgConn::Connect("host=" + dir.path() + " port=5432 user=isobar dbname=isobar connect_timeout=2");
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace isobar::storage
