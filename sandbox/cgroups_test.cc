// WorkerCgroups against a fake cgroup v2 tree in a temporary directory (the kernel's files are plain
// files here): what it checks before taking over, and what it writes.
#include "sandbox/cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace isobar::sandbox {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class CgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/cgroup";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_ + "/svc").c_str(), 0755), 0);
    Write(dir_.path() + "/mountinfo",
          absl::StrCat("24 1 0:22 / /proc rw - proc proc rw\n", "36 25 0:31 / ", root_,
                       " rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"));
    Write(dir_.path() + "/self", "0::/svc\n");
    Write(root_ + "/svc/cgroup.controllers", "cpu memory pids\n");
    Write(root_ + "/svc/cgroup.subtree_control", "");
  }
  absl::StatusOr<WorkerCgroups> Open() { return WorkerCgroups::Open(dir_.path() + "/mountinfo", dir_.path() + "/self"); }

  testing::TempDir dir_;
  std::string root_;
};

TEST_F(CgroupsTest, TakesOverADelegatedCgroupAndPlacesWorkers) {
  absl::StatusOr<WorkerCgroups> cgroups = Open();
  ASSERT_TRUE(cgroups.ok()) << cgroups.status();
  EXPECT_EQ(cgroups->directory(), root_ + "/svc");
  EXPECT_EQ(Read(root_ + "/svc/isobar-supervisor/cgroup.procs"), absl::StrCat(getpid()));
  EXPECT_EQ(Read(root_ + "/svc/cgroup.subtree_control"), "+memory +pids");
  ASSERT_TRUE(cgroups->Place(3, 4242, {.memory_max = 1 << 20, .pids_max = 16}).ok());
  EXPECT_EQ(Read(root_ + "/svc/isobar-worker-3/memory.max"), "1048576");
  EXPECT_EQ(Read(root_ + "/svc/isobar-worker-3/pids.max"), "16");
  EXPECT_EQ(Read(root_ + "/svc/isobar-worker-3/cgroup.procs"), "4242");
}

TEST_F(CgroupsTest, RefusesWithoutTheControllersOrACgroup2Mount) {
  Write(root_ + "/svc/cgroup.controllers", "cpu pids\n");
  absl::StatusOr<WorkerCgroups> cgroups = Open();
  EXPECT_EQ(cgroups.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(cgroups.status().message().find("memory controller is not delegated"), std::string::npos);
  Write(dir_.path() + "/mountinfo", "24 1 0:22 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(Open().status().code(), absl::StatusCode::kNotFound);  // cgroup v1 only
}

}  // namespace
}  // namespace isobar::sandbox
