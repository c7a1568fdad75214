// PostgresMonitor against a real PostgreSQL: the embedded server killed with SIGKILL is reaped and
// restarted by itself, and an external one stopped and started is noticed both ways; each time the
// listener hears "unavailable" then "available", and the pool serves again.
#include "storage/postgres_monitor.h"

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace isobar::storage {
namespace {

// What the listener heard, in order.
class Transitions {
 public:
  void Heard(bool available) {
    absl::MutexLock lock(&mu_);
    heard_.push_back(available);
  }
  // Waits until `n` transitions were heard (or a minute passed); all of them.
  std::vector<bool> Await(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return heard_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Minutes(1));
    return heard_;
  }

 private:
  absl::Mutex mu_;
  std::vector<bool> heard_ ABSL_GUARDED_BY(mu_);
};

// `rounds` outages, each heard as unavailable then available.
std::vector<bool> DownThenUp(int rounds) {
  std::vector<bool> want;
  for (int r = 0; r < rounds; ++r) {
    want.push_back(false);
    want.push_back(true);
  }
  return want;
}

absl::Status SelectOne(PgPool& pool) {
  absl::StatusOr<PgPool::Lease> conn = pool.Acquire();
  if (!conn.ok()) return conn.status();
  return (*conn)->Exec("SELECT 1").status();
}

// A PostgreSQL in a fresh directory, a pool on it, and what a monitor of it heard.
class PostgresMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = dir_.path();
    absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options_);
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    conninfo_ = pg_->conninfo();
    pool_ = std::make_unique<PgPool>(conninfo_, 2);
  }
  // Monitors the server, as the embedded one (it is then the monitor's) or as an external one.
  std::unique_ptr<PostgresMonitor> Monitor(bool embedded) {
    auto monitor = std::make_unique<PostgresMonitor>(conninfo_, embedded ? std::move(pg_) : nullptr, options_, *pool_,
                                                     PostgresMonitorOptions{.probe_interval = absl::Milliseconds(50)});
    monitor->SetListener([this](bool available) { transitions_.Heard(available); });
    monitor->Start();
    return monitor;
  }

  testing::TempDir dir_;
  EmbeddedPostgresOptions options_;
  std::unique_ptr<EmbeddedPostgres> pg_;
  std::string conninfo_;
  std::unique_ptr<PgPool> pool_;
  Transitions transitions_;
};

TEST_F(PostgresMonitorTest, AKilledEmbeddedServerIsRestartedAndThePoolServesAgain) {
  ASSERT_TRUE(SelectOne(*pool_).ok());  // an idle pooled connection to the server about to die
  std::unique_ptr<PostgresMonitor> watched = Monitor(/*embedded=*/true);
  PostgresMonitor& monitor = *watched;
  EXPECT_TRUE(monitor.available());

  for (int round = 1; round <= 2; ++round) {
    const pid_t first = monitor.embedded_pid();
    ASSERT_GT(first, 0);
    ASSERT_EQ(kill(first, SIGKILL), 0);
    EXPECT_EQ(transitions_.Await(2 * round), DownThenUp(round));
    EXPECT_TRUE(monitor.available());
    EXPECT_NE(monitor.embedded_pid(), first);
    // The idle connection to the dead server was dropped: the first acquire after the restart works.
    absl::Status served = SelectOne(*pool_);
    EXPECT_TRUE(served.ok()) << served;
  }
  const PostgresMonitor::Stats stats = monitor.stats();
  EXPECT_EQ(stats.outages, 2u);
  EXPECT_EQ(stats.restarts, 2u);
  EXPECT_GT(stats.last_outage, absl::ZeroDuration());
  EXPECT_TRUE(monitor.Stop().ok());
  EXPECT_EQ(monitor.embedded_pid(), 0);
}

TEST_F(PostgresMonitorTest, AnExternalServerThatStopsAndStartsIsNoticedBothWays) {
  std::unique_ptr<PostgresMonitor> watched = Monitor(/*embedded=*/false);
  PostgresMonitor& monitor = *watched;

  ASSERT_TRUE(pg_->Stop().ok());
  EXPECT_EQ(transitions_.Await(1), std::vector<bool>{false});
  EXPECT_FALSE(monitor.available());
  EXPECT_FALSE(SelectOne(*pool_).ok());
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> again = EmbeddedPostgres::Start(options_);  // the operator
  ASSERT_TRUE(again.ok()) << again.status();
  pg_ = *std::move(again);
  EXPECT_EQ(transitions_.Await(2), (std::vector<bool>{false, true}));
  EXPECT_TRUE(monitor.available());
  EXPECT_TRUE(SelectOne(*pool_).ok());
  EXPECT_EQ(monitor.stats().restarts, 0u);  // not ours to restart
  EXPECT_TRUE(monitor.Stop().ok());
}

}  // namespace
}  // namespace isobar::storage
