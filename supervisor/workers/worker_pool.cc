// WorkerPool: start and drain, placement of invocations on workers, and the workers' streams.
// Spawning, monitoring and restarting the processes is in worker_processes.cc.
#include "supervisor/workers/worker_pool.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/classic_bundle.h"
#include "base/log.h"
#include "base/monotonic.h"
#include "sandbox/namespaces.h"
#include "sandbox/spawn.h"

namespace isobar::supervisor {
namespace {

using isobar::worker::v1::Done;
using isobar::worker::v1::HostMessage;

constexpr char kComponent[] = "pool";

const char* StateName(int state) {
  static const char* kNames[] = {"starting", "ready", "restarting", "stopped"};
  return kNames[state];
}

// What names `snapshot` to a worker: its key and module paths (the blob itself goes once).
void NameSnapshot(const MadeSnapshot& snapshot, isobar::worker::v1::VersionBlob* out) {
  out->set_key(snapshot.key);
  for (const std::string& path : snapshot.module_paths) out->add_module_paths(path);
}

}  // namespace

WorkerPool::WorkerPool(WorkerPoolOptions options)
    : options_(std::move(options)), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < options_.workers; ++i) {
    Slot slot;
    slot.id = WorkerId(i);
    slots_.push_back(std::move(slot));
  }
}

WorkerPool::~WorkerPool() {
  Shutdown();
  close(wake_fd_);
}

absl::Status WorkerPool::Start(Connect connect) {
  if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
  if (options_.workers < 1) return absl::InvalidArgumentError("the pool needs at least one worker");
  // Which namespaces this machine lets us make (some containers refuse some or all), and whose ids
  // workers get.
  const sandbox::SandboxPlan plan = options_.plan_sandbox(options_.namespaces);
  const int namespaces = plan.namespaces;
  if (namespaces != options_.namespaces) {
    std::vector<std::string> refused = sandbox::NamespaceNames(options_.namespaces & ~namespaces);
    if (options_.require_namespaces) {
      return absl::FailedPreconditionError(absl::StrCat("--sandbox=strict: this machine refuses the ",
                                                        absl::StrJoin(refused, ", "), " namespace(s)"));
    }
    ISOBAR_LOG(kWarning, kComponent) << "workers run WITHOUT the " << absl::StrJoin(refused, ", ")
                                     << " namespace(s): this machine refuses them (--sandbox=strict would not start)";
  }
  std::optional<sandbox::WorkerCgroups> cgroups;
  if (options_.cgroup_limits) {
    absl::StatusOr<sandbox::WorkerCgroups> opened = sandbox::WorkerCgroups::Open();
    if (opened.ok()) {
      cgroups = std::move(*opened);
      ISOBAR_LOG(kInfo, kComponent) << "workers get cgroup limits under " << cgroups->directory() << " (memory.max "
                                    << options_.worker_limits.memory_max << ", pids.max "
                                    << options_.worker_limits.pids_max << ")";
    } else {
      ISOBAR_LOG(kWarning, kComponent) << "workers run without cgroup limits: " << opened.status();
    }
  }
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the pool is already started");
  started_ = true;
  plan_ = plan;
  if (options_.snapshots) {
    SnapshotMakerOptions maker = options_.snapshot_maker;
    maker.worker_binary = options_.worker_binary;
    maker.worker_args = options_.worker_args;
    maker.cgroup_limits = options_.worker_limits;
    // Its RLIMIT_DATA is the limit that matters; the cgroup's leaves room for its code's pages.
    maker.cgroup_limits.memory_max = maker.memory_bytes + (128u << 20);
    maker.on_security_event = [this](const std::string& deployment) {
      absl::MutexLock lock(&mu_);
      NoteKillLocked(deployment, absl::Now());
    };
    snapshots_ = std::make_unique<SnapshotMaker>(std::move(maker), plan, cgroups);
  }
  cgroups_ = std::move(cgroups);
  connect_ = std::move(connect);
  for (Slot& slot : slots_) slot.restart_at = absl::InfinitePast();
  // The monitor spawns every worker: PR_SET_PDEATHSIG ties them to the thread that spawned them.
  monitor_ = std::thread([this] { MonitorLoop(); });
  return absl::OkStatus();
}

void WorkerPool::StopAccepting() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

size_t WorkerPool::Drain(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  auto answered = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& [id, pending] : pending_) {
      if (!pending.expired) return false;
    }
    return true;
  };
  mu_.AwaitWithDeadline(absl::Condition(&answered), deadline);
  size_t unanswered = 0;
  for (const auto& [id, pending] : pending_) unanswered += pending.expired ? 0 : 1;
  return unanswered;
}

void WorkerPool::Shutdown() {
  std::unique_ptr<SnapshotMaker> snapshots;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    snapshots.swap(snapshots_);
  }
  snapshots.reset();  // kills a maker at work
  Wake();
  if (monitor_.joinable()) monitor_.join();
}

SnapshotMakerStats WorkerPool::SnapshotStats() const {
  absl::MutexLock lock(&mu_);
  return snapshots_ != nullptr ? snapshots_->stats() : SnapshotMakerStats{};
}

void WorkerPool::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

void WorkerPool::Run(std::vector<Completion> completions) {
  for (auto& [done, outcome] : completions) std::move(done)(std::move(outcome.first), outcome.second);
}

void WorkerPool::Send(std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends) {
  // A failed write means the worker is going away; its exit fails the invocation.
  for (auto& [stream, message] : sends) {
    if (stream != nullptr) stream->Write(message);
  }
}

void WorkerPool::Dispatch(isobar::worker::v1::Invoke invoke, absl::Time deadline, DoneCallback done,
                          DispatchOptions options) {
  std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    auto offender = offenders_.find(invoke.deployment());
    if (!started_ || stopping_ || (draining_ && !options.accepted_work)) {
      refused = absl::UnavailableError("the supervisor is shutting down");
    } else if (offender != offenders_.end() && offender->second.quarantined_until > absl::Now()) {
      refused = absl::FailedPreconditionError(absl::StrCat(
          "deployment \"", invoke.deployment(), "\" is quarantined until ",
          absl::FormatTime(offender->second.quarantined_until, absl::UTCTimeZone()),
          ": its invocations killed ", options_.quarantine_after, " workers (see the security log)"));
    } else if (queue_.size() >= options_.max_queue) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "too many invocations waiting for a worker (the queue holds ", options_.max_queue, "); try again later"));
    } else {
      const uint64_t id = next_invocation_++;
      invoke.set_invocation_id(id);
      std::string deployment = invoke.deployment();
      std::shared_ptr<const MadeSnapshot> snapshot = VersionSnapshotLocked(invoke, options.modules.get());
      pending_.emplace(id, Pending{std::move(invoke), std::move(deployment), deadline, std::move(done),
                                   std::move(options.session), std::move(options.modules), std::nullopt, false});
      Pending& added = pending_.at(id);
      added.snapshot = std::move(snapshot);
      if (options_.stage_timings != nullptr && added.invoke.has_function()) {
        added.stage_label = StageLabel(added.invoke.function().kind(), added.invoke.context_policy());
        added.dispatched_ns = MonotonicNanos();
      }
      queue_.push_back(id);
      sends = AssignLocked();
    }
  }
  if (!refused.ok()) {
    std::move(done)(refused, WorkerId(-1));
    return;
  }
  Send(std::move(sends));
  Wake();  // the new deadline may be the earliest
}

std::shared_ptr<const MadeSnapshot> WorkerPool::VersionSnapshotLocked(const isobar::worker::v1::Invoke& invoke,
                                                                      const ModuleList* modules) {
  if (snapshots_ == nullptr || !invoke.has_function()) return nullptr;
  const auto find = [](const auto& listed) -> const isobar::worker::v1::Module* {
    for (const isobar::worker::v1::Module& module : listed) {
      if (module.path() == kClassicBundlePath) return &module;
    }
    return nullptr;
  };
  const isobar::worker::v1::Module* classic = invoke.function().modules().empty() && modules != nullptr
                                                  ? find(*modules)
                                                  : find(invoke.function().modules());
  // A module sent without its source (a caller's own list) cannot be made from.
  if (classic == nullptr || classic->source().empty()) return nullptr;
  return snapshots_->Find(*classic, invoke.allow_wasm(), invoke.deployment(), latest_build_);
}

std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> WorkerPool::AssignLocked() {
  constexpr size_t kRecentDeployments = 8;
  std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends;
  while (!queue_.empty()) {
    const uint64_t id = queue_.front();
    Pending& pending = pending_.at(id);
    // The least loaded worker with room (one JS thread per worker: load decides latency); among equals,
    // one not busy preparing its next context (a call there would wait a few milliseconds for it),
    // then one that ran this deployment lately (its isolate is warm there), then the one that ran fewest.
    Slot* chosen = nullptr;
    bool chosen_warm = false;
    for (Slot& slot : slots_) {
      if (slot.state != State::kReady || slot.stream == nullptr ||
          static_cast<int>(slot.running.size()) >= options_.max_in_flight_per_worker) {
        continue;
      }
      const bool warm = std::find(slot.recent.begin(), slot.recent.end(), pending.deployment) != slot.recent.end();
      if (chosen == nullptr ||
          std::make_tuple(slot.running.size(), slot.preparing, !warm, slot.invocations) <
              std::make_tuple(chosen->running.size(), chosen->preparing, !chosen_warm, chosen->invocations)) {
        chosen = &slot;
        chosen_warm = warm;
      }
    }
    if (chosen == nullptr) break;
    queue_.pop_front();
    pending.worker = chosen->id;
    chosen->running.insert(id);
    auto recent = std::find(chosen->recent.begin(), chosen->recent.end(), pending.deployment);
    if (recent != chosen->recent.end()) chosen->recent.erase(recent);
    chosen->recent.push_back(pending.deployment);
    if (chosen->recent.size() > kRecentDeployments) chosen->recent.pop_front();
    if (UsesSnapshot(*chosen, pending) && chosen->sent_snapshots.insert(pending.snapshot->key).second) {
      // The blob goes ahead of the Invoke, in a message of its own (an Invoke may be large already).
      HostMessage blob;
      NameSnapshot(*pending.snapshot, blob.mutable_snapshot_blob());
      blob.mutable_snapshot_blob()->set_blob(pending.snapshot->blob);
      sends.emplace_back(chosen->stream, std::move(blob));
    }
    sends.emplace_back(chosen->stream, ForSlot(*chosen, pending));
    if (pending.stage_label >= 0) {
      pending.sent_ns = MonotonicNanos();
      options_.stage_timings->Add(pending.stage_label, Stage::kQueue, absl::Nanoseconds(pending.sent_ns - pending.dispatched_ns));
    }
  }
  return sends;
}

HostMessage WorkerPool::ForSlot(Slot& slot, const Pending& pending) {
  const isobar::worker::v1::Invoke& invoke = pending.invoke;
  using isobar::worker::v1::Invoke;
  using isobar::worker::v1::Module;
  HostMessage message;
  Invoke* out = message.mutable_invoke();
  // Everything but the modules is copied; the modules are added one by one, each with its source only
  // if this process has not been sent it (copying the sources is what this avoids).
  auto strip = [&slot](const auto& in, google::protobuf::RepeatedPtrField<Module>* modules) {
    for (const Module& module : in) {
      Module* copy = modules->Add();
      copy->set_path(module.path());
      copy->set_sha256(module.sha256());
      if (slot.sent_sources.insert(module.sha256()).second) copy->set_source(module.source());
    }
  };
  switch (invoke.body_case()) {
    case Invoke::kFunction: {
      const auto& call = invoke.function();
      auto* copy = out->mutable_function();
      copy->set_kind(call.kind());
      copy->set_module_path(call.module_path());
      copy->set_export_name(call.export_name());
      copy->set_args_json(call.args_json());
      copy->set_request_id(call.request_id());
      copy->set_http_path(call.http_path());
      if (call.modules().empty() && pending.modules != nullptr) {
        strip(*pending.modules, copy->mutable_modules());
      } else {
        strip(call.modules(), copy->mutable_modules());
      }
      break;
    }
    case Invoke::kAnalyze:
      strip(invoke.analyze().modules(), out->mutable_analyze()->mutable_modules());
      break;
    case Invoke::kEval:
      *out->mutable_eval() = invoke.eval();
      break;
    case Invoke::BODY_NOT_SET:
      break;
  }
  out->set_invocation_id(invoke.invocation_id());
  out->set_cpu_budget_ms(invoke.cpu_budget_ms());
  out->set_seed(invoke.seed());
  out->set_unix_time_ms(invoke.unix_time_ms());
  out->set_import_seed(invoke.import_seed());
  out->set_import_unix_time_ms(invoke.import_unix_time_ms());
  out->set_deployment(invoke.deployment());
  out->set_context_policy(invoke.context_policy());
  out->set_allow_wasm(invoke.allow_wasm());
  *out->mutable_prefetched() = invoke.prefetched();
  if (UsesSnapshot(slot, pending)) NameSnapshot(*pending.snapshot, out->mutable_snapshot());
  return message;
}

void WorkerPool::ExpireLocked(absl::Time now, std::vector<Completion>* completions,
                              std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>>* sends) {
  std::vector<uint64_t> erase;
  for (auto& [id, pending] : pending_) {
    if (!pending.worker.has_value()) {
      if (pending.deadline > now) continue;
      completions->emplace_back(
          std::move(pending.done),
          std::make_pair(absl::StatusOr<Done>(absl::DeadlineExceededError(
                             "no worker became free before the request's deadline")),
                         WorkerId(-1)));
      erase.push_back(id);
      continue;
    }
    Slot& slot = slots_[static_cast<size_t>(pending.worker->value())];
    if (!pending.expired && pending.deadline <= now) {
      pending.expired = true;
      completions->emplace_back(
          std::move(pending.done),
          std::make_pair(absl::StatusOr<Done>(absl::DeadlineExceededError(
                             "the invocation did not finish before the request's deadline")),
                         slot.id));
      HostMessage cancel;
      cancel.mutable_cancel()->set_invocation_id(id);
      sends->emplace_back(slot.stream, std::move(cancel));
    }
    if (pending.expired && !pending.kill_sent && now >= pending.deadline + options_.hung_grace &&
        slot.process.running()) {
      // Once per invocation: until the worker is reaped, every expiry pass would see it again.
      pending.kill_sent = true;
      ISOBAR_LOG(kError, kComponent) << "worker " << slot.id << " has not finished invocation " << id << " "
                                     << absl::FormatDuration(now - pending.deadline)
                                     << " after its deadline; killing it";
      absl::Status killed = slot.process.Signal(SIGKILL);
      (void)killed;
    }
  }
  for (uint64_t id : erase) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
    pending_.erase(id);
  }
}

void WorkerPool::OnHeartbeat(const Connection& connection, const isobar::worker::v1::Heartbeat& heartbeat) {
  absl::MutexLock lock(&mu_);
  Slot* slot = SlotOf(connection);
  if (slot == nullptr || heartbeat.sequence() == 0 || heartbeat.sequence() > slot->heartbeat_sequence) return;
  slot->answered_at = absl::Now();
}

void WorkerPool::OnPrepared(const Connection& connection) {
  absl::MutexLock lock(&mu_);
  Slot* slot = SlotOf(connection);
  if (slot != nullptr) slot->preparing = false;
}

absl::Status WorkerPool::Attach(const Connection& connection, int fd, std::shared_ptr<WorkerStream> stream) {
  absl::MutexLock lock(&mu_);
  if (connection.worker.value() < 0 || static_cast<size_t>(connection.worker.value()) >= slots_.size()) {
    return absl::PermissionDeniedError("not a worker connection");
  }
  Slot* slot = SlotOf(connection);
  if (slot == nullptr || slot->fd != fd || !slot->process.running() || slot->state != State::kStarting ||
      slot->stream != nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("worker ", connection.worker.value(), " (process ", connection.generation,
                                                    ") is not expected on fd ", fd));
  }
  slot->stream = std::move(stream);
  return absl::OkStatus();
}

WorkerPool::Slot* WorkerPool::SlotOf(const Connection& connection) {
  Slot& slot = slots_[static_cast<size_t>(connection.worker.value())];
  return slot.generation == connection.generation ? &slot : nullptr;
}

const WorkerPool::Slot* WorkerPool::SlotOf(const Connection& connection) const {
  const Slot& slot = slots_[static_cast<size_t>(connection.worker.value())];
  return slot.generation == connection.generation ? &slot : nullptr;
}

void WorkerPool::OnHello(const Connection& connection, const isobar::worker::v1::Hello& hello) {
  std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends;
  {
    absl::MutexLock lock(&mu_);
    Slot* slot = SlotOf(connection);
    if (slot == nullptr || slot->state != State::kStarting) return;
    slot->state = State::kReady;
    slot->answered_at = absl::Now();
    slot->next_heartbeat = slot->answered_at + options_.heartbeat_interval;
    if (!slot->binary.empty()) {
      slot->build = WorkerBuild(slot->binary, hello.v8_version(), hello.build_id());
      latest_build_ = slot->build;
    }
    if (hello.sandboxed()) slot->sandbox.insert(slot->sandbox.begin(), "seccomp");
    if (hello.empty_root()) slot->sandbox.push_back("empty-root");
    slot->sandbox.push_back(absl::StrCat("uid=", hello.uid()));
    ISOBAR_LOG(kInfo, kComponent) << "worker " << slot->id << " ready (pid " << slot->process.pid() << ", "
                                  << hello.pid() << " inside; V8 " << hello.v8_version() << "; sandbox: "
                                  << (hello.sandboxed() ? "" : "NO SECCOMP, ") << absl::StrJoin(slot->sandbox, " ")
                                  << ")";
    sends = AssignLocked();
  }
  Send(std::move(sends));
  Wake();  // its heartbeats start now
}

void WorkerPool::OnDone(const Connection& connection, Done done) {
  std::vector<Completion> completions;
  std::vector<std::pair<std::shared_ptr<WorkerStream>, HostMessage>> sends;
  {
    absl::MutexLock lock(&mu_);
    Slot* slot = SlotOf(connection);
    if (slot == nullptr) return;
    if (!slot->running.contains(done.invocation_id())) {
      ISOBAR_LOG(kSecurity, kComponent) << "worker " << slot->id << " sent Done for invocation "
                                        << done.invocation_id() << ", which it is not running; ignored";
      return;
    }
    auto it = pending_.find(done.invocation_id());
    if (done.sources_missing() && it != pending_.end() && !it->second.resent_sources) {
      // The worker dropped a source we thought it had (nothing ran): send this invocation again with
      // every source, once. It stays running on this worker.
      it->second.resent_sources = true;
      slot->sent_sources.clear();
      sends.emplace_back(slot->stream, ForSlot(*slot, it->second));
      ISOBAR_LOG(kInfo, kComponent) << "worker " << slot->id << " lacked module sources; invocation "
                                    << done.invocation_id() << " sent again with them";
    } else {
      if (done.snapshot_missing() && it != pending_.end() && it->second.snapshot != nullptr) {
        slot->sent_snapshots.erase(it->second.snapshot->key);  // its next call brings the blob again
      }
      if (it != pending_.end() && it->second.stage_label >= 0) RecordWorkerStages(it->second, done);
      slot->running.erase(done.invocation_id());
      ++slot->invocations;
      slot->preparing = done.preparing();
      slot->isolate_pool = done.isolate_pool();
      if (it != pending_.end()) {
        if (!it->second.expired) {
          completions.emplace_back(std::move(it->second.done),
                                   std::make_pair(absl::StatusOr<Done>(std::move(done)), slot->id));
        }
        pending_.erase(it);
      }
      sends = AssignLocked();
    }
  }
  Run(std::move(completions));
  Send(std::move(sends));
}

WorkerPool::Running WorkerPool::FindRunning(const Connection& connection, uint64_t invocation) const {
  absl::MutexLock lock(&mu_);
  const Slot* slot = SlotOf(connection);
  if (slot == nullptr || !slot->running.contains(invocation)) return {};
  auto it = pending_.find(invocation);
  if (it == pending_.end()) return Running{true, nullptr};
  return Running{true, it->second.session, it->second.stage_label};
}

void WorkerPool::RecordWorkerStages(const Pending& pending, const Done& done) const {
  // The worker's times are its own word: samples for a diagnostic, nothing decides on them.
  StageTimings& timings = *options_.stage_timings;
  const int label = pending.stage_label;
  if (done.started_ns() > 0 && pending.sent_ns > 0) {
    timings.Add(label, Stage::kToWorker, absl::Nanoseconds(done.started_ns() - pending.sent_ns));
  }
  if (done.started_ns() > 0 && done.finished_ns() >= done.started_ns()) {
    timings.Add(label, Stage::kWorker, absl::Nanoseconds(done.finished_ns() - done.started_ns()));
    timings.Add(label, Stage::kHostWait, absl::Nanoseconds(done.host_wait_ns()));
  }
  if (done.finished_ns() > 0) timings.Add(label, Stage::kToSupervisor, absl::Nanoseconds(MonotonicNanos() - done.finished_ns()));
}

void WorkerPool::Detach(const Connection& connection) {
  absl::MutexLock lock(&mu_);
  Slot* slot = SlotOf(connection);
  if (slot == nullptr) return;
  slot->stream.reset();
  if (slot->process.running() && !stopping_) {
    // The worker ended its stream while alive: it can no longer be reached, so end it; the monitor
    // restarts it.
    ISOBAR_LOG(kWarning, kComponent) << "worker " << slot->id << " closed its stream; killing it";
    absl::Status killed = slot->process.Signal(SIGKILL);
    (void)killed;
  }
}

std::vector<WorkerSnapshot> WorkerPool::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerSnapshot> out;
  for (const Slot& slot : slots_) {
    WorkerSnapshot s;
    s.id = slot.id;
    s.pid = slot.process.running() ? slot.pid : 0;
    s.state = StateName(static_cast<int>(slot.state));
    s.starts = slot.starts;
    s.crashes = slot.crashes;
    s.security_events = slot.security_events;
    s.invocations = slot.invocations;
    s.in_flight = static_cast<uint32_t>(slot.running.size());
    s.heartbeat_kills = slot.heartbeat_kills;
    s.isolate_pool = slot.isolate_pool;
    s.sandbox = slot.sandbox;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace isobar::supervisor
