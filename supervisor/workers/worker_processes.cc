// WorkerPool, its processes: spawning a worker into its sandbox, the monitor thread (pidfds, the
// workers' stderr, timers), exits and restarts with backoff, heartbeats, and the quarantine of
// deployments that keep killing workers. Placement, streams and drain are in worker_pool.cc.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/log.h"
#include "sandbox/namespaces.h"
#include "sandbox/spawn.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {
namespace {

using isobar::worker::v1::Done;
using isobar::worker::v1::HostMessage;

constexpr char kComponent[] = "pool";
// A worker in --sandbox=report mode exits with this status after printing the offending syscall.
constexpr int kReportedViolationExit = 128 + SIGSYS;

}  // namespace

void WorkerPool::SpawnLocked(Slot& slot) {
  sandbox::WorkerSpawnSpec spec;
  spec.binary = options_.worker_binary;
  const std::string binary = BinaryIdentity(spec.binary);  // (before it runs: a later swap shows)
  spec.args = options_.worker_args;
  spec.args.push_back(absl::StrCat("--worker-id=", slot.id.value()));
  spec.sandbox = plan_;
  int err_pipe[2] = {-1, -1};
  // Only our end is non-blocking: the worker's writes wait for us rather than lose lines.
  if (pipe2(err_pipe, O_CLOEXEC) == 0) {
    if (fcntl(err_pipe[0], F_SETFL, O_NONBLOCK) == 0) {
      spec.stderr_fd = err_pipe[1];
    } else {
      close(err_pipe[0]);
      close(err_pipe[1]);
      err_pipe[0] = err_pipe[1] = -1;  // the worker writes to our stderr directly
    }
  }
  absl::StatusOr<sandbox::SpawnedWorker> spawned = sandbox::SpawnWorker(spec);
  if (err_pipe[1] >= 0) close(err_pipe[1]);
  if (!spawned.ok() && err_pipe[0] >= 0) close(err_pipe[0]);
  const absl::Time now = absl::Now();
  if (!spawned.ok()) {
    ++slot.consecutive_failures;
    absl::Duration delay = std::min(options_.restart_backoff_max,
                                    options_.restart_backoff_min * (1 << std::min(slot.consecutive_failures, 16)));
    slot.restart_at = now + delay;
    ISOBAR_LOG(kError, kComponent) << "cannot start worker " << slot.id << ": " << spawned.status()
                                   << "; retrying in " << absl::FormatDuration(delay);
    return;
  }
  ++slot.generation;
  ++slot.starts;
  slot.process = std::move(spawned->process);
  slot.pid = slot.process.pid();
  slot.fd = spawned->supervisor_fd;
  slot.stderr_fd = err_pipe[0];
  slot.stderr_partial.clear();
  slot.violation.clear();
  slot.state = State::kStarting;
  slot.started_at = now;
  slot.stream.reset();
  slot.running.clear();
  slot.recent.clear();
  slot.sent_sources.clear();
  slot.sent_snapshots.clear();
  slot.binary = binary;
  slot.build.clear();
  slot.preparing = false;
  slot.sandbox = sandbox::NamespaceNames(plan_.namespaces);
  if (cgroups_.has_value()) {
    absl::Status placed = cgroups_->Place(slot.id.value(), slot.pid, options_.worker_limits);
    if (placed.ok()) {
      slot.sandbox.push_back("cgroup");
    } else {
      ISOBAR_LOG(kError, kComponent) << "worker " << slot.id << " runs without its cgroup limits: " << placed;
    }
  }
  // Its reader (WorkerService) owns the fd from now on, and attaches with this connection.
  if (connect_) connect_(slot.fd, Connection{slot.id, slot.generation});
  ISOBAR_LOG(kInfo, kComponent) << "worker " << slot.id << " started, pid " << slot.process.pid();
}

void WorkerPool::HandleExitLocked(Slot& slot, const ExitStatus& status, std::vector<Completion>* completions) {
  const absl::Time now = absl::Now();
  const bool seccomp_kill = (!status.exited && status.signal == SIGSYS) ||
                            (status.exited && status.code == kReportedViolationExit);
  ++slot.crashes;
  DrainStderrLocked(slot, /*final=*/true);  // a report-mode violation line comes before the exit
  // Which deployments were running. A seccomp kill or a crash of its own (not a SIGKILL: we, an
  // operator or the OOM killer send those) counts against a deployment when it alone was running.
  std::vector<std::string> deployments;
  std::vector<std::string> invocations;
  for (uint64_t id : slot.running) {
    auto it = pending_.find(id);
    const std::string& deployment = it != pending_.end() ? it->second.deployment : "?";
    invocations.push_back(absl::StrCat("invocation ", id, " of deployment \"", deployment, "\""));
    if (std::find(deployments.begin(), deployments.end(), deployment) == deployments.end()) {
      deployments.push_back(deployment);
    }
  }
  const std::string running = invocations.empty() ? std::string("no invocation") : absl::StrJoin(invocations, ", ");
  if (deployments.size() == 1 && (status.exited || status.signal != SIGKILL)) NoteKillLocked(deployments[0], now);
  if (seccomp_kill) {
    ++slot.security_events;
    ISOBAR_LOG(kSecurity, kComponent) << "security event: worker " << slot.id << " (pid " << slot.pid
                                      << ") was killed by the seccomp filter (" << status.ToString()
                                      << ") while running " << running << "; offending system call: "
                                      << (slot.violation.empty() ? "unknown (kill mode)" : slot.violation);
  } else {
    ISOBAR_LOG(kWarning, kComponent) << "worker " << slot.id << " (pid " << slot.pid << ") died (" << status.ToString() << ") while running "
                                     << running;
  }
  for (uint64_t id : slot.running) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    if (!it->second.expired) {
      completions->emplace_back(
          std::move(it->second.done),
          std::make_pair(absl::StatusOr<Done>(absl::UnavailableError(absl::StrCat(
                             "the worker running this invocation died (", status.ToString(), ")"))),
                         slot.id));
    }
    pending_.erase(it);
  }
  slot.running.clear();
  if (slot.stream != nullptr) slot.stream->Close();
  slot.stream.reset();
  slot.fd = -1;
  if (now - slot.started_at > absl::Seconds(30)) slot.consecutive_failures = 0;
  ++slot.consecutive_failures;
  absl::Duration delay = std::min(options_.restart_backoff_max,
                                  options_.restart_backoff_min * (1 << std::min(slot.consecutive_failures - 1, 16)));
  slot.state = State::kWaitingToRestart;
  slot.restart_at = now + delay;
  ISOBAR_LOG(kInfo, kComponent) << "restarting worker " << slot.id << " in " << absl::FormatDuration(delay);
}

void WorkerPool::HeartbeatLocked(absl::Time now,
                                 std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>>* sends) {
  for (Slot& slot : slots_) {
    if (slot.state != State::kReady || slot.stream == nullptr || !slot.process.running()) continue;
    if (now - slot.answered_at > options_.heartbeat_timeout) {
      ++slot.heartbeat_kills;
      ISOBAR_LOG(kError, kComponent) << "worker " << slot.id << " (pid " << slot.pid << ") has not answered a heartbeat for "
                                     << absl::FormatDuration(now - slot.answered_at) << "; killing it";
      absl::Status killed = slot.process.Signal(SIGKILL);
      (void)killed;
      slot.answered_at = now;  // its exit restarts it; do not signal again meanwhile
      continue;
    }
    if (now < slot.next_heartbeat) continue;
    HostMessage ping;
    ping.mutable_heartbeat()->set_sequence(++slot.heartbeat_sequence);
    sends->emplace_back(slot.stream, std::move(ping));
    slot.next_heartbeat = now + options_.heartbeat_interval;
  }
}

absl::Time WorkerPool::NextWakeLocked() const {
  absl::Time next = absl::InfiniteFuture();
  for (const Slot& slot : slots_) {
    if (slot.state == State::kWaitingToRestart) next = std::min(next, slot.restart_at);
    if (slot.state == State::kReady && slot.stream != nullptr) {
      next = std::min({next, slot.next_heartbeat, slot.answered_at + options_.heartbeat_timeout});
    }
  }
  for (const auto& [id, pending] : pending_) {
    next = std::min(next, pending.expired ? pending.deadline + options_.hung_grace : pending.deadline);
  }
  return next;
}

void WorkerPool::MonitorLoop() {
  prctl(PR_SET_NAME, "isobar-pool");
  for (;;) {
    std::vector<Completion> completions;
    std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends;
    std::vector<struct pollfd> fds;
    std::vector<size_t> fd_slots;
    absl::Time next;
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        for (Slot& slot : slots_) {
          if (slot.process.running()) {
            absl::StatusOr<ExitStatus> killed = slot.process.Kill();
            (void)killed;
          }
          if (slot.stream != nullptr) slot.stream->Close();
          slot.stream.reset();
          DrainStderrLocked(slot, /*final=*/true);
          slot.state = State::kStopped;
          slot.running.clear();
        }
        for (auto& [id, pending] : pending_) {
          if (pending.expired) continue;
          completions.emplace_back(
              std::move(pending.done),
              std::make_pair(absl::StatusOr<Done>(absl::UnavailableError("the supervisor is shutting down")),
                             pending.worker.value_or(WorkerId(-1))));
        }
        pending_.clear();
        queue_.clear();
        stop = true;
      } else {
        const absl::Time now = absl::Now();
        for (Slot& slot : slots_) {
          if (slot.state == State::kWaitingToRestart && slot.restart_at <= now) SpawnLocked(slot);
        }
        ExpireLocked(now, &completions, &sends);
        HeartbeatLocked(now, &sends);
        next = NextWakeLocked();
        fds.push_back({wake_fd_, POLLIN, 0});
        for (size_t i = 0; i < slots_.size(); ++i) {
          if (slots_[i].process.running()) {
            fds.push_back({slots_[i].process.pidfd(), POLLIN, 0});
            fd_slots.push_back(i);
          }
          if (slots_[i].stderr_fd >= 0) {
            fds.push_back({slots_[i].stderr_fd, POLLIN, 0});
            fd_slots.push_back(i);
          }
        }
      }
    }
    Run(std::move(completions));
    Send(std::move(sends));
    if (stop) return;

    int timeout_ms = -1;
    if (next != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(next - absl::Now(), absl::Milliseconds(1))), 0, 3600 * 1000));
    }
    int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready <= 0) continue;
    if (fds[0].revents != 0) {
      uint64_t count;
      ssize_t ignored = read(wake_fd_, &count, sizeof(count));
      (void)ignored;
    }
    std::vector<Completion> exits;
    std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> assigned;
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Slot& slot = slots_[fd_slots[i - 1]];
        if (slot.stderr_fd >= 0 && fds[i].fd == slot.stderr_fd) {
          DrainStderrLocked(slot, /*final=*/false);
          continue;
        }
        if (!slot.process.running() || slot.process.pidfd() != fds[i].fd) continue;
        absl::StatusOr<std::optional<ExitStatus>> status = slot.process.Wait(absl::ZeroDuration());
        if (status.ok() && status->has_value()) HandleExitLocked(slot, **status, &exits);
      }
    }
    Run(std::move(exits));
  }
}

void WorkerPool::DrainStderrLocked(Slot& slot, bool final) {
  if (slot.stderr_fd < 0) return;
  char buffer[4096];
  bool eof = false;
  for (;;) {
    ssize_t n = read(slot.stderr_fd, buffer, sizeof(buffer));
    if (n > 0) {
      slot.stderr_partial.append(buffer, static_cast<size_t>(n));
      continue;
    }
    eof = n == 0 || (errno != EAGAIN && errno != EINTR);
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  // Forward complete lines (a worker's own log lines name it already; anything else gets a prefix).
  size_t start = 0;
  for (size_t end; (end = slot.stderr_partial.find('\n', start)) != std::string::npos; start = end + 1) {
    absl::string_view line(slot.stderr_partial.data() + start, end - start);
    absl::string_view violation = line;
    if (absl::ConsumePrefix(&violation, "seccomp violation: syscall ")) slot.violation = std::string(violation);
    if (CurrentLogFormat() == LogFormat::kJson) {
      // One JSON object per line, the worker's own line as its message.
      ISOBAR_LOG(kInfo, "worker").Field("worker", absl::StrCat(slot.id.value())) << line;
      continue;
    }
    std::string out = absl::StrContains(line, " worker ") ? absl::StrCat(line, "\n")
                                                          : absl::StrCat("worker ", slot.id.value(), ": ", line, "\n");
    ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
  }
  slot.stderr_partial.erase(0, start);
  if (slot.stderr_partial.size() > 64 * 1024) slot.stderr_partial.clear();  // a line without end: drop it
  if (eof || final) {
    close(slot.stderr_fd);
    slot.stderr_fd = -1;
  }
}

void WorkerPool::NoteKillLocked(const std::string& deployment, absl::Time now) {
  Offender& offender = offenders_[deployment];
  offender.kills.push_back(now);
  while (!offender.kills.empty() && now - offender.kills.front() > options_.quarantine_window) offender.kills.pop_front();
  if (static_cast<int>(offender.kills.size()) >= options_.quarantine_after && offender.quarantined_until <= now) {
    offender.quarantined_until = now + options_.quarantine_for;
    offender.kills.clear();
    ISOBAR_LOG(kSecurity, kComponent) << "deployment \"" << deployment << "\" quarantined for "
                                      << absl::FormatDuration(options_.quarantine_for) << ": its invocations killed "
                                      << options_.quarantine_after << " workers within "
                                      << absl::FormatDuration(options_.quarantine_window);
  }
}

std::vector<std::string> WorkerPool::Quarantined() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  const absl::Time now = absl::Now();
  for (const auto& [deployment, offender] : offenders_) {
    if (offender.quarantined_until > now) out.push_back(deployment);
  }
  return out;
}

}  // namespace isobar::supervisor
