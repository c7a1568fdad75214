#include "sandbox/cgroups.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace isobar::sandbox {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);  // cgroup files take one write each; app avoids truncation
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  out << text;
  out.flush();
  if (!out) return absl::PermissionDeniedError(absl::StrCat("writing ", path, " failed"));
  return absl::OkStatus();
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> FindCgroup2Mount(const std::string& mountinfo) {
  absl::StatusOr<std::string> text = ReadFile(mountinfo);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    // "36 25 0:31 / /sys/fs/cgroup rw,nosuid,... shared:9 - cgroup2 cgroup2 rw,..."
    std::vector<absl::string_view> halves = absl::StrSplit(line, " - ");
    if (halves.size() != 2 || !absl::StartsWith(halves[1], "cgroup2 ")) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(halves[0], ' ');
    if (fields.size() >= 5) return std::string(fields[4]);
  }
  return absl::NotFoundError("no cgroup2 file system is mounted");
}

absl::StatusOr<WorkerCgroups> WorkerCgroups::Open(const std::string& mountinfo, const std::string& self_cgroup) {
  absl::StatusOr<std::string> mount = FindCgroup2Mount(mountinfo);
  if (!mount.ok()) return mount.status();
  absl::StatusOr<std::string> membership = ReadFile(self_cgroup);
  if (!membership.ok()) return membership.status();
  std::string relative;
  for (absl::string_view line : absl::StrSplit(*membership, '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) relative = std::string(line);
  }
  if (relative.empty()) return absl::NotFoundError("this process is in no cgroup v2 cgroup");
  std::string directory = absl::StrCat(*mount, relative == "/" ? "" : relative);
  absl::StatusOr<std::string> controllers = ReadFile(directory + "/cgroup.controllers");
  if (!controllers.ok()) return controllers.status();
  std::vector<absl::string_view> available = absl::StrSplit(absl::StripAsciiWhitespace(*controllers), ' ');
  for (absl::string_view wanted : {"memory", "pids"}) {
    if (std::find(available.begin(), available.end(), wanted) == available.end()) {
      return absl::FailedPreconditionError(absl::StrCat("the ", wanted, " controller is not delegated to ", directory,
                                                        " (it offers: ", absl::StripAsciiWhitespace(*controllers), ")"));
    }
  }
  if (access((directory + "/cgroup.subtree_control").c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(directory, " is not ours to manage"));
  }
  // No internal processes: move ourselves into a leaf, then let children have the controllers.
  const std::string leaf = directory + "/isobar-supervisor";
  absl::Status made = MakeDirectory(leaf);
  if (!made.ok()) return made;
  absl::Status moved = WriteFile(leaf + "/cgroup.procs", absl::StrCat(getpid()));
  if (!moved.ok()) return moved;
  absl::Status enabled = WriteFile(directory + "/cgroup.subtree_control", "+memory +pids");
  if (!enabled.ok()) return enabled;
  return WorkerCgroups(std::move(directory));
}

absl::Status WorkerCgroups::Place(int worker_id, pid_t pid, const CgroupLimits& limits) const {
  return PlaceIn(absl::StrCat("isobar-worker-", worker_id), pid, limits);
}

absl::Status WorkerCgroups::PlaceIn(absl::string_view leaf, pid_t pid, const CgroupLimits& limits) const {
  const std::string cgroup = absl::StrCat(directory_, "/", leaf);
  absl::Status status = MakeDirectory(cgroup);
  if (status.ok()) status = WriteFile(cgroup + "/memory.max", absl::StrCat(limits.memory_max));
  if (status.ok()) status = WriteFile(cgroup + "/pids.max", absl::StrCat(limits.pids_max));
  if (status.ok()) status = WriteFile(cgroup + "/cgroup.procs", absl::StrCat(pid));
  return status;
}

}  // namespace isobar::sandbox
