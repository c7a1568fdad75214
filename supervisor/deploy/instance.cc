#include "supervisor/deploy/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace isobar::supervisor {

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<DataDirLock> LockDataDir(const std::string& data_dir) {
  const std::string path = data_dir + "/lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another supervisor is running on --data-dir ", data_dir, "; give this one a data directory of its own"));
    }
    return absl::InternalError(absl::StrCat("flock ", path, ": ", strerror(error)));
  }
  return DataDirLock(fd);
}

absl::StatusOr<std::string> LoadOrCreateSupervisorName(const std::string& data_dir) {
  const std::string path = data_dir + "/supervisor_name";
  {
    std::ifstream in(path);
    std::string name;
    if (in && std::getline(in, name) && !name.empty()) return name;
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) strncpy(host, "isobar", sizeof(host) - 1);
  unsigned char random[4];
  if (getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    return absl::InternalError(absl::StrCat("getrandom: ", strerror(errno)));
  }
  const std::string name = absl::StrCat(
      host, "-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random))));
  std::ofstream out(path, std::ios::trunc);
  out << name << "\n";
  if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", path));
  return name;
}

}  // namespace isobar::supervisor
