// PgPool against a real PostgreSQL: a stalled database gives bounded waits, never a stuck thread.
#include "storage/pg_pool.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using testing::SharedPostgres;

TEST(PgConnTest, ASessionEndedByTheServerIsALostConnectionEvenAfterItsCommit) {
  absl::StatusOr<std::unique_ptr<PgConn>> admin = PgConn::Connect(SharedPostgres().conninfo());
  ASSERT_TRUE(admin.ok()) << admin.status();
  absl::StatusOr<std::unique_ptr<PgConn>> writer = PgConn::Connect(SharedPostgres().conninfo());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*admin)->Exec("CREATE TABLE pg_conn_test_cut (v int)").ok());
  // An error PostgreSQL reports about the statement is not a lost connection.
  absl::StatusOr<PgResult> bad = (*writer)->Exec("SELECT 1 / 0");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal) << bad.status();
  EXPECT_FALSE(IsConnectionLost(bad.status()));

  absl::StatusOr<std::unique_ptr<testing::StalledCommits>> stalled = testing::StalledCommits::Start(**admin);
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  ASSERT_TRUE((*stalled)->AwaitTakenBy(**writer, absl::Seconds(30)).ok());
  absl::Status cut;
  std::thread insert([&] { cut = (*writer)->Exec("INSERT INTO pg_conn_test_cut VALUES (1)").status(); });
  absl::StatusOr<int> pid = (*stalled)->AwaitStalledCommit(absl::Seconds(30));
  if (pid.ok()) {
    EXPECT_TRUE((*admin)->Exec(absl::StrCat("SELECT pg_terminate_backend(", *pid, ")")).ok());
  }
  EXPECT_TRUE((*stalled)->Release().ok());  // (lets the insert through if it was not cut)
  insert.join();
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(cut.code(), absl::StatusCode::kUnavailable) << cut;
  EXPECT_TRUE(IsConnectionLost(cut)) << cut;
  // And yet it committed: the caller must look.
  absl::StatusOr<PgResult> rows = (*admin)->Exec("SELECT count(*) FROM pg_conn_test_cut");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->GetInt(0, 0), 1);
}

TEST(PgConnTest, PreparedStatementsArePreparedOnceAndSurviveADiscard) {
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(SharedPostgres().conninfo());
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto prepared = [&] {
    absl::StatusOr<PgResult> n = (*conn)->Exec("SELECT count(*) FROM pg_prepared_statements");
    return n.ok() ? n->GetInt(0, 0) : -1;
  };
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<PgResult> sum = (*conn)->ExecPrepared("SELECT $1::int + $2::int", {absl::StrCat(i), "40"});
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(sum->GetInt(0, 0), 40 + i);
  }
  EXPECT_EQ(prepared(), 1);
  // A reset drops it: it is prepared again, and the statement runs once.
  ASSERT_TRUE((*conn)->Exec("DISCARD ALL").ok());
  ASSERT_TRUE((*conn)->Exec("CREATE TEMP TABLE prepared_runs (v int)").ok());
  ASSERT_TRUE((*conn)->ExecPrepared("INSERT INTO prepared_runs VALUES ($1::int)", {"1"}).ok());
  ASSERT_TRUE((*conn)->Exec("DISCARD ALL").ok());  // (drops the temporary table too)
  ASSERT_TRUE((*conn)->Exec("CREATE TEMP TABLE prepared_runs (v int)").ok());
  absl::StatusOr<PgResult> again = (*conn)->ExecPrepared("INSERT INTO prepared_runs VALUES ($1::int)", {"2"});
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<PgResult> runs = (*conn)->Exec("SELECT count(*), max(v) FROM prepared_runs");
  ASSERT_TRUE(runs.ok()) << runs.status();
  EXPECT_EQ(runs->GetInt(0, 0), 1);
  EXPECT_EQ(runs->GetInt(0, 1), 2);
  // Errors are the statement's, as with Exec.
  absl::StatusOr<PgResult> bad = (*conn)->ExecPrepared("SELECT 1 / $1::int", {"0"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal) << bad.status();
  absl::StatusOr<PgResult> wrong = (*conn)->ExecPrepared("SELEC 1");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal) << wrong.status();
  EXPECT_TRUE((*conn)->healthy());
}

TEST(PgPoolTest, LeasedConnectionsComeBackAndAreReused) {
  PgPool pool(SharedPostgres().conninfo(), 1);
  std::string backend;
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    absl::StatusOr<PgResult> pid = (*lease)->Exec("SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.ok()) << pid.status();
    backend = std::string(pid->Get(0, 0));
  }
  absl::StatusOr<PgPool::Lease> again = pool.Acquire();
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<PgResult> pid = (*again)->Exec("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(pid->Get(0, 0), backend);
}

TEST(PgPoolTest, AStatementBlockedBeyondTheTimeoutIsCancelled) {
  PgPool pool(SharedPostgres().conninfo(), 2, PgPoolOptions{.statement_timeout = absl::Milliseconds(300)});
  // Another session holds a lock the statement needs: PostgreSQL cancels it, nothing of it applies.
  absl::StatusOr<std::unique_ptr<PgConn>> holder = PgConn::Connect(SharedPostgres().conninfo());
  ASSERT_TRUE(holder.ok()) << holder.status();
  ASSERT_TRUE((*holder)->Exec("CREATE TABLE IF NOT EXISTS pool_test_stall (v int)").ok());
  ASSERT_TRUE((*holder)->Exec("BEGIN").ok());
  ASSERT_TRUE((*holder)->Exec("LOCK TABLE pool_test_stall IN ACCESS EXCLUSIVE MODE").ok());
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    absl::StatusOr<PgResult> blocked = (*lease)->Exec("INSERT INTO pool_test_stall VALUES (1)");
    EXPECT_EQ(blocked.status().code(), absl::StatusCode::kDeadlineExceeded) << blocked.status();
  }
  ASSERT_TRUE((*holder)->Exec("COMMIT").ok());
  absl::StatusOr<PgResult> rows = (*holder)->Exec("SELECT count(*) FROM pool_test_stall");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->GetInt(0, 0), 0);
  // The connection is healthy afterwards, with the timeout still in force.
  absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<PgResult> timeout = (*lease)->Exec("SHOW statement_timeout");
  ASSERT_TRUE(timeout.ok()) << timeout.status();
  EXPECT_EQ(timeout->Get(0, 0), "300ms");
}

TEST(PgPoolTest, AcquireGivesUpWhenEveryConnectionStaysLeased) {
  PgPool pool(SharedPostgres().conninfo(), 1, PgPoolOptions{.acquire_timeout = absl::Milliseconds(100)});
  absl::StatusOr<PgPool::Lease> held = pool.Acquire();
  ASSERT_TRUE(held.ok()) << held.status();
  absl::StatusOr<PgPool::Lease> refused = pool.Acquire();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_EQ(refused.status().message(), "PostgreSQL is too slow: all 1 pooled connections stayed busy for 100ms");
  // What /metrics reports of it.
  const PgPool::Stats stats = pool.stats();
  EXPECT_EQ(stats.acquired, 1u);
  EXPECT_EQ(stats.waited, 1u);
  EXPECT_EQ(stats.timed_out, 1u);
  EXPECT_EQ(stats.size, 1);
  EXPECT_EQ(stats.leased, 1);
}

TEST(PgPoolTest, ConnectionsThatCannotOpenAreCounted) {
  PgPool pool("host=/nonexistent-socket-dir dbname=none connect_timeout=1", 2);
  EXPECT_FALSE(pool.Acquire().ok());
  const PgPool::Stats stats = pool.stats();
  EXPECT_EQ(stats.open_failures, 1u);
  EXPECT_EQ(stats.acquired, 1u);
  EXPECT_EQ(stats.leased, 0);  // given back
}

}  // namespace
}  // namespace isobar::storage
