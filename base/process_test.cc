#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(ProcessTest, ExitCodeIsReported) {
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "exit 3"};
  absl::StatusOr<ChildProcess> child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::optional<ExitStatus>> status = child->Wait(absl::InfiniteDuration());
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->has_value());
  EXPECT_TRUE((*status)->exited);
  EXPECT_EQ((*status)->code, 3);
  EXPECT_EQ((*status)->ToString(), "exit code 3");
  EXPECT_FALSE(child->running());
}

TEST(ProcessTest, MissingBinaryFailsInSpawn) {
  SpawnOptions options;
  options.argv = {"/nonexistent/isobar-binary"};
  absl::StatusOr<ChildProcess> child = Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("execve"), std::string::npos) << child.status();
}

TEST(ProcessTest, WaitTimesOutWhileRunningAndKillReaps) {
  SpawnOptions options;
  options.argv = {"/bin/sleep", "600"};
  absl::StatusOr<ChildProcess> child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::optional<ExitStatus>> status = child->Wait(absl::Milliseconds(20));
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->has_value());
  absl::StatusOr<ExitStatus> killed = child->Kill();
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_FALSE(killed->exited);
  EXPECT_EQ(killed->signal, SIGKILL);
  EXPECT_EQ(killed->ToString(), "signal 9 (SIGKILL)");
}

// Only the fds we pass exist in the child: an fd the parent holds without close-on-exec is closed.
TEST(ProcessTest, OnlyRequestedFdsAreInherited) {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately not O_CLOEXEC
  ASSERT_GE(leaked, 0);
  int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = {"/bin/ls", "-1v", "/proc/self/fd"};
  options.stdout_fd = out[1];
  options.extra_fds = {{passed, 7}};
  absl::StatusOr<ChildProcess> child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ::close(out[1]);
  std::string listing = ReadAll(out[0]);
  ::close(out[0]);
  ASSERT_TRUE(child->Wait(absl::InfiniteDuration()).ok());
  // 0, 1, 2, 7, plus the fd `ls` opens for /proc/self/fd itself (3).
  EXPECT_EQ(listing, "0\n1\n2\n3\n7\n");
  ::close(leaked);
  ::close(passed);
}

}  // namespace
}  // namespace isobar
