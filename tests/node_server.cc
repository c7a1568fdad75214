#include "tests/node_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {

NodeServer::NodeServer(const std::string& script) {
  Start({"/usr/bin/node", Runfile(absl::StrCat("tests/clients/", script))}, std::nullopt);
}

NodeServer::NodeServer(const std::string& runfile, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/node", Runfile(runfile)};
  argv.insert(argv.end(), args.begin(), args.end());
  // Runfile("..") is <runfiles>, where @npm_deps' node_modules are.
  Start(std::move(argv), std::vector<std::string>{"NODE_PATH=" + Runfile("../npm_deps/node_modules"), "PATH=/usr/bin:/bin"});
}

void NodeServer::Start(std::vector<std::string> argv, std::optional<std::vector<std::string>> env) {
  const std::string script = argv[1];
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = std::move(argv);
  options.env = std::move(env);
  options.stdout_fd = fds[1];
  options.parent_death_signal = SIGKILL;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  close(fds[1]);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) {
    close(fds[0]);
    return;
  }
  child_ = *std::move(child);
  // Its first line, within 10 s.
  std::string line;
  pollfd readable{fds[0], POLLIN, 0};
  char c;
  while (line.find('\n') == std::string::npos && poll(&readable, 1, 10000) == 1 && read(fds[0], &c, 1) == 1) line += c;
  close(fds[0]);
  absl::string_view port = absl::StripAsciiWhitespace(line);
  EXPECT_TRUE(absl::ConsumePrefix(&port, "port ") && absl::SimpleAtoi(port, &port_)) << script << " said: " << line;
}

NodeServer::~NodeServer() {
  (void)child_.Signal(SIGKILL);
  (void)child_.Wait(absl::Seconds(5));
}

std::string NodeServer::url(absl::string_view path) const { return absl::StrCat("http://127.0.0.1:", port_, path); }

}  // namespace isobar::testing
