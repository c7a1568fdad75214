// A real PostgreSQL for storage tests: one embedded cluster per test binary, in a fresh /tmp directory,
// migrated to the newest schema. Tests create their own deployments, so they do not see each other.
//
//   storage::PgPool& pool = storage::testing::SharedPostgres().pool();
#ifndef ISOBAR_STORAGE_PG_TESTING_H_
#define ISOBAR_STORAGE_PG_TESTING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/testing/temp_dir.h"
#include "storage/embedded_postgres.h"
#include "storage/pg_conn.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage::testing {

class TestPostgres {
 public:
  TestPostgres();  // aborts the test binary if PostgreSQL cannot start
  PgPool& pool() { return *pool_; }
  EmbeddedPostgres& server() { return *server_; }
  const std::string& conninfo() const { return server_->conninfo(); }

 private:
  isobar::testing::TempDir dir_;
  std::unique_ptr<EmbeddedPostgres> server_;
  std::unique_ptr<PgPool> pool_;
};

TestPostgres& SharedPostgres();

// A new deployment with a unique name, for one test.
DeploymentId NewDeployment(PgPool& pool);

// Commits that stall after committing locally, as with a synchronous standby that stopped answering:
// every session's next commit writes its WAL, becomes visible, and then waits (wait_event SyncRep)
// for a standby that never comes. Cutting such a session (a shutdown, pg_terminate_backend) ends it
// with SQLSTATE 57P01 although its transaction committed: the truly ambiguous commit.
// `admin` must be a superuser session. A session takes the setting at the start of a statement after
// the reload reached it (so a session idle since may run one more statement unstalled).
class StalledCommits {
 public:
  static absl::StatusOr<std::unique_ptr<StalledCommits>> Start(PgConn& admin);
  ~StalledCommits();  // lets commits through again (if Release was not called)

  // Waits (at most `timeout`) until `session` has taken the setting: its next commit stalls.
  absl::Status AwaitTakenBy(PgConn& session, absl::Duration timeout);

  // Waits (at most `timeout`) until some session's commit is stalled; that session's pid.
  absl::StatusOr<int> AwaitStalledCommit(absl::Duration timeout);
  // Lets commits through again. reload=false only resets the setting on disk, for a server about to
  // stop: stalled commits stay stalled until the shutdown cuts them, and the next start is normal.
  absl::Status Release(bool reload = true);

 private:
  explicit StalledCommits(PgConn& admin) : admin_(admin) {}
  PgConn& admin_;
  bool released_ = false;
};

}  // namespace isobar::storage::testing

#endif  // ISOBAR_STORAGE_PG_TESTING_H_
