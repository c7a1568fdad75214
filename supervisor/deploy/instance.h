// Who this supervisor is, and that it is the only one on its data directory.
//
//   ASSIGN_OR_RETURN(DataDirLock lock, LockDataDir(config.data_dir));   // held until exit
//   ASSIGN_OR_RETURN(std::string name, LoadOrCreateSupervisorName(config.data_dir));
//
// The name ("<hostname>-<8 hex digits>", created once in <data-dir>/supervisor_name) is the holder of
// the writer leases this supervisor takes (storage/leases.h): stable across restarts on the same data
// directory, so a restarted supervisor takes its own leases back at once, and different for another
// data directory, so a second supervisor on the same PostgreSQL is told apart. The lock (flock on
// <data-dir>/lock) makes a second supervisor on the same data directory fail at start-up.
#ifndef ISOBAR_SUPERVISOR_DEPLOY_INSTANCE_H_
#define ISOBAR_SUPERVISOR_DEPLOY_INSTANCE_H_

#include <string>

#include "absl/status/statusor.h"

namespace isobar::supervisor {

class DataDirLock {
 public:
  explicit DataDirLock(int fd) : fd_(fd) {}
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  int fd_;
};

// FAILED_PRECONDITION when another process holds it.
absl::StatusOr<DataDirLock> LockDataDir(const std::string& data_dir);

absl::StatusOr<std::string> LoadOrCreateSupervisorName(const std::string& data_dir);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_INSTANCE_H_
