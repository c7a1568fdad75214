// Crashes in the middle of group commits, on a real PostgreSQL:
//   - the committing process is SIGKILLed;
//   - PostgreSQL connections are cut (pg_terminate_backend), which can land during COMMIT.
// Every transaction inserts a pair of documents tagged with its number. Afterwards every tag has 0 or
// 2 documents (no partial commit), every acknowledged tag has 2, and (for connection cuts, where the
// process survives to answer) every tag refused with an error has 0.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/embedded_postgres.h"
#include "storage/migrations.h"
#include "storage/pg_testing.h"
#include "base/testing/temp_dir.h"

namespace isobar::storage {
namespace {

// Commits one pair tagged `tag`; the commit's outcome.
absl::Status CommitPair(Database& db, int64_t tag, absl::Time deadline = absl::InfiniteFuture()) {
  std::unique_ptr<Transaction> txn = db.Begin();
  Value fields = Value::MakeSortedObject({{"tag", Value::Int64(tag)}});
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<DocumentId> id = txn->Insert("pairs", fields);
    if (!id.ok()) return absl::CancelledError(absl::StrCat("before commit: ", id.status().message()));
  }
  return db.Commit(*txn, deadline).status();
}

// tag -> number of documents carrying it.
std::map<int64_t, int> CountTags(PgPool& pool, DeploymentId deployment) {
  std::map<int64_t, int> counts;
  PgPool::Lease conn = *pool.Acquire();
  // Current revisions only (documents are never updated here, so every row is one).
  absl::StatusOr<PgResult> rows = conn->Exec(
      "SELECT value FROM isobar.documents WHERE deployment_id = $1 AND NOT deleted", {absl::StrCat(deployment.value())});
  EXPECT_TRUE(rows.ok()) << rows.status();
  for (int r = 0; rows.ok() && r < rows->rows(); ++r) {
    ++counts[ParseConvexJson(rows->Get(r, 0))->Get("tag").int64()];
  }
  return counts;
}

TEST(CommitterCrashTest, SigkillDuringGroupCommitsLosesNothingAcknowledged) {
  testing::TestPostgres& postgres = testing::SharedPostgres();
  const DeploymentId deployment = testing::NewDeployment(postgres.pool());
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  const std::string conninfo = postgres.conninfo();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The committing process: fresh connections of its own, 4 threads committing as fast as they can,
    // reporting each acknowledged tag.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(acks[0]);
    PgPool pool(conninfo, 6);
    Database db(pool, deployment);
    if (!db.Open().ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int64_t i = 0;; ++i) {
          int64_t tag = i * 4 + t;
          if (CommitPair(db, tag).ok() && write(acks[1], &tag, sizeof(tag)) != sizeof(tag)) _exit(3);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    _exit(0);
  }
  close(acks[1]);
  std::set<int64_t> acknowledged;
  int64_t tag;
  while (acknowledged.size() < 200 && read(acks[0], &tag, sizeof(tag)) == sizeof(tag)) acknowledged.insert(tag);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  // Acknowledgements already in the pipe count too: they were sent after their commits.
  while (read(acks[0], &tag, sizeof(tag)) == sizeof(tag)) acknowledged.insert(tag);
  close(acks[0]);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  std::map<int64_t, int> counts = CountTags(postgres.pool(), deployment);
  for (const auto& [t, n] : counts) EXPECT_EQ(n, 2) << "tag " << t << " is partial";
  for (int64_t t : acknowledged) EXPECT_EQ(counts[t], 2) << "acknowledged tag " << t << " is missing";
  EXPECT_GE(acknowledged.size(), 200u);
  // The next writer fences the dead one and carries on after its newest commit.
  Database next(postgres.pool(), deployment);
  ASSERT_TRUE(next.Open().ok());
  EXPECT_TRUE(CommitPair(next, -1).ok());
}

TEST(CommitterCrashTest, CutConnectionsNeverLeaveAnAnswerThatIsWrong) {
  testing::TestPostgres& postgres = testing::SharedPostgres();
  const DeploymentId deployment = testing::NewDeployment(postgres.pool());
  PgPool pool(postgres.conninfo(), 6);
  Database db(pool, deployment);
  ASSERT_TRUE(db.Open().ok());

  absl::Mutex mu;
  std::set<int64_t> acknowledged, refused;
  std::atomic<bool> stop{false};
  std::atomic<int> cuts{0};
  std::thread cutter([&] {
    std::unique_ptr<PgConn> admin = *PgConn::Connect(postgres.conninfo());
    while (!stop) {
      // Every other session of the database that is doing something right now.
      absl::StatusOr<PgResult> r = admin->Exec(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
          "WHERE datname = 'isobar' AND pid <> pg_backend_pid() AND state = 'active'");
      if (r.ok()) cuts += static_cast<int>(r->GetInt(0, 0));
      std::this_thread::sleep_for(std::chrono::milliseconds(15));  // the cutting rate, not synchronisation
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int64_t i = 0; i < 150; ++i) {
        int64_t tag = i * 4 + t;
        absl::Status status = CommitPair(db, tag);
        absl::MutexLock lock(&mu);
        if (status.ok()) {
          acknowledged.insert(tag);
        } else if (!absl::IsCancelled(status)) {
          EXPECT_TRUE(absl::IsUnavailable(status) || absl::IsAborted(status)) << status;
          refused.insert(tag);
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  stop = true;
  cutter.join();

  std::map<int64_t, int> counts = CountTags(postgres.pool(), deployment);
  for (const auto& [t, n] : counts) EXPECT_EQ(n, 2) << "tag " << t << " is partial";
  for (int64_t t : acknowledged) EXPECT_EQ(counts[t], 2) << "acknowledged tag " << t << " is missing";
  for (int64_t t : refused) EXPECT_EQ(counts.count(t), 0u) << "refused tag " << t << " was committed";
  EXPECT_GT(cuts.load(), 0);
  EXPECT_GT(acknowledged.size(), 0u) << "commits should get through between cuts";
  std::printf("acknowledged %zu, refused %zu, sessions cut %d\n", acknowledged.size(), refused.size(), cuts.load());
}

// PostgreSQL dies (SIGKILL) while a commit's statement runs, and stays away past the caller's
// deadline: the caller learns that the outcome is unknown (not a guess), commits meanwhile fail at
// once without writing, and once PostgreSQL is back the committer looks the commit up and goes on.
TEST(CommitterCrashTest, ACommitCutByADyingDatabaseIsResolvedWhenItReturns) {
  isobar::testing::TempDir dir;
  EmbeddedPostgresOptions options;
  options.data_dir = dir.path();
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> server = EmbeddedPostgres::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  PgPool pool((*server)->conninfo(), 4);
  {
    PgPool::Lease conn = *pool.Acquire();
    ASSERT_TRUE(ApplyMigrations(*conn).ok());
  }
  const DeploymentId deployment = testing::NewDeployment(pool);
  Database db(pool, deployment);
  ASSERT_TRUE(db.Open().ok());
  ASSERT_TRUE(CommitPair(db, 0).ok());

  // The next commit's statement waits on a lock until PostgreSQL dies under it.
  std::unique_ptr<PgConn> locker = *PgConn::Connect((*server)->conninfo());
  ASSERT_TRUE(locker->Exec("BEGIN").ok());
  ASSERT_TRUE(locker->Exec("LOCK TABLE isobar.documents IN ACCESS EXCLUSIVE MODE").ok());
  absl::Status cut;
  std::thread committer([&] { cut = CommitPair(db, 1, absl::Now() + absl::Seconds(2)); });
  for (;;) {  // until the commit's statement waits on the lock
    absl::StatusOr<PgResult> waiting =
        locker->Exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
    ASSERT_TRUE(waiting.ok()) << waiting.status();
    if (waiting->GetInt(0, 0) > 0) break;
  }
  ASSERT_EQ(kill((*server)->pid(), SIGKILL), 0);
  (void)(*server)->Stop();  // reaps it (it ended with SIGKILL)
  committer.join();
  EXPECT_TRUE(IsCommitOutcomeUnknown(cut)) << cut;
  EXPECT_TRUE(absl::IsUnavailable(cut)) << cut;
  EXPECT_EQ(db.committer().stats().ambiguous, 1u);
  // While the outcome is looked up, a commit fails at once and writes nothing.
  const absl::Time asked = absl::Now();
  absl::Status refused = CommitPair(db, 2);
  EXPECT_TRUE(absl::IsUnavailable(refused) && !IsCommitOutcomeUnknown(refused)) << refused;
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1));

  server = EmbeddedPostgres::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  pool.DropIdle();
  EXPECT_TRUE(db.committer().Barrier().ok());  // once the lookup answered
  EXPECT_TRUE(CommitPair(db, 3).ok());
  std::map<int64_t, int> counts = CountTags(pool, deployment);
  EXPECT_EQ(counts, (std::map<int64_t, int>{{0, 2}, {3, 2}}));
  db.Close();
}

}  // namespace
}  // namespace isobar::storage
