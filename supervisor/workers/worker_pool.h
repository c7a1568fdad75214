// The supervisor's worker processes, and the dispatch of invocations to them.
//
//   WorkerPool pool(options);
//   WorkerService workers(pool, router);
//   pool.Start([&](int fd, WorkerPool::Connection connection) { workers.Connect(fd, connection); });
//   pool.Dispatch(invoke, absl::Now() + absl::Seconds(5),
//                 [](absl::StatusOr<worker::v1::Done> done, WorkerId worker) { ... });
//
// Each slot runs one worker process at a time (restarted with backoff when it dies) and up to
// `max_in_flight_per_worker` invocations at once (the worker interleaves them on its JS thread);
// invocations wait in a bounded FIFO queue until a worker has room. Placement takes the least loaded
// worker, and among equally loaded ones prefers one that ran the same deployment recently (its isolate
// is warm there). Every Dispatch gets exactly
// one callback: the worker's Done, or an error when the queue is full (RESOURCE_EXHAUSTED), the deadline
// passes (DEADLINE_EXCEEDED), the worker dies (UNAVAILABLE) or the pool shuts down (UNAVAILABLE).
// Callbacks run on pool threads without the pool's lock held, and must not block for long.
//
// A monitor thread owns the processes: it spawns them, waits on their pidfds, restarts them, expires
// deadlines, and kills a worker that stays silent long past an invocation's deadline. A worker killed
// by SIGSYS (the seccomp filter) is logged as a security event and counted.
//
// The worker stream service reports each stream's life through Attach / OnHello / OnDone / Detach.
// A stream is tied to its slot by its connection (the slot and process the pool handed out with the
// socketpair's fd), never by anything the worker says.
#ifndef ISOBAR_SUPERVISOR_WORKERS_WORKER_POOL_H_
#define ISOBAR_SUPERVISOR_WORKERS_WORKER_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/process.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "sandbox/cgroups.h"
#include "sandbox/namespaces.h"
#include "supervisor/workers/snapshot_maker.h"
#include "supervisor/workers/stage_timings.h"
#include "supervisor/workers/worker_stream.h"

namespace isobar::supervisor {

struct InvocationSession;  // runner/invocation_session.h (opaque here): what host calls of one invocation are served against

// A code version's modules, shared by every call of it (never copied per call).
using ModuleList = std::vector<isobar::worker::v1::Module>;

// What travels with an Invoke through the pool.
struct DispatchOptions {
  // What the invocation's host calls are served against (null: Admin.Eval, analysis).
  std::shared_ptr<InvocationSession> session;
  // Part of a call already accepted: a nested call of a running invocation (an action's runQuery,
  // say) or a mutation's rerun after an OCC conflict. Still taken while draining.
  bool accepted_work = false;
  // For a function call whose Invoke lists no modules: its code version's. Each goes to a worker
  // process with its source once, then by path and hash only.
  std::shared_ptr<const ModuleList> modules;
};

struct WorkerPoolOptions {
  int workers = 1;
  std::string worker_binary;
  std::vector<std::string> worker_args;  // e.g. --sandbox=kill; --worker-id is added per slot
  size_t max_queue = 1024;
  // Invocations one worker runs at once (interleaved while they wait for host calls).
  int max_in_flight_per_worker = 16;
  absl::Duration restart_backoff_min = absl::Milliseconds(50);
  absl::Duration restart_backoff_max = absl::Seconds(10);
  // A worker that has not answered this long after an invocation's deadline is killed.
  absl::Duration hung_grace = absl::Seconds(10);
  // Heartbeats: every interval each ready worker is asked to answer; one that has not answered for
  // `heartbeat_timeout` (a frozen or wedged process) is killed and restarted.
  absl::Duration heartbeat_interval = absl::Seconds(2);
  absl::Duration heartbeat_timeout = absl::Seconds(10);
  // New namespaces for workers (CLONE_NEW*; see sandbox/namespaces.h). The pool probes which of them
  // this machine allows and logs the others; with `require_namespaces` Start fails instead.
  int namespaces = 0;
  bool require_namespaces = false;
  // How the machine is probed (tests substitute a machine that refuses some namespaces).
  std::function<sandbox::SandboxPlan(int)> plan_sandbox = sandbox::PlanWorkerSandbox;
  // A deployment whose invocations killed this many workers (seccomp kills and crashes; not SIGKILLs) within
  // `quarantine_window` is quarantined for `quarantine_for`: its invocations are refused at once.
  // Per-worker cgroup v2 limits, where a cgroup is delegated to us (sandbox/cgroups.h).
  bool cgroup_limits = false;
  sandbox::CgroupLimits worker_limits;
  // Startup snapshots per code version (snapshot_maker.h): a function call of a version that has a
  // classic script gets its version's blob (sent once per worker process), once a maker has made it.
  // worker_binary, worker_args and cgroup_limits come from the pool's own.
  bool snapshots = false;
  SnapshotMakerOptions snapshot_maker;
  // Per-stage timings of function calls (stage_timings.h; not owned, must outlive the pool), or null:
  // not recorded.
  StageTimings* stage_timings = nullptr;
  int quarantine_after = 3;
  absl::Duration quarantine_window = absl::Minutes(10);
  absl::Duration quarantine_for = absl::Hours(1);
};

struct WorkerSnapshot {
  WorkerId id;
  pid_t pid = 0;
  std::string state;
  uint64_t starts = 0;
  uint64_t crashes = 0;
  uint64_t security_events = 0;
  uint64_t invocations = 0;
  uint32_t in_flight = 0;
  uint64_t heartbeat_kills = 0;
  isobar::worker::v1::IsolatePoolStats isolate_pool;  // as of the last Done
  std::vector<std::string> sandbox;  // layers of the running process (see api.proto WorkerStats)
};

using DoneCallback = absl::AnyInvocable<void(absl::StatusOr<isobar::worker::v1::Done>, WorkerId) &&>;

class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The connection of a new stream: which slot and which process of it.
  struct Connection {
    WorkerId worker;
    uint64_t generation;
  };
  // `connect` is handed the supervisor's end of each new worker's socketpair and its connection (to
  // Attach with) and must start reading it without blocking; it is called with the pool's lock held,
  // so it must not call the pool. It must work until the pool's Shutdown.
  using Connect = std::function<void(int fd, Connection connection)>;
  absl::Status Start(Connect connect) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops accepting invocations: Dispatch answers UNAVAILABLE, except for DispatchOptions::accepted_work.
  void StopAccepting() ABSL_LOCKS_EXCLUDED(mu_);
  // StopAccepting, then waits until every accepted invocation has been answered, or `deadline`.
  // Returns how many were still unanswered.
  size_t Drain(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // Fails queued and running invocations, kills the workers, stops the monitor. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Sets invoke.invocation_id. `done` is called exactly once.
  void Dispatch(isobar::worker::v1::Invoke invoke, absl::Time deadline, DoneCallback done,
                DispatchOptions options = {}) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<WorkerSnapshot> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // The snapshot makers' counts (all zero without WorkerPoolOptions::snapshots).
  SnapshotMakerStats SnapshotStats() const ABSL_LOCKS_EXCLUDED(mu_);
  // WorkerPoolOptions::stage_timings (null when off).
  StageTimings* stage_timings() const { return options_.stage_timings; }
  // Deployments quarantined now ("" is the development deployment of Admin.Eval).
  std::vector<std::string> Quarantined() const ABSL_LOCKS_EXCLUDED(mu_);

  // --- For the worker stream service. ---
  // PERMISSION_DENIED unless `connection` is a process that lives, has not attached yet, and was
  // handed out with `fd` (a process that died before its reader attached never gets a stream).
  absl::Status Attach(const Connection& connection, int fd, std::shared_ptr<WorkerStream> stream)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnHello(const Connection& connection, const isobar::worker::v1::Hello& hello) ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone(const Connection& connection, isobar::worker::v1::Done done) ABSL_LOCKS_EXCLUDED(mu_);
  void OnHeartbeat(const Connection& connection, const isobar::worker::v1::Heartbeat& heartbeat)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The idle work a Done announced (Done.preparing) is over.
  void OnPrepared(const Connection& connection) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether this connection's worker is running `invocation` (host calls for anything else are refused:
  // a worker can only act for its own invocations), and the invocation's session if it has one.
  struct Running {
    bool running = false;
    std::shared_ptr<InvocationSession> session;
    int stage_label = -1;  // with stage timings, for its host calls' samples
  };
  Running FindRunning(const Connection& connection, uint64_t invocation) const ABSL_LOCKS_EXCLUDED(mu_);
  void Detach(const Connection& connection) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kStarting, kReady, kWaitingToRestart, kStopped };

  struct Pending {
    isobar::worker::v1::Invoke invoke;
    std::string deployment;  // invoke.deployment(), kept after the Invoke is sent
    absl::Time deadline;
    DoneCallback done;
    std::shared_ptr<InvocationSession> session;
    std::shared_ptr<const ModuleList> modules;  // DispatchOptions::modules
    std::optional<WorkerId> worker;  // set once sent
    bool expired = false;            // the caller has been answered; the worker's Done is dropped
    bool kill_sent = false;  // its worker was sent SIGKILL for it (logged once)
    bool resent_sources = false;     // sent again with every module source (the worker lacked one)
    std::shared_ptr<const MadeSnapshot> snapshot;  // its version's startup snapshot, if made
    // With stage timings: its label, and when it was dispatched and sent (MonotonicNanos).
    int stage_label = -1;
    int64_t dispatched_ns = 0;
    int64_t sent_ns = 0;
  };

  struct Slot {
    WorkerId id;
    uint64_t generation = 0;
    State state = State::kWaitingToRestart;
    ChildProcess process;
    pid_t pid = 0;  // of the newest process (kept after it is reaped, for logs)
    int fd = -1;  // the supervisor's socket end while the process lives (owned by gRPC)
    std::shared_ptr<WorkerStream> stream;
    absl::flat_hash_set<uint64_t> running;  // invocation ids
    absl::flat_hash_set<std::string> sent_sources;  // SHA-256s whose source this process was sent
    absl::flat_hash_set<std::string> sent_snapshots;  // keys of the snapshots this process was sent
    std::string binary;  // BinaryIdentity of the worker binary it was started from
    std::string build;   // WorkerBuild, once it said Hello: which snapshots it may use
    std::deque<std::string> recent;          // deployments it ran lately, newest last (affinity)
    bool preparing = false;                  // its JS thread does idle work (Done.preparing) until Prepared
    absl::Time restart_at;
    absl::Time started_at;
    int consecutive_failures = 0;
    uint64_t starts = 0, crashes = 0, security_events = 0, invocations = 0;
    isobar::worker::v1::IsolatePoolStats isolate_pool;  // reported with the last Done
    std::vector<std::string> sandbox;  // from the spawn and the worker's Hello
    // The worker's stderr: forwarded to ours line by line; a report-mode seccomp violation line is
    // kept for the security event.
    int stderr_fd = -1;
    std::string stderr_partial;
    std::string violation;  // "59 (execve)"
    // Heartbeats (while ready).
    uint64_t heartbeat_sequence = 0;  // the last one sent
    absl::Time next_heartbeat;
    absl::Time answered_at;  // the last answer (or Hello)
    uint64_t heartbeat_kills = 0;
  };

  using HostMessage = isobar::worker::v1::HostMessage;
  // A callback to run once mu_ is released.
  using Completion = std::pair<DoneCallback, std::pair<absl::StatusOr<isobar::worker::v1::Done>, WorkerId>>;

  void MonitorLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void Wake();
  void SpawnLocked(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forwards what the worker wrote to stderr; at EOF (or `final`) closes the pipe.
  void DrainStderrLocked(Slot& slot, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A worker died while running `deployment`'s invocation: counts towards its quarantine.
  void NoteKillLocked(const std::string& deployment, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleExitLocked(Slot& slot, const ExitStatus& status, std::vector<Completion>* completions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The startup snapshot of a function call's code version, if one is made (else it is being made, or
  // the version has none). `modules`: DispatchOptions::modules.
  std::shared_ptr<const MadeSnapshot> VersionSnapshotLocked(const isobar::worker::v1::Invoke& invoke,
                                                            const ModuleList* modules)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Assigns queued invocations to free ready workers; returns the messages to send.
  std::vector<std::pair<std::shared_ptr<WorkerStream>, isobar::worker::v1::HostMessage>> AssignLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends due heartbeats and kills workers that stopped answering.
  void HeartbeatLocked(absl::Time now,
                       std::vector<std::pair<std::shared_ptr<WorkerStream>, isobar::worker::v1::HostMessage>>* sends)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(absl::Time now, std::vector<Completion>* completions,
                    std::vector<std::pair<std::shared_ptr<WorkerStream>, isobar::worker::v1::HostMessage>>* sends)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextWakeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Slot* SlotOf(const Connection& connection) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Slot* SlotOf(const Connection& connection) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pending invocation's Invoke as `slot` gets it: modules (its own, or DispatchOptions::modules)
  // whose source this process already has go without it; its snapshot by key (its blob goes before,
  // from AssignLocked).
  static HostMessage ForSlot(Slot& slot, const Pending& pending);
  // Whether `pending` goes to `slot` with its version's snapshot: one is made, by a maker of the
  // slot's worker's build.
  static bool UsesSnapshot(const Slot& slot, const Pending& pending) {
    return pending.snapshot != nullptr && !slot.build.empty() && pending.snapshot->build == slot.build;
  }
  // Samples of the stages a Done tells (stage_timings.h).
  void RecordWorkerStages(const Pending& pending, const isobar::worker::v1::Done& done) const;
  static void Run(std::vector<Completion> completions);
  static void Send(std::vector<std::pair<std::shared_ptr<WorkerStream>, isobar::worker::v1::HostMessage>> sends);

  const WorkerPoolOptions options_;
  const int wake_fd_;           // eventfd: wakes the monitor

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  sandbox::SandboxPlan plan_ ABSL_GUARDED_BY(mu_);  // what Start found this machine allows
  std::optional<sandbox::WorkerCgroups> cgroups_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<SnapshotMaker> snapshots_ ABSL_GUARDED_BY(mu_);  // with WorkerPoolOptions::snapshots
  std::string latest_build_ ABSL_GUARDED_BY(mu_);  // the build of the worker that said Hello last
  struct Offender {
    std::deque<absl::Time> kills;  // workers its invocations killed, within the window
    absl::Time quarantined_until = absl::InfinitePast();
  };
  absl::flat_hash_map<std::string, Offender> offenders_ ABSL_GUARDED_BY(mu_);
  Connect connect_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_invocation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> queue_ ABSL_GUARDED_BY(mu_);
  std::thread monitor_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_WORKER_POOL_H_
