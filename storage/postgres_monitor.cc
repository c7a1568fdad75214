#include "storage/postgres_monitor.h"

#include <sys/prctl.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/backoff.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

constexpr char kComponent[] = "postgres";

// The probe's connection never waits long: a hung server or a dropped network is an outage, not a
// stuck monitor. libpq takes the same parameters in both conninfo forms.
std::string WithProbeTimeouts(const std::string& conninfo) {
  constexpr char kParams[] = "connect_timeout=2 keepalives=1 keepalives_idle=5 keepalives_interval=1 keepalives_count=3";
  const bool uri = absl::StartsWith(conninfo, "postgresql://") || absl::StartsWith(conninfo, "postgres://");
  if (!uri) return absl::StrCat(conninfo, " ", kParams);
  return absl::StrCat(conninfo, absl::StrContains(conninfo, "?") ? "&" : "?",
                      absl::StrReplaceAll(kParams, {{" ", "&"}}));
}

}  // namespace

PostgresMonitor::PostgresMonitor(std::string conninfo, std::unique_ptr<EmbeddedPostgres> embedded,
                                 EmbeddedPostgresOptions embedded_options, PgPool& pool,
                                 PostgresMonitorOptions options)
    : conninfo_(WithProbeTimeouts(conninfo)),
      embedded_options_(std::move(embedded_options)),
      pool_(pool),
      options_(options),
      is_embedded_(embedded != nullptr),
      embedded_(std::move(embedded)) {}

PostgresMonitor::~PostgresMonitor() {
  absl::Status stopped = Stop();
  if (!stopped.ok()) ISOBAR_LOG(kError, kComponent) << stopped;
}

void PostgresMonitor::Start() {
  absl::MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
}

absl::Status PostgresMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Never started (or already stopped): the embedded server, if any, is stopped here.
  std::unique_ptr<EmbeddedPostgres> embedded;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    embedded = std::move(embedded_);
    status = stop_status_;
  }
  if (embedded != nullptr) status.Update(embedded->Stop());
  return status;
}

PostgresMonitor::Stats PostgresMonitor::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

pid_t PostgresMonitor::embedded_pid() const {
  absl::MutexLock lock(&mu_);
  return embedded_ != nullptr && embedded_->running() ? embedded_->pid() : 0;
}

bool PostgresMonitor::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return stopping_;
}

absl::Status PostgresMonitor::Probe() {
  if (is_embedded_) {
    absl::MutexLock lock(&mu_);
    if (embedded_ == nullptr || !embedded_->running()) return absl::UnavailableError("the embedded PostgreSQL is not running");
    std::optional<ExitStatus> exited = embedded_->ReapIfExited();
    if (exited.has_value()) {
      return absl::UnavailableError(absl::StrCat("the embedded PostgreSQL exited (", exited->ToString(), ")"));
    }
  }
  // Twice at most: a connection that broke (its session was killed, or the server restarted under
  // it) says nothing until a new one fails too.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (probe_conn_ == nullptr) {
      absl::StatusOr<std::unique_ptr<PgConn>> conn = PgConn::Connect(conninfo_);
      if (!conn.ok()) return conn.status();
      if (absl::Status limited = (*conn)->Exec("SET statement_timeout = 2000").status(); !limited.ok()) return limited;
      probe_conn_ = *std::move(conn);
    }
    absl::StatusOr<PgResult> answered = probe_conn_->Exec("SELECT 1");
    if (answered.ok()) return absl::OkStatus();
    probe_conn_.reset();
    if (attempt == 1) return answered.status();
  }
  return absl::OkStatus();
}

absl::Status PostgresMonitor::RestartIfDead() {
  if (!is_embedded_) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    if (embedded_ != nullptr && embedded_->running()) return absl::OkStatus();
  }
  // Started on this thread: its parent-death signal follows this thread's life, which ends only
  // after Stop has stopped it.
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> restarted = EmbeddedPostgres::Start(embedded_options_);
  if (!restarted.ok()) return restarted.status();
  absl::MutexLock lock(&mu_);
  embedded_ = *std::move(restarted);
  ++stats_.restarts;
  return absl::OkStatus();
}

void PostgresMonitor::SetAvailable(bool available, const absl::Status& why) {
  if (available == available_.load(std::memory_order_relaxed)) return;
  pool_.DropIdle();
  available_.store(available, std::memory_order_release);
  const absl::Time now = absl::Now();
  if (available) {
    const absl::Duration outage = now - down_since_;
    {
      absl::MutexLock lock(&mu_);
      stats_.last_outage = outage;
    }
    ISOBAR_LOG(kInfo, kComponent) << "PostgreSQL is available again after " << absl::FormatDuration(outage);
  } else {
    down_since_ = now;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.outages;
    }
    ISOBAR_LOG(kError, kComponent) << "PostgreSQL is unavailable: " << why.message()
                                   << (is_embedded_ ? "; restarting it" : "; waiting for it to come back")
                                   << " (calls fail with UNAVAILABLE meanwhile)";
  }
  if (listener_) listener_(available);
}

void PostgresMonitor::Loop() {
  prctl(PR_SET_NAME, "isobar-pgwatch");
  int failures = 0;  // consecutive failed recoveries, for the backoff
  for (;;) {
    if (SleepUnlessStopped(failures == 0 ? options_.probe_interval
                                         : JitteredBackoff(options_.restart_backoff_min, options_.restart_backoff_max,
                                                           failures - 1))) {
      break;
    }
    absl::Status healthy = Probe();
    if (healthy.ok()) {
      failures = 0;
      SetAvailable(true, healthy);
      continue;
    }
    SetAvailable(false, healthy);
    absl::Status restarted = RestartIfDead();
    if (restarted.ok()) restarted = Probe();
    if (restarted.ok()) {
      failures = 0;
      SetAvailable(true, restarted);
      continue;
    }
    ++failures;
    if (failures == 1 || failures % 10 == 0) {
      ISOBAR_LOG(kWarning, kComponent) << "PostgreSQL is still unavailable (attempt " << failures
                                       << "): " << restarted.message();
    }
  }
  // Stop: the server this thread may have started is stopped before the thread (its parent-death
  // signal's anchor) ends.
  std::unique_ptr<EmbeddedPostgres> embedded;
  {
    absl::MutexLock lock(&mu_);
    embedded = std::move(embedded_);
  }
  probe_conn_.reset();
  absl::Status stopped = embedded != nullptr ? embedded->Stop() : absl::OkStatus();
  absl::MutexLock lock(&mu_);
  stop_status_ = stopped;
}

}  // namespace isobar::storage
