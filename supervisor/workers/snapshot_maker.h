// Startup snapshots per code version (worker/version_snapshot.h), made for the pool's workers by
// snapshot makers: a worker process started for one version (`worker --make-snapshot`), in the same
// sandbox as the workers (seccomp, namespaces), with a memory limit of its own (RLIMIT_DATA, and its
// cgroup where one is delegated). A version's top-level code runs there, in the creator isolate whose
// memory V8 does not let us cap; what it does there can kill only that process. A maker that dies, or
// does not answer in time, leaves its version without a snapshot, as a refused one.
//
//   SnapshotMaker maker(options, plan, cgroups);
//   if (std::shared_ptr<const MadeSnapshot> made = maker.Find(classic, wasm, deployment, build)) {
//     ... send made->blob with the call (once per worker) ...
//   }  // else the call evaluates its modules; the blob is being made, one version at a time
//
// Blobs are kept in memory, bounded by bytes (least recently used first out), and on disk where a
// cache directory is given (snapshot_disk_cache.h: verified by hash, tied to the build), so a
// restarted supervisor reads them back instead of making them again. A blob serves only workers of
// the build that made it; one of another build (the worker binary or its libraries were replaced) is
// made again.
#ifndef ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_MAKER_H_
#define ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_MAKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/process.h"
#include "isobar/worker/v1/worker.pb.h"
#include "sandbox/cgroups.h"
#include "sandbox/namespaces.h"
#include "supervisor/workers/made_snapshot.h"
#include "supervisor/workers/snapshot_disk_cache.h"

namespace isobar::supervisor {

class MakerStderr;  // snapshot_maker.cc

struct SnapshotMakerOptions {
  std::string worker_binary;
  std::vector<std::string> worker_args;  // as the pool's workers get them (--sandbox=..., ...)
  // A maker's RLIMIT_DATA (its private writable memory: V8's heap, its ArrayBuffers, malloc). A worker
  // that has made a blob uses about 150 MB of it.
  uint64_t memory_bytes = 1024u << 20;
  sandbox::CgroupLimits cgroup_limits;  // where cgroups are delegated (sandbox/cgroups.h)
  absl::Duration timeout = absl::Seconds(30);  // from its start to its answer
  size_t max_bytes = 256u << 20;               // blobs kept
  size_t max_blob_bytes = 16u << 20;           // one blob (a worker refuses to make larger ones)
  size_t max_waiting = 16;                     // versions waiting for a maker; more are not made
  std::string cache_dir;                       // blobs kept on disk too (empty: memory only)
  uint64_t max_disk_bytes = 1u << 30;          // ... at most this many bytes of them
  // Called (on the maker's thread, no lock of the maker's held) with the deployment whose maker died
  // by SIGSYS, SIGSEGV, SIGBUS or SIGILL: the pool counts it towards the deployment's quarantine.
  std::function<void(const std::string& deployment)> on_security_event;
};

struct SnapshotMakerStats {
  uint64_t made = 0;
  uint64_t refused = 0;  // the maker said why (top-level code that must run per call)
  uint64_t failed = 0;   // the maker died, did not answer in time, or could not start
  uint64_t security_events = 0;  // ... of which died by SIGSYS, SIGSEGV, SIGBUS or SIGILL
  uint64_t dropped = 0;  // too many versions were waiting
  uint64_t evicted = 0;
  size_t cached = 0;
  size_t bytes = 0;
  uint64_t loaded = 0;         // read back from the disk cache instead of made
  uint64_t stored = 0;         // written to it
  uint64_t disk_rejected = 0;  // files that failed a check there (removed)
};

class SnapshotMaker {
 public:
  // `cgroups`: where makers get a cgroup of their own (nullopt: none).
  SnapshotMaker(SnapshotMakerOptions options, sandbox::SandboxPlan plan, std::optional<sandbox::WorkerCgroups> cgroups);
  ~SnapshotMaker();  // kills a maker still running
  SnapshotMaker(const SnapshotMaker&) = delete;
  SnapshotMaker& operator=(const SnapshotMaker&) = delete;

  // The blob of the version whose classic script (base/classic_bundle.h) is `classic`, if made by
  // `build` (WorkerBuild of the workers now serving; empty before any said Hello: a blob of any build,
  // and the call is not counted).
  // Otherwise it is looked for on disk at the version's first call, and queued to be made at its second
  // (a version called once is not worth a maker's time), unless it was refused or failed before.
  std::shared_ptr<const MadeSnapshot> Find(const isobar::worker::v1::Module& classic, bool wasm,
                                           absl::string_view deployment, absl::string_view build)
      ABSL_LOCKS_EXCLUDED(mu_);

  SnapshotMakerStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Job {
    std::string key;
    std::string deployment;
    bool wasm = false;
    isobar::worker::v1::Module classic;
    std::string build;       // the serving workers' (for the disk cache)
    bool disk_only = false;  // look on disk, but make nothing
  };
  // What a maker answered: the blob, or why the version has none.
  struct Outcome {
    std::optional<MadeSnapshot> made;
    std::string refused;  // the maker's reason
    std::string failed;   // ours: it died, timed out, could not start
    bool transient = false;       // could not start, or no answer in time: may be tried again
    bool security_event = false;  // died by SIGSYS (the seccomp filter), SIGSEGV, SIGBUS or SIGILL
    uint64_t peak_bytes = 0;  // the maker's peak resident memory, when it answered
  };

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopping() const ABSL_LOCKS_EXCLUDED(mu_);
  // Counts, logs and keeps `job`'s outcome (a blob made: in `added`).
  void Record(const Job& job, Outcome outcome, int64_t ms, std::shared_ptr<const MadeSnapshot>* added)
      ABSL_LOCKS_EXCLUDED(mu_);
  Outcome Make(const Job& job) ABSL_LOCKS_EXCLUDED(mu_);
  // Talks to the started maker: its Hello (kept in `hello`), the request, its answer, all before
  // `deadline`.
  absl::StatusOr<isobar::worker::v1::SnapshotMade> Exchange(int fd, const Job& job, MakerStderr& stderr_pipe,
                                                            absl::Time deadline, isobar::worker::v1::Hello* hello);
  void AddLocked(std::shared_ptr<const MadeSnapshot> made) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's blob from the disk cache, kept in memory; false if there is none there.
  bool LoadFromDisk(const Job& job) ABSL_LOCKS_EXCLUDED(mu_);

  const SnapshotMakerOptions options_;
  const sandbox::SandboxPlan plan_;
  const std::optional<sandbox::WorkerCgroups> cgroups_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Job> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> known_ ABSL_GUARDED_BY(mu_);  // waiting, being made, refused or failed
  absl::flat_hash_set<std::string> called_once_ ABSL_GUARDED_BY(mu_);  // (bounded: forgotten when full)
  // Most recently used first; by key.
  std::list<std::shared_ptr<const MadeSnapshot>> ready_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::list<std::shared_ptr<const MadeSnapshot>>::iterator> by_key_
      ABSL_GUARDED_BY(mu_);
  const ChildProcess* running_ ABSL_GUARDED_BY(mu_) = nullptr;  // the maker at work (killed on stop)
  SnapshotMakerStats stats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);  // of versions whose makers failed
  std::unique_ptr<SnapshotDiskCache> disk_;  // the maker's thread's only (null: none)
  std::thread thread_;  // started once the rest is built
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_SNAPSHOT_MAKER_H_
