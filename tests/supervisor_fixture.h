// Runs a real supervisor process for integration tests and benchmarks: embedded PostgreSQL in a fresh
// temporary data directory, real worker processes under the real seccomp filter, real gRPC.
//
//   SupervisorProcess supervisor({.workers = 2, .enable_eval = true});
//   ASSERT_TRUE(supervisor.Start().ok());
//   grpc::ClientContext context;
//   supervisor.Authorize(context);
//   supervisor.admin().Ping(&context, {}, &response);
//
// Start() returns once the supervisor prints its ready line. Its stderr goes to a log file that tests
// can read (log()). The destructor stops it with SIGTERM and waits.
#ifndef ISOBAR_TESTS_SUPERVISOR_FIXTURE_H_
#define ISOBAR_TESTS_SUPERVISOR_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/process.h"
#include "base/testing/temp_dir.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"

namespace isobar::testing {

struct SupervisorOptions {
  int workers = 2;
  bool enable_eval = true;
  // Use the test worker (with test-only operations) instead of the production worker.
  bool test_worker = false;
  std::string sandbox = "kill";
  std::vector<std::string> extra_args;
  // The supervisor executable; empty: the one built here (its runfile).
  std::string binary;
};

class SupervisorProcess {
 public:
  explicit SupervisorProcess(SupervisorOptions options);
  ~SupervisorProcess();

  absl::Status Start();
  // SIGTERM and wait; the exit status.
  absl::StatusOr<ExitStatus> Stop();
  // SIGKILL and wait: a crash. Start() again restarts it on the same data directory, with the same
  // HTTP and site URLs.
  absl::StatusOr<ExitStatus> Kill();

  const std::string& address() const { return address_; }
  // The HTTP listener's base URL ("http://127.0.0.1:PORT"), for Convex clients; a deployment's client
  // URL is <http_url>/d/<name>.
  const std::string& http_url() const { return http_url_; }
  // Its port (for raw HTTP clients on loopback).
  int http_port() const;
  // The HTTP actions' base URL; a deployment's site URL is <site_url>/d/<name>.
  const std::string& site_url() const { return site_url_; }
  pid_t pid() const { return process_.pid(); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& admin_key() const { return admin_key_; }
  // The embedded PostgreSQL's connection string.
  std::string pg_conninfo() const;
  // Everything the supervisor (and its workers) wrote to stderr so far.
  std::string log() const;

  isobar::v1::Admin::Stub& admin() { return *admin_; }
  void Authorize(grpc::ClientContext& context) const;

  // Conveniences over Admin.
  // `detail` (optional) receives the error's ErrorDetail (empty on success).
  grpc::Status Eval(const std::string& source, isobar::v1::EvalResponse* response, uint32_t timeout_ms = 0,
                    isobar::v1::ErrorDetail* detail = nullptr);
  absl::StatusOr<isobar::v1::StatsResponse> Stats();
  // A Push of the modules of a convex_bundle (tests/apps/defs.bzl), given by its runfile path, to
  // deployment `name` (tests may change it before sending it).
  static absl::StatusOr<isobar::v1::PushRequest> BundlePush(const std::string& name, const std::string& bundle_runfile);
  // Creates deployment `name` and pushes the modules of a convex_bundle (tests/apps/defs.bzl) given by
  // its runfile path ("tests/apps/chat.modules"); returns the deployment's API key (and, if asked,
  // its admin key).
  absl::StatusOr<std::string> Deploy(const std::string& name, const std::string& bundle_runfile,
                                     std::string* deployment_admin_key = nullptr,
                                     isobar::v1::ContextPolicy policy = isobar::v1::CONTEXT_POLICY_DEFAULT);
  // Polls Stats until `predicate` holds or `timeout` passes; the last Stats.
  absl::StatusOr<isobar::v1::StatsResponse> AwaitStats(
      const std::function<bool(const isobar::v1::StatsResponse&)>& predicate, absl::Duration timeout);

 private:
  SupervisorOptions options_;
  TempDir dir_;
  std::string data_dir_;
  std::string log_path_;
  ChildProcess process_;
  std::string address_;
  std::string http_url_;
  std::string site_url_;
  std::string admin_key_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<isobar::v1::Admin::Stub> admin_;
};

// What a shell command printed on stdout, and its exit status (as from pclose).
struct ShellResult {
  int status = -1;
  std::string out;
};
ShellResult RunShell(const std::string& command);

// The ErrorDetail a failed call carried in its "isobar-error-bin" trailer (empty if none).
isobar::v1::ErrorDetail ErrorDetailOf(const grpc::ClientContext& context);

// One call of isobar.v1.Functions, as any client makes it.
enum class CallKind { kQuery, kMutation, kAction };
struct FunctionCall {
  std::string deployment;
  std::string key;  // sent as "authorization: Bearer <key>"
  std::string path;
  std::string args_json = "{}";
  std::string identity_json;
  std::string idempotency_key;
  absl::Duration timeout = absl::InfiniteDuration();  // the call's deadline, from now
};
struct FunctionResult {
  grpc::Status status;
  isobar::v1::FunctionResponse response;
  isobar::v1::ErrorDetail detail;  // of a failure (empty on success)
};
FunctionResult CallFunction(isobar::v1::Functions::Stub& stub, CallKind kind, const FunctionCall& call);

// The absolute path of a file in this binary's Bazel runfiles ("supervisor/supervisor").
std::string Runfile(const std::string& path);

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_SUPERVISOR_FIXTURE_H_
