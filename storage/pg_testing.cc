#include "storage/pg_testing.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/catalog.h"
#include "storage/migrations.h"

namespace isobar::storage::testing {

TestPostgres::TestPostgres() {
  EmbeddedPostgresOptions options;
  options.data_dir = dir_.path() + "/pg";
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> server = EmbeddedPostgres::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start PostgreSQL: %s\n", server.status().ToString().c_str());
    std::abort();
  }
  server_ = std::move(*server);
  absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(server_->conninfo());
  absl::StatusOr<int> migrated = conn.ok() ? ApplyMigrations(**conn) : conn.status();
  if (!migrated.ok()) {
    std::fprintf(stderr, "cannot migrate: %s\n", migrated.status().ToString().c_str());
    std::abort();
  }
  pool_ = std::make_unique<PgPool>(server_->conninfo(), 8);
}

TestPostgres& SharedPostgres() {
  // Destroyed at exit: the pool closes, PostgreSQL stops, and the temporary directory goes away.
  static TestPostgres postgres;
  return postgres;
}

DeploymentId NewDeployment(PgPool& pool) {
  static std::atomic<int> counter{0};
  Catalog catalog(pool);
  absl::StatusOr<DeploymentInfo> d = catalog.CreateDeployment(absl::StrCat("test-", ++counter));
  if (!d.ok()) {
    std::fprintf(stderr, "cannot create a deployment: %s\n", d.status().ToString().c_str());
    std::abort();
  }
  return d->id;
}

absl::StatusOr<std::unique_ptr<StalledCommits>> StalledCommits::Start(PgConn& admin) {
  // synchronous_standby_names is read on reload only (it cannot be SET per session); a backend takes
  // the new value before its next statement.
  absl::StatusOr<PgResult> set = admin.Exec("ALTER SYSTEM SET synchronous_standby_names = 'isobar_never_there'");
  if (!set.ok()) return set.status();
  std::unique_ptr<StalledCommits> stalled(new StalledCommits(admin));
  absl::StatusOr<PgResult> reloaded = admin.Exec("SELECT pg_reload_conf()");
  if (!reloaded.ok()) return reloaded.status();
  return stalled;
}

StalledCommits::~StalledCommits() {
  if (!released_) (void)Release();
}

absl::Status StalledCommits::AwaitTakenBy(PgConn& session, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    absl::StatusOr<PgResult> setting = session.Exec("SHOW synchronous_standby_names");
    if (!setting.ok()) return setting.status();
    if (setting->Get(0, 0) == "isobar_never_there") return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(5));  // the reload's signal is on its way
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError("the session did not take the new setting");
}

absl::StatusOr<int> StalledCommits::AwaitStalledCommit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    absl::StatusOr<PgResult> waiting =
        admin_.Exec("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' ORDER BY pid LIMIT 1");
    if (!waiting.ok()) return waiting.status();
    if (waiting->rows() > 0) return static_cast<int>(waiting->GetInt(0, 0));
    // Asks again after a moment: the waiting is PostgreSQL's, it tells no one.
    absl::SleepFor(absl::Milliseconds(5));
  } while (absl::Now() < deadline);
  return absl::DeadlineExceededError(absl::StrCat("no commit stalled within ", absl::FormatDuration(timeout)));
}

absl::Status StalledCommits::Release(bool reload) {
  released_ = true;
  absl::StatusOr<PgResult> reset = admin_.Exec("ALTER SYSTEM RESET synchronous_standby_names");
  if (!reset.ok()) return reset.status();
  if (!reload) return absl::OkStatus();
  return admin_.Exec("SELECT pg_reload_conf()").status();
}

}  // namespace isobar::storage::testing
