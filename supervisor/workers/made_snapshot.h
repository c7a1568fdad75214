// A version's startup snapshot as the supervisor keeps it (snapshot_maker.h makes them,
// snapshot_disk_cache.h stores them), and the build a blob belongs to.
#ifndef ISOBAR_SUPERVISOR_WORKERS_MADE_SNAPSHOT_H_
#define ISOBAR_SUPERVISOR_WORKERS_MADE_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {

// One version's blob, as the workers get it (worker.proto VersionBlob).
struct MadeSnapshot {
  std::string key;                        // VersionSnapshotKey (base/classic_bundle.h)
  std::vector<std::string> module_paths;  // the modules its script holds, sorted
  std::string blob;
  // WorkerBuild of the maker: only a worker of the same build may use the blob (V8 aborts on another
  // version's blob, and reads another build's references to C++ callbacks unchecked).
  std::string build;
};

// What a process started from `binary` now is: the file's identity (device, inode, size, change
// time: replacing the binary changes it). Empty if it cannot be read.
std::string BinaryIdentity(const std::string& binary);
// The build of a worker process: its binary's identity, then what it said of itself in Hello (its V8
// version, and the build IDs of the code it loaded: worker/build_id.h).
inline std::string WorkerBuild(absl::string_view binary_identity, absl::string_view v8_version,
                               absl::string_view build_id) {
  return absl::StrCat(binary_identity, "|", v8_version, "|", build_id);
}

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_MADE_SNAPSHOT_H_
