// A temporary directory for tests, removed with everything in it when the object goes away.
//
// It lives under /tmp (not $TEST_TMPDIR, which Bazel puts under /root/.cache, unreachable by the
// unprivileged `postgres` account the embedded PostgreSQL runs as) and is mode 0711 so that account
// can reach subdirectories it owns.
#ifndef ISOBAR_BASE_TESTING_TEMP_DIR_H_
#define ISOBAR_BASE_TESTING_TEMP_DIR_H_

#include <string>

namespace isobar::testing {

class TempDir {
 public:
  TempDir();  // aborts the test binary if /tmp is unusable
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace isobar::testing

#endif  // ISOBAR_BASE_TESTING_TEMP_DIR_H_
