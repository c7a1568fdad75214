// Watches the PostgreSQL the supervisor uses and brings it back: the embedded server is reaped and
// restarted (with backoff) when it dies; an external one is probed until it answers again.
//
//   PostgresMonitor monitor(conninfo, std::move(embedded), embedded_options, pool, {});
//   monitor.SetListener([&](bool available) { health->SetServingStatus(available); });
//   monitor.Start();
//   if (!monitor.available()) return absl::UnavailableError(...);   // fail fast during an outage
//   ...
//   monitor.Stop();   // after the committers: stops the embedded server too
//
// Every `probe_interval` the monitor thread reaps the embedded server if it exited and runs
// `SELECT 1` on a connection of its own (connect and statement time out after 2 s, TCP keepalives on:
// a hung server is an outage, not a stuck monitor). A death or a failed probe (twice: once more on a new
// connection, so a killed session alone is not an outage) makes the database unavailable: the
// listener hears `false`, the pool drops its idle connections (they point at a dead server), and one
// error line says why. It comes back when the server answers again, restarted by us if it is ours:
// the pool drops its idle connections once more, the listener hears `true`, and one line says how
// long it was away. Restarts back off from `restart_backoff_min` to `restart_backoff_max`.
//
// The embedded server's parent-death signal is tied to the thread that spawned it (base/process.h):
// a restarted server belongs to the monitor thread, which stops it before it ends.
#ifndef ISOBAR_STORAGE_POSTGRES_MONITOR_H_
#define ISOBAR_STORAGE_POSTGRES_MONITOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/embedded_postgres.h"
#include "storage/pg_conn.h"
#include "storage/pg_pool.h"

namespace isobar::storage {

struct PostgresMonitorOptions {
  absl::Duration probe_interval = absl::Milliseconds(200);
  absl::Duration restart_backoff_min = absl::Milliseconds(100);
  absl::Duration restart_backoff_max = absl::Seconds(5);
};

class PostgresMonitor {
 public:
  struct Stats {
    uint64_t outages = 0;
    uint64_t restarts = 0;          // of the embedded server
    absl::Duration last_outage;     // how long the last finished outage lasted
  };

  // `embedded` is null for an external PostgreSQL; otherwise it is owned from now on and restarted
  // with `embedded_options`. `pool` is not owned and must outlive the monitor.
  PostgresMonitor(std::string conninfo, std::unique_ptr<EmbeddedPostgres> embedded,
                  EmbeddedPostgresOptions embedded_options, PgPool& pool, PostgresMonitorOptions options = {});
  ~PostgresMonitor();  // Stop()
  PostgresMonitor(const PostgresMonitor&) = delete;
  PostgresMonitor& operator=(const PostgresMonitor&) = delete;

  // Called on the monitor thread at every change of availability. Set before Start.
  void SetListener(std::function<void(bool available)> listener) { listener_ = std::move(listener); }

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the monitor thread, which stops the embedded server (fast shutdown) on its way out.
  // Idempotent. The embedded server's own Stop status is returned.
  absl::Status Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether the database answered its last probe. Cheap (an atomic load): for every call's fast path.
  bool available() const { return available_.load(std::memory_order_acquire); }
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // The embedded server's pid now (0 when external or down).
  pid_t embedded_pid() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // One probe: the embedded server is alive (reaped if not) and `SELECT 1` answers. The reason when not.
  absl::Status Probe();
  // Brings the embedded server back if it is gone; OK when it is running (again).
  absl::Status RestartIfDead() ABSL_LOCKS_EXCLUDED(mu_);
  void SetAvailable(bool available, const absl::Status& why);
  // Waits up to `d`; true if Stop was called.
  bool SleepUnlessStopped(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string conninfo_;  // with short connect, keepalive and statement timeouts
  const EmbeddedPostgresOptions embedded_options_;
  PgPool& pool_;
  const PostgresMonitorOptions options_;
  const bool is_embedded_;
  std::function<void(bool)> listener_;
  std::unique_ptr<PgConn> probe_conn_;  // monitor thread only
  std::atomic<bool> available_{true};
  absl::Time down_since_;  // monitor thread only

  mutable absl::Mutex mu_;
  std::unique_ptr<EmbeddedPostgres> embedded_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_POSTGRES_MONITOR_H_
