// The relocatable install (issue 21, item 5): deploy's tarball, unpacked and then moved to another
// directory, runs from there: its worker finds libnode beside it (no LD_LIBRARY_PATH), a supervisor
// started from the copy serves a deployed app's calls in its sandboxed workers, and the copy's
// isobarctl reaches it. The service files it carries pass their checks: `systemd-analyze verify` on
// the unit as installed, and the Kubernetes manifests (tests/k8s_manifests_check.py).
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Unpacked in one place, then moved: nothing may point back at where it was built or unpacked.
    root_ = std::string(absl::StripSuffix(::testing::TempDir(), "/")) + "/install";
    const std::string unpacked = root_ + "/unpacked";
    ShellResult unpack = RunShell(absl::StrCat("rm -rf ", root_, " && mkdir -p ", unpacked, " && tar -xzf ",
                                               Runfile("deploy/isobar.tar.gz"), " -C ", unpacked, " && mv ", unpacked,
                                               "/isobar ", root_, "/elsewhere && rmdir ", unpacked, " 2>&1"));
    ASSERT_EQ(unpack.status, 0) << unpack.out;
    prefix_ = root_ + "/elsewhere";
  }

  std::string root_;
  std::string prefix_;
};

TEST_F(InstallTest, ACopyElsewhereRunsAndServes) {
  ShellResult libraries = RunShell(absl::StrCat("env -u LD_LIBRARY_PATH ldd ", prefix_, "/bin/worker ", prefix_,
                                                "/bin/supervisor ", prefix_, "/bin/isobarctl 2>&1"));
  ASSERT_EQ(libraries.status, 0) << libraries.out;
  EXPECT_THAT(libraries.out, HasSubstr(absl::StrCat("libnode.so.108 => ", prefix_, "/bin/../lib/isobar/libnode.so.108")));
  EXPECT_THAT(libraries.out, Not(HasSubstr("not found")));
  EXPECT_THAT(libraries.out, Not(HasSubstr("_solib")));  // nothing of the build tree
  ShellResult help = RunShell(absl::StrCat("cd / && ", prefix_, "/bin/supervisor --help 2>&1"));
  EXPECT_EQ(help.status, 0) << help.out;

  SupervisorProcess supervisor({.workers = 1, .binary = prefix_ + "/bin/supervisor"});
  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  absl::StatusOr<std::string> key = supervisor.Deploy("installed", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  auto stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  FunctionResult sent = CallFunction(*stub, CallKind::kMutation,
                                     {.deployment = "installed", .key = *key, .path = "messages:send",
                                      .args_json = R"({"channel":"c","author":"a","body":"from the copy"})"});
  ASSERT_TRUE(sent.status.ok()) << sent.status.error_message() << "\n" << supervisor.log();
  FunctionResult got = CallFunction(*stub, CallKind::kQuery,
                                    {.deployment = "installed", .key = *key, .path = "messages:get",
                                     .args_json = absl::StrCat(R"({"id":)", sent.response.result_json(), "}")});
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_THAT(got.response.result_json(), HasSubstr("from the copy"));
  // The workers are the copy's, sandboxed as usual.
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->workers_size(), 1);
  EXPECT_THAT(stats->workers(0).sandbox(), ::testing::Contains("seccomp"));
  ShellResult worker_exe = RunShell(absl::StrCat("readlink /proc/", stats->workers(0).pid(), "/exe"));
  EXPECT_THAT(worker_exe.out, HasSubstr(prefix_ + "/bin/worker"));

  ShellResult ping = RunShell(absl::StrCat("cd / && ISOBAR_ADMIN_KEY=", supervisor.admin_key(), " ", prefix_,
                                           "/bin/isobarctl --url=", supervisor.address(), " ping 2>&1"));
  EXPECT_EQ(ping.status, 0) << ping.out;
}

TEST_F(InstallTest, TheServiceFilesPassTheirChecks) {
  // The unit as it would be installed: its paths pointed at this copy (verify checks the executable).
  const std::string unit = root_ + "/isobar.service";
  ShellResult placed = RunShell(absl::StrCat("sed 's|/opt/isobar|", prefix_, "|g' ", prefix_,
                                             "/share/isobar/isobar.service > ", unit, " 2>&1"));
  ASSERT_EQ(placed.status, 0) << placed.out;
  ShellResult verify = RunShell(absl::StrCat("systemd-analyze verify ", unit, " 2>&1"));
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_EQ(verify.out, "") << "systemd-analyze has warnings";
  ShellResult security = RunShell(absl::StrCat("systemd-analyze security --offline=true --threshold=50 ", unit, " 2>&1"));
  EXPECT_EQ(security.status, 0) << security.out;  // exposure 5.0 or better

  ShellResult manifests = RunShell(absl::StrCat("/usr/bin/python3 ", Runfile("tests/k8s_manifests_check.py"), " ",
                                                prefix_, "/share/isobar/k8s ", prefix_, "/share/isobar/Containerfile ",
                                                prefix_, "/bin ", prefix_, "/lib/isobar 2>&1"));
  EXPECT_EQ(manifests.status, 0) << manifests.out;
}

}  // namespace
}  // namespace isobar::testing
