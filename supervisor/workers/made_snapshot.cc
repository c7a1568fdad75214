#include "supervisor/workers/made_snapshot.h"

#include <sys/stat.h>

namespace isobar::supervisor {

std::string BinaryIdentity(const std::string& binary) {
  struct stat file {};
  if (stat(binary.c_str(), &file) != 0) return "";
  return absl::StrCat(file.st_dev, ":", file.st_ino, ":", file.st_size, ":", file.st_ctim.tv_sec, ".",
                      file.st_ctim.tv_nsec);
}

}  // namespace isobar::supervisor
