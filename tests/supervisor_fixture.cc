#include "tests/supervisor_fixture.h"

#include "tests/module_bundle.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace isobar::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string Runfile(const std::string& path) {
  // Bazel runs tests and `bazel run` binaries from <runfiles>/<workspace>. Read once: the syscall
  // census calls this under a seccomp filter that refuses getcwd.
  static const std::string* root = [] {
    char cwd[4096];
    return new std::string(getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : ".");
  }();
  return absl::StrCat(*root, "/", path);
}

SupervisorProcess::SupervisorProcess(SupervisorOptions options) : options_(std::move(options)) {
  data_dir_ = dir_.path() + "/data";
  log_path_ = dir_.path() + "/supervisor.log";
}

SupervisorProcess::~SupervisorProcess() {
  if (process_.running()) {
    const absl::Time start = absl::Now();
    absl::StatusOr<ExitStatus> stopped = Stop();
    // A supervisor that would not stop cleanly (or quickly) is a bug to chase: say so, with its log.
    if (!stopped.ok() || !stopped->Success() || absl::Now() - start > absl::Seconds(20)) {
      std::fprintf(stderr, "supervisor fixture: stopping took %s and ended %s; its log:\n%s\n",
                   absl::FormatDuration(absl::Now() - start).c_str(),
                   stopped.ok() ? stopped->ToString().c_str() : stopped.status().ToString().c_str(), log().c_str());
    }
  }
}

absl::Status SupervisorProcess::Start() {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  SpawnOptions spawn;
  spawn.argv = {options_.binary.empty() ? Runfile("supervisor/supervisor") : options_.binary, "--data-dir=" + data_dir_, "--listen=127.0.0.1:0",
                absl::StrCat("--workers=", options_.workers), "--sandbox=" + options_.sandbox};
  // A restart keeps the HTTP listeners' addresses, as a real one does: clients reconnect to the URLs
  // they have. (The gRPC port is new each time; address() tells it.)
  if (!http_url_.empty()) spawn.argv.push_back("--http-listen=" + http_url_.substr(http_url_.find("://") + 3));
  if (!site_url_.empty()) spawn.argv.push_back("--site-listen=" + site_url_.substr(site_url_.find("://") + 3));
  if (options_.enable_eval) spawn.argv.push_back("--enable-eval");
  if (options_.test_worker) spawn.argv.push_back("--worker-binary=" + Runfile("tests/test_worker"));
  spawn.argv.insert(spawn.argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  spawn.stdout_fd = out[1];
  spawn.stderr_fd = log_fd;
  spawn.parent_death_signal = SIGTERM;
  absl::StatusOr<ChildProcess> child = Spawn(spawn);
  close(out[1]);
  close(log_fd);
  if (!child.ok()) {
    close(out[0]);
    return child.status();
  }
  process_ = std::move(*child);

  // Wait for "isobar supervisor ready: ADDRESS\n" on its stdout (or its exit, or 120 s).
  std::string output;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!absl::StrContains(output, "\n")) {
    struct pollfd pfd = {out[0], POLLIN, 0};
    int left_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0) break;
    char buffer[512];
    ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  close(out[0]);
  constexpr absl::string_view kReady = "isobar supervisor ready: ";
  if (!absl::StartsWith(output, kReady)) {
    return absl::UnavailableError(absl::StrCat("the supervisor did not start; its log:\n", log()));
  }
  address_ = std::string(absl::StripAsciiWhitespace(output.substr(kReady.size())));
  std::string admin_key_file = data_dir_ + "/admin_key";
  for (const std::string& arg : options_.extra_args) {
    if (absl::StartsWith(arg, "--admin-key-file=")) admin_key_file = arg.substr(arg.find('=') + 1);
  }
  admin_key_ = std::string(absl::StripAsciiWhitespace(ReadFile(admin_key_file)));
  http_url_ = std::string(absl::StripAsciiWhitespace(ReadFile(data_dir_ + "/http_url")));
  site_url_ = std::string(absl::StripAsciiWhitespace(ReadFile(data_dir_ + "/site_url")));
  channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  admin_ = isobar::v1::Admin::NewStub(channel_);
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> SupervisorProcess::Stop() {
  if (absl::Status sent = process_.Signal(SIGTERM); !sent.ok()) return sent;
  absl::StatusOr<std::optional<ExitStatus>> status = process_.Wait(absl::Seconds(60));
  if (!status.ok()) return status.status();
  if (!status->has_value()) return process_.Kill();
  return **status;
}

absl::StatusOr<ExitStatus> SupervisorProcess::Kill() { return process_.Kill(); }

int SupervisorProcess::http_port() const {
  int port = 0;
  return absl::SimpleAtoi(http_url_.substr(http_url_.rfind(':') + 1), &port) ? port : 0;
}

std::string SupervisorProcess::pg_conninfo() const {
  return absl::StrCat("host=", data_dir_, "/pgrun port=5432 user=isobar dbname=isobar");
}

std::string SupervisorProcess::log() const { return ReadFile(log_path_); }

void SupervisorProcess::Authorize(grpc::ClientContext& context) const {
  context.AddMetadata("authorization", "Bearer " + admin_key_);
}

grpc::Status SupervisorProcess::Eval(const std::string& source, isobar::v1::EvalResponse* response,
                                     uint32_t timeout_ms, isobar::v1::ErrorDetail* detail) {
  grpc::ClientContext context;
  Authorize(context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  isobar::v1::EvalRequest request;
  request.set_source(source);
  request.set_timeout_ms(timeout_ms);
  grpc::Status status = admin_->Eval(&context, request, response);
  if (detail != nullptr) *detail = ErrorDetailOf(context);
  return status;
}

ShellResult RunShell(const std::string& command) {
  ShellResult shell;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return shell;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) shell.out.append(buffer, n);
  shell.status = pclose(pipe);
  return shell;
}

FunctionResult CallFunction(isobar::v1::Functions::Stub& stub, CallKind kind, const FunctionCall& call) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", call.key));
  if (call.timeout != absl::InfiniteDuration()) context.set_deadline(absl::ToChronoTime(absl::Now() + call.timeout));
  isobar::v1::FunctionRequest request;
  request.set_deployment(call.deployment);
  request.set_path(call.path);
  request.set_args_json(call.args_json);
  request.set_identity_json(call.identity_json);
  request.set_idempotency_key(call.idempotency_key);
  FunctionResult result;
  switch (kind) {
    case CallKind::kQuery:
      result.status = stub.Query(&context, request, &result.response);
      break;
    case CallKind::kMutation:
      result.status = stub.Mutation(&context, request, &result.response);
      break;
    case CallKind::kAction:
      result.status = stub.Action(&context, request, &result.response);
      break;
  }
  if (!result.status.ok()) result.detail = ErrorDetailOf(context);
  return result;
}

isobar::v1::ErrorDetail ErrorDetailOf(const grpc::ClientContext& context) {
  isobar::v1::ErrorDetail detail;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("isobar-error-bin");
  if (it != trailers.end()) detail.ParseFromString(std::string(it->second.data(), it->second.size()));
  return detail;
}

absl::StatusOr<isobar::v1::PushRequest> SupervisorProcess::BundlePush(const std::string& name,
                                                                       const std::string& bundle_runfile) {
  absl::StatusOr<std::vector<isobar::worker::v1::Module>> bundle = ReadModuleBundle(Runfile(bundle_runfile));
  if (!bundle.ok()) return bundle.status();
  absl::StatusOr<std::map<std::string, std::string>> maps = ReadModuleBundleSourceMaps(Runfile(bundle_runfile));
  if (!maps.ok()) return maps.status();
  isobar::v1::PushRequest push;
  push.set_deployment(name);
  for (const auto& module : *bundle) {
    isobar::v1::PushModule* out = push.add_modules();
    out->set_path(module.path());
    out->set_source(module.source());
    if (auto map = maps->find(module.path()); map != maps->end()) out->set_source_map(map->second);
  }
  return push;
}

absl::StatusOr<std::string> SupervisorProcess::Deploy(const std::string& name, const std::string& bundle_runfile,
                                                     std::string* deployment_admin_key, isobar::v1::ContextPolicy policy) {
  absl::StatusOr<isobar::v1::PushRequest> push = BundlePush(name, bundle_runfile);
  if (!push.ok()) return push.status();
  push->set_context_policy(policy);
  auto deployments = isobar::v1::Deployments::NewStub(channel_);
  isobar::v1::CreateDeploymentResponse created;
  {
    grpc::ClientContext context;
    Authorize(context);
    isobar::v1::CreateDeploymentRequest request;
    request.set_name(name);
    grpc::Status status = deployments->CreateDeployment(&context, request, &created);
    if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  grpc::ClientContext context;
  Authorize(context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  isobar::v1::PushResponse pushed;
  grpc::Status status = deployments->Push(&context, *push, &pushed);
  if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (deployment_admin_key != nullptr) *deployment_admin_key = created.admin_key();
  return created.api_key();
}

absl::StatusOr<isobar::v1::StatsResponse> SupervisorProcess::Stats() {
  grpc::ClientContext context;
  Authorize(context);
  isobar::v1::StatsResponse response;
  grpc::Status status = admin_->Stats(&context, isobar::v1::StatsRequest(), &response);
  if (!status.ok()) return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  return response;
}

absl::StatusOr<isobar::v1::StatsResponse> SupervisorProcess::AwaitStats(
    const std::function<bool(const isobar::v1::StatsResponse&)>& predicate, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<isobar::v1::StatsResponse> stats = Stats();
    if (!stats.ok() || predicate(*stats)) return stats;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("condition not reached; last stats: ", stats->DebugString()));
    }
    // The pool has no change notification for clients: probe at a short interval until the condition.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace isobar::testing
