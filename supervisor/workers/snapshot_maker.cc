#include "supervisor/workers/snapshot_maker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/classic_bundle.h"
#include "base/frames.h"
#include "base/log.h"
#include "sandbox/spawn.h"

namespace isobar::supervisor {
namespace {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::Module;
using isobar::worker::v1::SnapshotMade;
using isobar::worker::v1::WorkerMessage;

constexpr char kComponent[] = "snapshots";
constexpr char kCgroupLeaf[] = "isobar-snapshot-maker";

}  // namespace

// A maker's stderr (a pipe, our end non-blocking): forwarded to our log line by line, escaped and
// prefixed, up to kMaxForwarded bytes (its version's code decides some of what it says).
class MakerStderr {
 public:
  explicit MakerStderr(int fd) : fd_(fd) {}
  ~MakerStderr() {
    if (fd_ >= 0) close(fd_);
  }
  MakerStderr(const MakerStderr&) = delete;
  MakerStderr& operator=(const MakerStderr&) = delete;

  int fd() const { return fd_; }
  // Reads what is there; at `end` (the maker is gone) also its last partial line.
  void Drain(bool end) {
    char chunk[4096];
    for (;;) {
      const ssize_t n = fd_ >= 0 ? read(fd_, chunk, sizeof(chunk)) : 0;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      partial_.append(chunk, static_cast<size_t>(n));
      size_t newline;
      while ((newline = partial_.find('\n')) != std::string::npos) {
        Forward(absl::string_view(partial_).substr(0, newline));
        partial_.erase(0, newline + 1);
      }
      if (partial_.size() > 4096) {
        Forward(partial_);
        partial_.clear();
      }
    }
    if (end && !partial_.empty()) Forward(partial_);
    if (end) partial_.clear();
  }

 private:
  static constexpr size_t kMaxForwarded = 64 << 10;
  void Forward(absl::string_view line) {
    if (forwarded_ >= kMaxForwarded) return;
    forwarded_ += line.size();
    ISOBAR_LOG(kInfo, kComponent) << "snapshot maker: "
                                  << absl::CHexEscape(line.substr(0, std::min(line.size(), kMaxForwarded)));
  }
  const int fd_;
  std::string partial_;
  size_t forwarded_ = 0;
};

namespace {

// The next message the maker sends on `fd`, if it comes whole before `deadline` (however slowly its
// bytes arrive). Its stderr is forwarded meanwhile.
absl::StatusOr<WorkerMessage> NextMessage(int fd, FrameDecoder& decoder, MakerStderr& stderr_pipe, absl::Time deadline) {
  char chunk[64 << 10];
  for (;;) {
    if (std::optional<std::string> frame = decoder.Next()) {
      WorkerMessage message;
      if (!message.ParseFromString(*frame)) return absl::DataLossError("the snapshot maker sent an unparsable message");
      return message;
    }
    if (decoder.broken()) return absl::DataLossError("the snapshot maker sent a frame past the limit");
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("the snapshot maker did not answer in time");
    pollfd ready[2] = {{fd, POLLIN, 0}, {stderr_pipe.fd(), POLLIN, 0}};
    if (poll(ready, stderr_pipe.fd() >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)))) <= 0) {
      continue;  // timed out or interrupted: the deadline decides
    }
    if (ready[1].revents != 0) stderr_pipe.Drain(/*end=*/false);
    if (ready[0].revents == 0) continue;
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError("the snapshot maker's stream ended");
    decoder.Append(absl::string_view(chunk, static_cast<size_t>(n)));
  }
}

// Deaths that tell of an attempt on the sandbox (or of a bug an attempt could use), not of a limit.
bool IsSecurityEvent(const ExitStatus& exit) {
  return !exit.exited && (exit.signal == SIGSYS || exit.signal == SIGSEGV || exit.signal == SIGBUS || exit.signal == SIGILL);
}

// A live process's peak resident memory (VmHWM), for the log; 0 if unknown.
uint64_t PeakResidentBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string text;
  while (std::getline(status, text)) {
    absl::string_view line = text;
    uint64_t kb = 0;
    if (absl::ConsumePrefix(&line, "VmHWM:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kb)) {
      return kb << 10;
    }
  }
  return 0;
}

}  // namespace

SnapshotMaker::SnapshotMaker(SnapshotMakerOptions options, sandbox::SandboxPlan plan,
                             std::optional<sandbox::WorkerCgroups> cgroups)
    : options_(std::move(options)), plan_(std::move(plan)), cgroups_(std::move(cgroups)) {
  if (!options_.cache_dir.empty()) {
    absl::StatusOr<std::unique_ptr<SnapshotDiskCache>> disk =
        SnapshotDiskCache::Open(options_.cache_dir, options_.max_disk_bytes, options_.max_blob_bytes);
    if (disk.ok()) {
      disk_ = *std::move(disk);
    } else {
      ISOBAR_LOG(kWarning, kComponent) << "startup snapshots are kept in memory only: " << disk.status();
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

SnapshotMaker::~SnapshotMaker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (running_ != nullptr) (void)running_->Signal(SIGKILL);  // its answer is no longer wanted
  }
  thread_.join();
}

std::shared_ptr<const MadeSnapshot> SnapshotMaker::Find(const Module& classic, bool wasm, absl::string_view deployment,
                                                        absl::string_view build) {
  std::string key = VersionSnapshotKey(deployment, classic.sha256(), wasm);
  absl::MutexLock lock(&mu_);
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    if (build.empty() || (*it->second)->build == build) {
      ready_.splice(ready_.begin(), ready_, it->second);  // most recently used
      return *it->second;
    }
    // Made by another build (the worker binary or its libraries were replaced since): made again.
    DropLocked(key);
    known_.erase(key);
  }
  // (No worker has said which build it is yet: the call is not counted.)
  if (stopping_ || known_.contains(key) || build.empty()) return nullptr;
  if (called_once_.insert(key).second) {
    constexpr size_t kMaxCalledOnce = 4096;
    if (called_once_.size() > kMaxCalledOnce) called_once_ = {key};
    // Its first call: reading a blob back from disk is cheap (a restarted supervisor has many).
    if (disk_ != nullptr && waiting_.size() < options_.max_waiting) {
      waiting_.push_back(Job{std::move(key), std::string(deployment), wasm, classic, std::string(build), true});
    }
    return nullptr;
  }
  if (waiting_.size() >= options_.max_waiting) {
    ++stats_.dropped;  // asked again by its next call, when there is room
    return nullptr;
  }
  called_once_.erase(key);
  constexpr size_t kMaxKnown = 1 << 16;  // refused and failed versions are forgotten past this (and may be tried again)
  if (known_.size() >= kMaxKnown) known_.clear();
  known_.insert(key);
  waiting_.push_back(Job{std::move(key), std::string(deployment), wasm, classic, std::string(build), false});
  return nullptr;
}

SnapshotMakerStats SnapshotMaker::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool SnapshotMaker::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void SnapshotMaker::Loop() {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SnapshotMaker* m) ABSL_NO_THREAD_SAFETY_ANALYSIS { return m->stopping_ || !m->waiting_.empty(); }, this));
      if (stopping_) return;
      job = std::move(waiting_.front());
      waiting_.pop_front();
      // Made or read back meanwhile (a version's first call and its second both queue it).
      if (auto it = by_key_.find(job.key); it != by_key_.end() && (*it->second)->build == job.build) continue;
    }
    if (LoadFromDisk(job) || job.disk_only) continue;
    const absl::Time start = absl::Now();
    Outcome outcome = Make(job);
    const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
    // A security event reaches the pool before it is counted, so whoever sees the count sees its
    // consequence (a quarantine). (No lock of ours held: it takes the pool's.)
    if (outcome.security_event && options_.on_security_event && !Stopping()) options_.on_security_event(job.deployment);
    std::shared_ptr<const MadeSnapshot> made;
    Record(job, std::move(outcome), ms, &made);
    if (made != nullptr && disk_ != nullptr) {
      // (No lock held: the disk cache is this thread's, and Find never waits for a write.)
      absl::Status stored = disk_->Store(*made);
      if (!stored.ok()) ISOBAR_LOG(kWarning, kComponent) << "a startup snapshot is not kept on disk: " << stored;
      absl::MutexLock lock(&mu_);
      stats_.stored = disk_->stats().stored;
    }
  }
}

void SnapshotMaker::Record(const Job& job, Outcome outcome, int64_t ms, std::shared_ptr<const MadeSnapshot>* added) {
  absl::MutexLock lock(&mu_);
  if (outcome.made.has_value()) {
    ++stats_.made;
    ISOBAR_LOG(kInfo, kComponent) << "a version of deployment \"" << job.deployment << "\" has a startup snapshot ("
                                  << outcome.made->blob.size() << " bytes, made in " << ms
                                  << " ms by a maker that peaked at " << (outcome.peak_bytes >> 20) << " MB)";
    *added = std::make_shared<const MadeSnapshot>(*std::move(outcome.made));
    AddLocked(*added);
  } else if (!outcome.refused.empty()) {
    ++stats_.refused;
    ISOBAR_LOG(kInfo, kComponent) << "a version of deployment \"" << job.deployment
                                  << "\" evaluates its modules per call (no snapshot): " << outcome.refused;
  } else if (!stopping_) {
    ++stats_.failed;
    if (outcome.security_event) {
      ++stats_.security_events;
      ISOBAR_LOG(kSecurity, kComponent) << "security event: the snapshot maker of a version of deployment \""
                                        << job.deployment << "\" died: " << outcome.failed;
    } else {
      ISOBAR_LOG(kWarning, kComponent) << "no snapshot for a version of deployment \"" << job.deployment
                                       << "\" (its modules evaluate per call): " << outcome.failed;
    }
    // A maker that could not start or did not answer in time may do better later (twice more).
    constexpr int kMaxAttempts = 3;
    if (outcome.transient && ++attempts_[job.key] < kMaxAttempts) known_.erase(job.key);
    if (attempts_.size() > 4096) attempts_.clear();
  }
}

SnapshotMaker::Outcome SnapshotMaker::Make(const Job& job) {
  Outcome outcome;
  sandbox::WorkerSpawnSpec spec;
  spec.binary = options_.worker_binary;
  spec.args = options_.worker_args;
  spec.args.push_back("--make-snapshot");
  spec.sandbox = plan_;
  spec.rlimits = {{RLIMIT_DATA, options_.memory_bytes}};
  spec.stdout_fd = -1;  // /dev/null
  int err_pipe[2] = {-1, -1};
  if (pipe2(err_pipe, O_CLOEXEC) != 0 || fcntl(err_pipe[0], F_SETFL, O_NONBLOCK) != 0) {
    if (err_pipe[0] >= 0) close(err_pipe[0]);
    if (err_pipe[1] >= 0) close(err_pipe[1]);
    outcome.failed = "cannot start a snapshot maker: no pipe for its stderr";
    outcome.transient = true;
    return outcome;
  }
  spec.stderr_fd = err_pipe[1];
  MakerStderr stderr_pipe(err_pipe[0]);
  const std::string binary = BinaryIdentity(spec.binary);  // (before it runs: a later swap shows)
  absl::StatusOr<sandbox::SpawnedWorker> spawned = sandbox::SpawnWorker(spec);
  close(err_pipe[1]);
  if (!spawned.ok()) {
    outcome.failed = absl::StrCat("cannot start a snapshot maker: ", spawned.status().ToString());
    outcome.transient = true;
    return outcome;
  }
  const absl::Time deadline = absl::Now() + options_.timeout;
  ChildProcess& process = spawned->process;
  if (cgroups_.has_value()) {
    absl::Status placed = cgroups_->PlaceIn(kCgroupLeaf, process.pid(), options_.cgroup_limits);
    if (!placed.ok()) ISOBAR_LOG(kError, kComponent) << "a snapshot maker runs without its cgroup: " << placed;
  }
  {
    absl::MutexLock lock(&mu_);
    running_ = &process;
    if (stopping_) (void)process.Signal(SIGKILL);
  }
  isobar::worker::v1::Hello hello;
  absl::StatusOr<SnapshotMade> made = Exchange(spawned->supervisor_fd, job, stderr_pipe, deadline, &hello);
  outcome.peak_bytes = PeakResidentBytes(process.pid());  // (it waits to be killed, so it is still there)
  {
    absl::MutexLock lock(&mu_);
    running_ = nullptr;
  }
  // It has answered, or failed: either way it is done (it waits for this, with its answer sent).
  absl::StatusOr<ExitStatus> exit = process.Kill();
  close(spawned->supervisor_fd);
  stderr_pipe.Drain(/*end=*/true);
  if (!made.ok()) {
    outcome.failed = made.status().ToString();
    outcome.transient = absl::IsDeadlineExceeded(made.status());  // (a loaded machine, perhaps)
    // A maker that died of its version's code says so in its exit status (SIGKILL is ours).
    if (exit.ok() && (exit->exited || exit->signal != SIGKILL)) {
      absl::StrAppend(&outcome.failed, " (", exit->ToString(), ")");
      outcome.security_event = IsSecurityEvent(*exit);
    }
    return outcome;
  }
  if (made->outcome_case() == SnapshotMade::kRefused) {
    // The maker's text names what the tenant's code did (a property name, say): bounded and escaped
    // before it reaches our log.
    constexpr size_t kMaxReason = 300;
    absl::string_view reason = made->refused();
    outcome.refused = reason.empty() ? "refused" : absl::CHexEscape(reason.substr(0, kMaxReason));
    if (reason.size() > kMaxReason) absl::StrAppend(&outcome.refused, "...");
    return outcome;
  }
  const isobar::worker::v1::VersionBlob& blob = made->snapshot();
  if (blob.blob().empty() || blob.blob().size() > options_.max_blob_bytes ||
      !std::is_sorted(blob.module_paths().begin(), blob.module_paths().end())) {
    outcome.failed = absl::StrCat("the snapshot maker's answer is malformed or too large (", blob.blob().size(), " bytes)");
    return outcome;
  }
  if (binary.empty()) {
    outcome.failed = "the worker binary cannot be identified";
    return outcome;
  }
  outcome.made = MadeSnapshot{job.key, {blob.module_paths().begin(), blob.module_paths().end()},
                              std::move(*made->mutable_snapshot()->mutable_blob()), ""};
  outcome.made->build = WorkerBuild(binary, hello.v8_version(), hello.build_id());
  return outcome;
}

absl::StatusOr<SnapshotMade> SnapshotMaker::Exchange(int fd, const Job& job, MakerStderr& stderr_pipe,
                                                     absl::Time deadline, isobar::worker::v1::Hello* hello) {
  FrameDecoder decoder(options_.max_blob_bytes + (1u << 20));  // the blob, its module paths and the envelope
  FrameWriter writer(fd);
  absl::StatusOr<WorkerMessage> first = NextMessage(fd, decoder, stderr_pipe, deadline);
  if (!first.ok()) return first.status();
  if (!first->has_hello()) return absl::DataLossError("the snapshot maker did not start with Hello");
  *hello = first->hello();
  HostMessage request;
  request.mutable_make_snapshot()->set_wasm(job.wasm);
  request.mutable_make_snapshot()->set_deployment(job.deployment);
  *request.mutable_make_snapshot()->mutable_classic() = job.classic;
  if (!writer.Write(request.SerializeAsString()).ok()) {
    return absl::UnavailableError("the snapshot maker's stream ended before the request");
  }
  absl::StatusOr<WorkerMessage> answer = NextMessage(fd, decoder, stderr_pipe, deadline);
  writer.Close();
  if (!answer.ok()) return answer.status();
  if (!answer->has_snapshot_made()) return absl::DataLossError("the snapshot maker answered something else");
  return std::move(*answer->mutable_snapshot_made());
}

void SnapshotMaker::DropLocked(const std::string& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  stats_.bytes -= (*it->second)->blob.size();
  ready_.erase(it->second);
  by_key_.erase(it);
  stats_.cached = ready_.size();
}

void SnapshotMaker::AddLocked(std::shared_ptr<const MadeSnapshot> made) {
  const std::string key = made->key;
  DropLocked(key);  // made twice (its key was forgotten meanwhile), or by another build
  stats_.bytes += made->blob.size();
  ready_.push_front(std::move(made));
  by_key_[key] = ready_.begin();
  while (stats_.bytes > options_.max_bytes && ready_.size() > 1) {
    // Workers keep the copies they were sent; a version evicted here is made again on its next call.
    known_.erase(ready_.back()->key);
    DropLocked(ready_.back()->key);
    ++stats_.evicted;
  }
  stats_.cached = ready_.size();
}

bool SnapshotMaker::LoadFromDisk(const Job& job) {
  if (disk_ == nullptr || job.build.empty()) return false;
  std::optional<MadeSnapshot> loaded = disk_->Load(job.key, job.build);
  absl::MutexLock lock(&mu_);
  stats_.disk_rejected = disk_->stats().rejected;
  if (!loaded.has_value()) return false;
  ++stats_.loaded;
  known_.insert(job.key);  // (not made again while it is in memory)
  called_once_.erase(job.key);
  AddLocked(std::make_shared<const MadeSnapshot>(*std::move(loaded)));
  return true;
}

}  // namespace isobar::supervisor
