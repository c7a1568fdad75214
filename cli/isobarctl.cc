// isobarctl: the command-line client.
//
//   isobarctl ping                 round trip to Admin.Ping
//   isobarctl eval '1 + 2'         evaluate an expression in a worker (supervisor --enable-eval)
//   isobarctl stats                the worker pool
//   isobarctl deployments create NAME   a new deployment; prints its API key (shown once)
//   isobarctl deployments get NAME      a deployment's summary
//   isobarctl deployments set-file-quota NAME BYTES|default   (the server's admin key)
//   isobarctl egress get|reset NAME     where a deployment's actions may fetch (the server's admin key)
//   isobarctl egress set NAME POLICY_JSON   e.g. '{"allow":["10.1.0.0/16"],"ports":[443,8443]}'
//   isobarctl env set NAME VALUE        an environment variable of --deployment / $ISOBAR_DEPLOYMENT
//   isobarctl env list                  its environment variables
//   isobarctl logs                      function log lines as they happen (--deployment narrows)
//   isobarctl deploy [DIR]              bundle DIR (default ./convex) as the Convex CLI does and push it
//                                       to --deployment; prints the functions
//   isobarctl run PATH [ARGS_JSON]      run a function of --deployment ("messages:list", '{"channel":"a"}';
//                                       internal ones too: it uses the admin key); the result as Convex
//                                       JSON on stdout, its log lines on stderr; --identity='{...}' runs it
//                                       as that user (tokenIdentifier, or issuer and subject, and claims)
//   isobarctl watch PATH [ARGS_JSON]    subscribe to a query of --deployment: its value (Convex JSON) on
//                                       stdout each time it changes, until interrupted or --transitions
//
// Where: --url / ISOBAR_URL, else the local development server's <data-dir>/url, where <data-dir> is
// --data-dir / ISOBAR_DATA_DIR / ./isobar-data. The admin key: ISOBAR_ADMIN_KEY, else <data-dir>/admin_key.
// Results go to stdout; errors go to stderr as "error: <CODE>: <message>" with exit status 1.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/flags.h"
#include "cli/bundle.h"
#include "cli/function_path.h"
#include "cli/snapshot_zip.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"

namespace isobar::cli {
namespace {

constexpr char kCodeNames[][20] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
                                   "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                   "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                                   "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0' ? value : fallback;
}

// Prints the error, with the user's stack and ConvexError data from its ErrorDetail when there are.
int Fail(const grpc::Status& status, const grpc::ClientContext& context) {
  int code = static_cast<int>(status.error_code());
  std::fprintf(stderr, "error: %s: %s\n", code >= 0 && code <= 16 ? kCodeNames[code] : "?",
               status.error_message().c_str());
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("isobar-error-bin");
  isobar::v1::ErrorDetail detail;
  if (it != trailers.end() && detail.ParseFromString(std::string(it->second.data(), it->second.size()))) {
    if (!detail.convex_error_data_json().empty()) {
      std::fprintf(stderr, "ConvexError data: %s\n", detail.convex_error_data_json().c_str());
    }
    if (!detail.stack().empty()) std::fprintf(stderr, "%s\n", detail.stack().c_str() + 1);  // after its leading newline
    if (detail.retryable()) std::fprintf(stderr, "(this may succeed if tried again)\n");
  }
  return 1;
}

int Main(int argc, char** argv) {
  std::string url, data_dir, timeout_ms_text, deployment_name, esbuild, node_path, contexts, identity, tls_ca;
  int timeout_ms = 0;
  int transitions = 0;
  bool no_files = false;
  FlagSet flags(
      "isobarctl [--url=HOST:PORT] [--data-dir=DIR] ping | eval EXPRESSION | stats | deployments create|get NAME | "
      "egress get|set|reset NAME | export NAME FILE.zip | import NAME FILE.zip");
  flags.String("url", &url, "the supervisor's address (default: $ISOBAR_URL, else <data-dir>/url)");
  flags.String("data-dir", &data_dir, "a local development server's data directory (default: $ISOBAR_DATA_DIR or ./isobar-data)");
  flags.String("tls-ca", &tls_ca,
               "the CA certificate (PEM) that signed a TLS supervisor's certificate (its --tls-cert); "
               "default: $ISOBAR_TLS_CA; empty: plaintext");
  flags.Int("timeout-ms", &timeout_ms, "eval: CPU budget in milliseconds (0: the server's default)");
  flags.String("deployment", &deployment_name, "the deployment deploy, env and logs act on (default: $ISOBAR_DEPLOYMENT)");
  flags.String("esbuild", &esbuild, "deploy: the esbuild binary (default: $ISOBAR_ESBUILD, else deploy/bootstrap's)");
  flags.String("identity", &identity,
               "run: act as this user, a UserIdentity as JSON ('{\"tokenIdentifier\":\"https://issuer|ann\",...}' or "
               "issuer and subject); the admin key's privilege");
  flags.Int("transitions", &transitions, "watch: stop after this many changes (0: never)");
  flags.Bool("no-files", &no_files, "export: leave stored files (_storage) out");
  flags.String("contexts", &contexts,
               "deploy: fresh (a new V8 context per call, the default) or warm (contexts and module state "
               "reused between calls; faster); empty: the server's --contexts");
  flags.String("node-path", &node_path, "deploy: where the convex package is (default: $NODE_PATH, else DIR/../node_modules, else deploy/bootstrap's)");
  absl::StatusOr<std::vector<std::string>> args = flags.Parse(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    return absl::IsNotFound(args.status()) ? 0 : 2;
  }
  if (args->empty()) {
    std::fprintf(stderr, "%s", flags.Usage().c_str());
    return 2;
  }
  if (data_dir.empty()) data_dir = EnvOr("ISOBAR_DATA_DIR", "./isobar-data");
  if (url.empty()) url = EnvOr("ISOBAR_URL", ReadTrimmed(data_dir + "/url"));
  if (url.empty()) {
    std::fprintf(stderr, "error: no server address: pass --url, set ISOBAR_URL, or start one with deploy/up\n");
    return 2;
  }
  const std::string key = EnvOr("ISOBAR_ADMIN_KEY", ReadTrimmed(data_dir + "/admin_key"));

  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls_ca.empty()) tls_ca = EnvOr("ISOBAR_TLS_CA", "");
  if (!tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadTrimmed(tls_ca);
    if (tls.pem_root_certs.empty()) {
      std::fprintf(stderr, "error: --tls-ca %s: cannot read it\n", tls_ca.c_str());
      return 2;
    }
    credentials = grpc::SslCredentials(tls);
  }
  auto channel = grpc::CreateChannel(url, credentials);
  auto admin = isobar::v1::Admin::NewStub(channel);
  grpc::ClientContext context;
  if (!key.empty()) context.AddMetadata("authorization", "Bearer " + key);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  const std::string& command = (*args)[0];
  if (command == "ping") {
    isobar::v1::PingResponse response;
    grpc::Status status = admin->Ping(&context, isobar::v1::PingRequest(), &response);
    if (!status.ok()) return Fail(status, context);
    std::printf("pong from %s\n", url.c_str());
    return 0;
  }
  if (command == "eval") {
    if (args->size() != 2) {
      std::fprintf(stderr, "usage: isobarctl eval EXPRESSION\n");
      return 2;
    }
    isobar::v1::EvalRequest request;
    request.set_source((*args)[1]);
    request.set_timeout_ms(static_cast<uint32_t>(timeout_ms));
    isobar::v1::EvalResponse response;
    grpc::Status status = admin->Eval(&context, request, &response);
    if (!status.ok()) return Fail(status, context);
    for (const auto& line : response.log_lines()) {
      std::fprintf(stderr, "[%s] %s\n", line.level().c_str(), line.message().c_str());
    }
    std::printf("%s\n", response.result_json().empty() ? "undefined" : response.result_json().c_str());
    return 0;
  }
  if (command == "deployments") {
    const bool quota = args->size() == 4 && (*args)[1] == "set-file-quota";
    if (!quota && (args->size() != 3 || ((*args)[1] != "create" && (*args)[1] != "get"))) {
      std::fprintf(stderr, "usage: isobarctl deployments create|get NAME | set-file-quota NAME BYTES|default\n");
      return 2;
    }
    auto deployments = isobar::v1::Deployments::NewStub(channel);
    isobar::v1::Deployment deployment;
    if ((*args)[1] == "create") {
      isobar::v1::CreateDeploymentRequest request;
      request.set_name((*args)[2]);
      isobar::v1::CreateDeploymentResponse response;
      grpc::Status status = deployments->CreateDeployment(&context, request, &response);
      if (!status.ok()) return Fail(status, context);
      std::fprintf(stderr, "deployment %s created; its API key (shown once, keep it):\n", response.deployment().name().c_str());
      std::printf("%s\n", response.api_key().c_str());
      std::fflush(stdout);
      std::fprintf(stderr, "and its own admin key (pushes, environment, internal functions of this deployment only; "
                           "shown once):\n%s\n", response.admin_key().c_str());
      if (!response.deployment().client_url().empty()) {
        std::fprintf(stderr, "Convex clients connect to %s\n", response.deployment().client_url().c_str());
      }
      return 0;
    }
    grpc::Status status;
    if (quota) {
      isobar::v1::SetLimitsRequest request;
      request.set_deployment((*args)[2]);
      int64_t bytes = -1;
      if ((*args)[3] != "default" && (!absl::SimpleAtoi((*args)[3], &bytes) || bytes <= 0)) {
        std::fprintf(stderr, "set-file-quota wants a number of bytes above 0, or \"default\"\n");
        return 2;
      }
      request.set_file_quota_bytes(bytes);
      status = deployments->SetLimits(&context, request, &deployment);
    } else {
      isobar::v1::GetDeploymentRequest request;
      request.set_name((*args)[2]);
      status = deployments->GetDeployment(&context, request, &deployment);
    }
    if (!status.ok()) return Fail(status, context);
    std::printf("deployment %s: %u API key(s), %u table(s)\n", deployment.name().c_str(), deployment.api_keys(),
                deployment.tables());
    if (!deployment.client_url().empty()) std::printf("client URL: %s\n", deployment.client_url().c_str());
    if (!deployment.site_url().empty()) std::printf("site URL (HTTP actions): %s\n", deployment.site_url().c_str());
    std::printf("file storage: %llu of %llu bytes\n", static_cast<unsigned long long>(deployment.file_bytes()),
                static_cast<unsigned long long>(deployment.file_quota_bytes()));
    return 0;
  }
  if (command == "egress") {
    // The operator's per-deployment egress policy (isobar.v1.EgressPolicy as JSON).
    const bool get = args->size() == 3 && (*args)[1] == "get";
    const bool set = args->size() == 4 && (*args)[1] == "set";
    const bool reset = args->size() == 3 && (*args)[1] == "reset";
    if (!get && !set && !reset) {
      std::fprintf(stderr, "usage: isobarctl egress get NAME | set NAME POLICY_JSON | reset NAME\n"
                           "  POLICY_JSON e.g. '{\"allow\":[\"10.1.0.0/16\"],\"allowHosts\":[\"api.example.com\"],"
                           "\"ports\":[443,8443],\"maxConcurrent\":8,\"timeoutSeconds\":30}'\n");
      return 2;
    }
    auto deployments = isobar::v1::Deployments::NewStub(channel);
    isobar::v1::EgressPolicy policy;
    grpc::Status status;
    if (get) {
      isobar::v1::GetEgressRequest request;
      request.set_deployment((*args)[2]);
      status = deployments->GetEgress(&context, request, &policy);
    } else {
      isobar::v1::SetEgressRequest request;
      request.set_deployment((*args)[2]);
      request.set_reset(reset);
      if (set && !google::protobuf::util::JsonStringToMessage((*args)[3], request.mutable_policy()).ok()) {
        std::fprintf(stderr, "POLICY_JSON is not an egress policy (see isobar.v1.EgressPolicy in proto/isobar/v1/api.proto)\n");
        return 2;
      }
      status = deployments->SetEgress(&context, request, &policy);
    }
    if (!status.ok()) return Fail(status, context);
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(policy, &json, options);
    std::printf("%s", json.c_str());
    return 0;
  }
  if (command == "env") {
    if (deployment_name.empty()) deployment_name = EnvOr("ISOBAR_DEPLOYMENT", "");
    const bool set = args->size() == 4 && (*args)[1] == "set";
    const bool list = args->size() == 2 && (*args)[1] == "list";
    if ((!set && !list) || deployment_name.empty()) {
      std::fprintf(stderr, "usage: isobarctl --deployment=NAME env set VARIABLE VALUE | env list\n");
      return 2;
    }
    auto deployments = isobar::v1::Deployments::NewStub(channel);
    if (set) {
      isobar::v1::SetEnvRequest request;
      request.set_deployment(deployment_name);
      request.mutable_variable()->set_name((*args)[2]);
      request.mutable_variable()->set_value((*args)[3]);
      isobar::v1::SetEnvResponse response;
      grpc::Status status = deployments->SetEnv(&context, request, &response);
      if (!status.ok()) return Fail(status, context);
      std::fprintf(stderr, "%s set for %s\n", (*args)[2].c_str(), deployment_name.c_str());
      return 0;
    }
    isobar::v1::ListEnvRequest request;
    request.set_deployment(deployment_name);
    isobar::v1::ListEnvResponse response;
    grpc::Status status = deployments->ListEnv(&context, request, &response);
    if (!status.ok()) return Fail(status, context);
    for (const auto& variable : response.variables()) {
      std::printf("%s=%s\n", variable.name().c_str(), variable.value().c_str());
    }
    return 0;
  }
  if (command == "deploy") {
    if (deployment_name.empty()) deployment_name = EnvOr("ISOBAR_DEPLOYMENT", "");
    if (args->size() > 2 || deployment_name.empty()) {
      std::fprintf(stderr, "usage: isobarctl --deployment=NAME deploy [DIR]\n");
      return 2;
    }
    const std::string dir = args->size() == 2 ? (*args)[1] : "convex";
    if (!contexts.empty() && contexts != "fresh" && contexts != "warm") {
      std::fprintf(stderr, "error: --contexts is fresh or warm\n");
      return 2;
    }
    if (esbuild.empty()) esbuild = EnvOr("ISOBAR_ESBUILD", ".deps/npm/node_modules/@esbuild/linux-x64/bin/esbuild");
    if (node_path.empty()) node_path = EnvOr("NODE_PATH", "");
    if (node_path.empty()) {
      node_path = access((dir + "/../node_modules/convex").c_str(), F_OK) == 0 ? dir + "/../node_modules"
                                                                               : ".deps/npm/node_modules";
    }
    absl::StatusOr<std::vector<BundledModule>> modules = BundleConvexDir(dir, esbuild, node_path);
    if (!modules.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(modules.status().message()).c_str());
      return 1;
    }
    isobar::v1::PushRequest request;
    request.set_deployment(deployment_name);
    if (contexts == "fresh") {
      request.set_context_policy(isobar::v1::CONTEXT_POLICY_FRESH);
    } else if (contexts == "warm") {
      request.set_context_policy(isobar::v1::CONTEXT_POLICY_WARM);
    }
    for (const BundledModule& module : *modules) {
      isobar::v1::PushModule* out = request.add_modules();
      out->set_path(module.path);
      out->set_source(module.source);
      out->set_source_map(module.source_map);
    }
    isobar::v1::PushResponse response;
    grpc::Status status = isobar::v1::Deployments::NewStub(channel)->Push(&context, request, &response);
    if (!status.ok()) return Fail(status, context);
    std::fprintf(stderr, "deployed %zu modules to %s: version %ld\n", modules->size(), deployment_name.c_str(),
                 static_cast<long>(response.version()));
    for (const auto& function : response.functions()) {
      std::printf("%-10s %-9s %s\n", function.kind().c_str(), function.visibility().c_str(), function.path().c_str());
    }
    for (const auto& cron : response.crons()) {
      std::printf("%-10s %-9s %s -> %s %s\n", "cron", "", cron.name().c_str(), cron.function().c_str(),
                  cron.schedule_json().c_str());
    }
    return 0;
  }
  if (command == "run") {
    if (deployment_name.empty()) deployment_name = EnvOr("ISOBAR_DEPLOYMENT", "");
    if (args->size() < 2 || args->size() > 3 || deployment_name.empty()) {
      std::fprintf(stderr, "usage: isobarctl --deployment=NAME run PATH [ARGS_JSON]\n");
      return 2;
    }
    // Which kind of function PATH is: the deployment's function list says.
    isobar::v1::ListFunctionsRequest list;
    list.set_deployment(deployment_name);
    isobar::v1::ListFunctionsResponse functions;
    grpc::Status listed = isobar::v1::Deployments::NewStub(channel)->ListFunctions(&context, list, &functions);
    if (!listed.ok()) return Fail(listed, context);
    const std::string path = NormalizeFunctionPath((*args)[1]);
    std::string kind;
    for (const auto& function : functions.functions()) {
      if (function.path() == path) kind = function.kind();
    }
    if (kind.empty()) {
      std::fprintf(stderr, "error: NOT_FOUND: %s has no function %s (version %ld)\n", deployment_name.c_str(),
                   path.c_str(), static_cast<long>(functions.version()));
      return 1;
    }
    isobar::v1::FunctionRequest request;
    request.set_deployment(deployment_name);
    request.set_path(path);
    request.set_args_json(args->size() == 3 ? (*args)[2] : "{}");
    // Acting as a user (the admin key's privilege, as Convex's dashboard does).
    if (!identity.empty()) request.set_identity_json(identity);
    isobar::v1::FunctionResponse response;
    grpc::ClientContext call;
    if (!key.empty()) call.AddMetadata("authorization", "Bearer " + key);
    call.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(kind == "action" ? 11 : 2));
    auto stub = isobar::v1::Functions::NewStub(channel);
    grpc::Status status = kind == "query"      ? stub->Query(&call, request, &response)
                          : kind == "mutation" ? stub->Mutation(&call, request, &response)
                                               : stub->Action(&call, request, &response);
    for (const auto& line : response.log_lines()) {
      std::fprintf(stderr, "[%s] %s\n", line.level().c_str(), line.message().c_str());
    }
    if (!status.ok()) return Fail(status, call);
    std::printf("%s\n", response.result_json().c_str());
    return 0;
  }
  if (command == "watch") {
    if (deployment_name.empty()) deployment_name = EnvOr("ISOBAR_DEPLOYMENT", "");
    if (args->size() < 2 || args->size() > 3 || deployment_name.empty()) {
      std::fprintf(stderr, "usage: isobarctl --deployment=NAME watch PATH [ARGS_JSON]\n");
      return 2;
    }
    grpc::ClientContext watch_context;  // no deadline: until interrupted
    if (!key.empty()) watch_context.AddMetadata("authorization", "Bearer " + key);
    auto stream = isobar::v1::Functions::NewStub(channel)->Subscribe(&watch_context);
    isobar::v1::SubscribeRequest request;
    request.set_deployment(deployment_name);
    isobar::v1::AddQuery* add = request.add_changes()->mutable_add();
    add->set_query_id(1);
    add->set_path((*args)[1]);
    add->set_args_json(args->size() == 3 ? (*args)[2] : "{}");
    if (!stream->Write(request)) return Fail(stream->Finish(), watch_context);
    isobar::v1::Transition transition;
    int seen = 0;
    while (stream->Read(&transition)) {
      for (const auto& change : transition.modifications()) {
        const auto& lines = change.has_updated() ? change.updated().log_lines() : change.failed().log_lines();
        for (const auto& line : lines) std::fprintf(stderr, "[%s] %s\n", line.level().c_str(), line.message().c_str());
        if (change.has_updated()) std::printf("%s\n", change.updated().value_json().c_str());
        if (change.has_failed()) {
          std::printf("error: %s\n", change.failed().error().message().c_str());
        }
        std::fflush(stdout);
        if (++seen == transitions) {
          watch_context.TryCancel();
          stream->Finish();
          return 0;
        }
      }
    }
    return Fail(stream->Finish(), watch_context);
  }
  if (command == "logs") {
    grpc::ClientContext tail_context;  // no deadline: until interrupted
    if (!key.empty()) tail_context.AddMetadata("authorization", "Bearer " + key);
    isobar::v1::TailLogsRequest request;
    request.set_deployment(deployment_name.empty() ? EnvOr("ISOBAR_DEPLOYMENT", "") : deployment_name);
    std::unique_ptr<grpc::ClientReader<isobar::v1::LogEntry>> reader = admin->TailLogs(&tail_context, request);
    reader->WaitForInitialMetadata();  // the server sends it once the tail is subscribed (or refused)
    std::fprintf(stderr, "following the logs of %s (Ctrl-C ends)\n",
                 request.deployment().empty() ? "every deployment" : ("deployment " + request.deployment()).c_str());
    isobar::v1::LogEntry entry;
    while (reader->Read(&entry)) {
      std::printf("%s %s [%s] %s\n",
                  absl::FormatTime("%H:%M:%E3S", absl::FromUnixMillis(entry.unix_time_ms()), absl::UTCTimeZone()).c_str(),
                  entry.deployment().empty() ? entry.function().c_str()
                                             : absl::StrCat(entry.deployment(), "/", entry.function()).c_str(),
                  entry.level().c_str(), entry.message().c_str());
      std::fflush(stdout);
    }
    grpc::Status status = reader->Finish();
    return status.ok() ? 0 : Fail(status, tail_context);
  }
  if (command == "export") {
    // A Convex snapshot ZIP (npx convex import reads it), written to FILE.zip only once complete.
    if (args->size() != 3) {
      std::fprintf(stderr, "usage: isobarctl export DEPLOYMENT FILE.zip [--no-files]\n");
      return 2;
    }
    const std::string& path = (*args)[2];
    const std::string partial = path + ".partial";
    grpc::ClientContext export_context;  // no deadline: as long as the deployment's data takes
    if (!key.empty()) export_context.AddMetadata("authorization", "Bearer " + key);
    isobar::v1::ExportSnapshotRequest request;
    request.set_deployment((*args)[1]);
    request.set_skip_files(no_files);
    absl::StatusOr<std::unique_ptr<cli::SnapshotZipWriter>> zip = cli::SnapshotZipWriter::Create(partial);
    if (!zip.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(zip.status().message()).c_str());
      return 1;
    }
    auto reader = isobar::v1::Deployments::NewStub(channel)->ExportSnapshot(&export_context, request);
    isobar::v1::SnapshotPart part;
    absl::Status written;
    size_t entries = 0;
    uint64_t bytes = 0;
    while (written.ok() && reader->Read(&part)) {
      if (!part.path().empty()) {
        written = (*zip)->StartEntry(part.path());
        ++entries;
      }
      if (written.ok() && !part.data().empty()) written = (*zip)->Write(part.data());
      bytes += part.data().size();
    }
    if (!written.ok()) export_context.TryCancel();
    grpc::Status status = reader->Finish();
    if (written.ok() && status.ok()) written = (*zip)->Close();
    zip->reset();
    if (!status.ok() || !written.ok() || std::rename(partial.c_str(), path.c_str()) != 0) {
      std::remove(partial.c_str());
      if (!status.ok() && written.ok()) return Fail(status, export_context);
      std::fprintf(stderr, "error: %s\n", written.ok() ? "cannot rename the ZIP into place" : std::string(written.message()).c_str());
      return 1;
    }
    std::printf("exported %s: %zu entries, %llu bytes, to %s\n", request.deployment().c_str(), entries,
                static_cast<unsigned long long>(bytes), path.c_str());
    return 0;
  }
  if (command == "import") {
    // A Convex snapshot ZIP (ours, or npx convex export's) into the deployment's empty tables.
    if (args->size() != 3) {
      std::fprintf(stderr, "usage: isobarctl import DEPLOYMENT FILE.zip\n");
      return 2;
    }
    grpc::ClientContext import_context;  // no deadline: as long as the snapshot takes
    if (!key.empty()) import_context.AddMetadata("authorization", "Bearer " + key);
    isobar::v1::ImportSnapshotResponse response;
    auto writer = isobar::v1::Deployments::NewStub(channel)->ImportSnapshot(&import_context, &response);
    isobar::v1::SnapshotPart part;
    part.set_deployment((*args)[1]);
    bool open = writer->Write(part);
    absl::Status read = cli::ReadSnapshotZip(
        (*args)[2],
        [&](const std::string& path) {
          isobar::v1::SnapshotPart start;
          start.set_path(path);
          open = open && writer->Write(start);
          return open ? absl::OkStatus() : absl::CancelledError("the server ended the import");
        },
        [&](absl::string_view bytes) {
          isobar::v1::SnapshotPart more;
          more.set_data(std::string(bytes));
          open = open && writer->Write(more);
          return open ? absl::OkStatus() : absl::CancelledError("the server ended the import");
        });
    if (!read.ok() && !absl::IsCancelled(read)) {
      import_context.TryCancel();
      writer->Finish();
      std::fprintf(stderr, "error: %s\n", std::string(read.message()).c_str());
      return 1;
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok()) return Fail(status, import_context);
    std::printf("imported into %s: %llu tables, %llu documents, %llu files (%llu bytes)%s\n", (*args)[1].c_str(),
                static_cast<unsigned long long>(response.tables()), static_cast<unsigned long long>(response.documents()),
                static_cast<unsigned long long>(response.files()), static_cast<unsigned long long>(response.file_bytes()),
                response.files_renumbered() > 0
                    ? absl::StrCat("; ", response.files_renumbered(), " files got new ids (their ids were another system's)").c_str()
                    : "");
    return 0;
  }
  if (command == "stats") {
    isobar::v1::StatsResponse response;
    grpc::Status status = admin->Stats(&context, isobar::v1::StatsRequest(), &response);
    if (!status.ok()) return Fail(status, context);
    for (const auto& w : response.workers()) {
      std::printf("worker %d: %s pid=%ld starts=%lu crashes=%lu security_events=%lu invocations=%lu in_flight=%u "
                  "isolates=%lu (hits=%lu misses=%lu evictions=%lu recycles=%lu heap=%.1f MB) "
                  "snapshots=%lu (refused=%lu invocations=%lu %.1f MB)\n",
                  w.worker_id(), w.state().c_str(), static_cast<long>(w.pid()), w.starts(), w.crashes(),
                  w.security_events(), w.invocations(), w.in_flight(), w.isolates(), w.isolate_hits(),
                  w.isolate_misses(), w.isolate_evictions(), w.isolate_recycles(),
                  static_cast<double>(w.heap_in_use_bytes()) / (1 << 20), w.snapshots_made(), w.snapshots_refused(),
                  w.snapshot_invocations(), static_cast<double>(w.snapshot_bytes()) / (1 << 20));
    }
    return 0;
  }
  std::fprintf(stderr, "unknown command '%s'\n%s", command.c_str(), flags.Usage().c_str());
  return 2;
}

}  // namespace
}  // namespace isobar::cli

int main(int argc, char** argv) { return isobar::cli::Main(argc, argv); }
