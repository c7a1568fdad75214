// cgroup v2 limits for workers (memory.max, pids.max), where a cgroup is delegated to us.
//
//   absl::StatusOr<WorkerCgroups> cgroups = WorkerCgroups::Open();   // at supervisor start
//   if (!cgroups.ok()) LOG(WARNING) << "no cgroup limits: " << cgroups.status();
//   ... after spawning worker N: cgroups->Place(N, pid, {.memory_max = 512 << 20, .pids_max = 64});
//
// Delegated means: our own cgroup v2 directory is writable and offers the memory and pids
// controllers. cgroup v2 lets a cgroup with processes in it have no controlled children ("no internal
// processes"), so Open moves this process into a leaf of its own (isobar-supervisor) first, then
// enables the controllers for its cgroup's children. Each worker gets isobar-worker-N beside it.
// Machines with only cgroup v1 controllers, or no delegation, run workers without these limits (the
// V8 heap cap, the ArrayBuffer cap and RLIMIT_NOFILE still hold).
#ifndef ISOBAR_SANDBOX_CGROUPS_H_
#define ISOBAR_SANDBOX_CGROUPS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::sandbox {

struct CgroupLimits {
  uint64_t memory_max = 512u << 20;
  uint64_t pids_max = 64;
};

class WorkerCgroups {
 public:
  // `mountinfo` and `self_cgroup` are /proc files (tests pass others, with a fake cgroup tree).
  static absl::StatusOr<WorkerCgroups> Open(const std::string& mountinfo = "/proc/self/mountinfo",
                                            const std::string& self_cgroup = "/proc/self/cgroup");

  // Puts `pid` into worker `worker_id`'s cgroup (created on first use) with `limits`.
  absl::Status Place(int worker_id, pid_t pid, const CgroupLimits& limits) const;
  // The same for another process the pool starts, into the leaf `leaf` (a fixed name of ours, e.g.
  // "isobar-snapshot-maker"; never a user's string).
  absl::Status PlaceIn(absl::string_view leaf, pid_t pid, const CgroupLimits& limits) const;

  // Our cgroup's directory (the parent of the supervisor's and the workers' leaves).
  const std::string& directory() const { return directory_; }

 private:
  explicit WorkerCgroups(std::string directory) : directory_(std::move(directory)) {}
  std::string directory_;
};

// Where cgroup2 is mounted according to `mountinfo`, or NOT_FOUND.
absl::StatusOr<std::string> FindCgroup2Mount(const std::string& mountinfo);

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_CGROUPS_H_
