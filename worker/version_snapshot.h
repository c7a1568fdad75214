// A V8 startup snapshot per code version: the prelude installed and the version's modules evaluated,
// once, in a context that every fresh invocation then gets a copy of (Context::FromSnapshot), instead
// of building a context and evaluating the modules per call (about a third of the cost, measured in
// shared/probes/v8-fresh-realm and bench/isolate).
//
// The modules come as one classic script, `kClassicBundlePath` (base/classic_bundle.h), that the bundler makes from the same
// ES modules it pushes (cli/bundle.h, tests/apps/defs.bzl): V8 10.2 cannot keep ES modules in a
// snapshot safely. The script sets globalThis.__isobarModules = {"messages.js": <its exports>, ...};
// the snapshot keeps that object (and the prelude's enterInvocation) as context data and removes the
// global. A version without the script, or whose modules' top-level code would behave differently if
// evaluated once ahead, evaluates its ES modules per invocation as before.
//
// Making a blob (MakeVersionSnapshot):
//   1. a trial: the script runs in a new context of a throwaway isolate with the deployment's limits
//      (heap, ArrayBuffers, the CPU watchdog) and no invocation's data, in the realm the snapshot's
//      isolate offers (V8 leaves SharedArrayBuffer, Atomics, Error.stackTraceLimit, Object.hasOwn,
//      .at, .findLast, .findLastIndex and their @@unscopables entries out of it, and adds them to
//      every copy; the two realms' shapes are compared). It must finish; call no host function
//      (process.env, the database); read neither the clock nor randomness; log nothing; leave no
//      promise pending or rejected (all also checked after the code the checks themselves call, such
//      as a replaced Math.random); add or remove no global but __isobarModules; not use asm.js; leave
//      the builtins V8 adds to in copies extensible and without those properties (V8 aborts the
//      process when a copy cannot get them); have no ArrayBuffer allocation refused (the creator
//      isolate's allocator cannot be capped); and keep, once done, no more than 48 MB of heap, no
//      ArrayBuffer memory (a copy allocates it again, and V8 aborts if the isolate's cap refuses it)
//      and no heap number held by an object (found in a heap snapshot: V8 10.2 writes a number
//      field's new value into its box in place, and a snapshot keeps every box in its part shared by
//      all copies, so `state.x += 0.5` in one call would reach the next);
//   2. the same in a SnapshotCreator isolate used for nothing else, with every check again (code can
//      tell the two isolates apart, by its stack depth say, and keep here what it did not keep there),
//      and its blob.
// Math.random, Date, WeakRef, FinalizationRegistry, fetch and the timers are stable functions that ask
// the current invocation (runtime-js/src/determinism.js), so code that took them at module scope gets
// the call's, not the snapshot's fixed seed and time.
// Where blobs are made: in a snapshot maker, a process of its own per version (a worker started with
// --make-snapshot, in the same sandbox, with its own memory limit), never in a worker that serves
// calls. The supervisor then sends the blob with the version's calls (Invoke.snapshot), once per
// worker (supervisor/workers/snapshot_maker.h). The maker ran the tenant's code, so the blob is
// trusted as far as that tenant's code is: an exploit that broke out of V8 in the maker could forge
// a blob that V8 reads unchecked into a shared worker, which is what the same exploit run in that
// worker would reach directly.
//
// SnapshotStore keeps blobs per worker, bounded by bytes (LRU). Tests and benchmarks can also make
// them in the worker itself (EvaluatorLimits::version_snapshots): a version is then made when the
// worker is idle after its first call, or at its second call if it is still waiting by then.
//
// Known (an adversarial review's findings, tests in version_snapshot_test.cc for those fixed):
//   - the creator isolate's memory is not capped in-process: V8 sizes its heap itself (a near-limit
//     callback only ends the script at V8's own large limit) and its ArrayBuffers come from V8's own
//     allocator. Code that tells the isolates apart can allocate there what the trial's caps would
//     have refused. This is why blobs are made in a snapshot maker process, whose memory is capped
//     (RLIMIT_DATA, and its cgroup where one is delegated): such a version kills only its maker and
//     is refused.
//   - every module's top-level code runs into the one realm, not only the called module's imports: a
//     module that changes a builtin at import (a polyfill) changes it for every function of its
//     version; the order of builtins' properties in a copy differs from the modules' path when the
//     import added some (V8 appends its own after them).
#ifndef ISOBAR_WORKER_VERSION_SNAPSHOT_H_
#define ISOBAR_WORKER_VERSION_SNAPSHOT_H_

#include <time.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/classic_bundle.h"
#include "isobar/worker/v1/worker.pb.h"
#include "v8-snapshot.h"
#include "worker/invocation_result.h"
#include "worker/watchdog.h"

namespace isobar::worker {

class CodeCache;

// The snapshot context's data (Context::GetDataFromSnapshotOnce).
inline constexpr size_t kSnapshotEnterIndex = 0;    // the prelude's enterInvocation
inline constexpr size_t kSnapshotModulesIndex = 1;  // {module path: its exports}

// One version's blob. An isolate made from it must keep it alive: V8 reads contexts from it later.
class VersionSnapshot {
 public:
  VersionSnapshot(std::string key, std::string blob, std::vector<std::string> module_paths);
  VersionSnapshot(const VersionSnapshot&) = delete;
  VersionSnapshot& operator=(const VersionSnapshot&) = delete;

  const std::string& key() const { return key_; }
  size_t size() const { return blob_.size(); }
  const std::string& blob() const { return blob_; }
  // The modules the script holds, sorted: it serves only a version with exactly these (and _deps/).
  const std::vector<std::string>& module_paths() const { return module_paths_; }
  // For Isolate::CreateParams::snapshot_blob (V8 only reads it).
  v8::StartupData* startup_data() const { return &data_; }

 private:
  const std::string key_;
  const std::string blob_;
  const std::vector<std::string> module_paths_;
  mutable v8::StartupData data_;
};


struct SnapshotEnvironment {
  const EvaluatorLimits& limits;
  CodeCache& code_cache;
  Watchdog& watchdog;
  clockid_t js_thread_clock;
  absl::Duration cpu_budget;  // for the script's top-level code, in each of the two runs
};

// The blob of `classic`'s version, or FAILED_PRECONDITION saying why it cannot have one (DATA_LOSS if
// the script does not match its SHA-256). On the JS thread, between invocations' turns.
// `key` names it (VersionSnapshotKey, base/classic_bundle.h).
absl::StatusOr<std::shared_ptr<const VersionSnapshot>> MakeVersionSnapshot(std::string key,
                                                                           const isobar::worker::v1::Module& classic,
                                                                           bool wasm, const SnapshotEnvironment& env);

struct SnapshotStats {
  uint64_t made = 0;  // here, or received from a snapshot maker

  uint64_t refused = 0;  // versions whose top-level code cannot be evaluated ahead
  uint64_t evicted = 0;
  uint64_t invocations = 0;  // whose context was a copy of a snapshot
  size_t cached = 0;
  size_t bytes = 0;
  absl::Duration making_time;  // wall time spent making blobs, in all
};

// A version waiting for its blob.
struct SnapshotRequest {
  std::string key;
  std::string deployment;  // for the log line
  bool wasm = false;
  isobar::worker::v1::Module classic;
};

class SnapshotStore {
 public:
  explicit SnapshotStore(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The blob of `key`, if made (most recently used from now on).
  std::shared_ptr<const VersionSnapshot> Find(const std::string& key);
  // A call of a version with no blob: its request, taken out of the queue, if it should be made now
  // (it was waiting already); otherwise it waits for idle time, unless it was refused before.
  std::optional<SnapshotRequest> Wanted(const std::string& key, absl::string_view deployment, bool wasm,
                                        const isobar::worker::v1::Module& classic);
  // The waiting version to make next, taken out of the queue.
  std::optional<SnapshotRequest> TakeWaiting();
  bool has_waiting() const { return !waiting_.empty(); }

  // Keeps `snapshot` unless a blob of its key is kept already (that one stays: isolates made from it
  // are still its).
  void Add(std::shared_ptr<const VersionSnapshot> snapshot, absl::Duration took);
  void Refused(const std::string& key, absl::Duration took);
  void Served() { ++stats_.invocations; }

  const SnapshotStats& stats() const { return stats_; }

 private:
  static constexpr size_t kMaxWaiting = 8;
  static constexpr size_t kMaxRefused = 4096;

  const size_t max_bytes_;
  std::list<std::shared_ptr<const VersionSnapshot>> ready_;  // most recently used first
  std::list<SnapshotRequest> waiting_;                       // oldest first
  absl::flat_hash_set<std::string> refused_;
  SnapshotStats stats_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_VERSION_SNAPSHOT_H_
