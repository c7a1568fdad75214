// What code this process runs, as one name: the GNU build IDs of its executable and of every shared
// object it has loaded (libnode's V8 among them), hashed together. Two worker processes with the same
// name run the same code, so a startup snapshot made by one is one the other can read: V8 aborts on
// another version's blob, and reads another build's references to our C++ callbacks unchecked.
//
//   hello.set_build_id(LoadedBuildId());   // before the seccomp filter (it reads memory only)
#ifndef ISOBAR_WORKER_BUILD_ID_H_
#define ISOBAR_WORKER_BUILD_ID_H_

#include <string>

namespace isobar::worker {

// 64 hex digits. An object without a build ID is named by its path instead.
std::string LoadedBuildId();

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_BUILD_ID_H_
