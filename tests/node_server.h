// A test's outside server: a Node script from tests/clients/ that listens on an ephemeral port of
// 127.0.0.1 and prints "port N" once it does (fetch_peer_server.js, oidc_issuer.js). Killed with the
// object (and with the test, should it die first).
#ifndef ISOBAR_TESTS_NODE_SERVER_H_
#define ISOBAR_TESTS_NODE_SERVER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/process.h"

namespace isobar::testing {

class NodeServer {
 public:
  // `script`: a path under tests/clients/.
  explicit NodeServer(const std::string& script);
  // Any script of the runfiles (`runfile`, as for Runfile()) with `args`, finding npm packages in
  // @npm_deps (NODE_PATH).
  NodeServer(const std::string& runfile, const std::vector<std::string>& args);
  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>"
  std::string url(absl::string_view path = "") const;

 private:
  void Start(std::vector<std::string> argv, std::optional<std::vector<std::string>> env);

  ChildProcess child_;
  int port_ = 0;
};

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_NODE_SERVER_H_
