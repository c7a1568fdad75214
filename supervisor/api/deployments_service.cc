#include "supervisor/runner/file_storage.h"
#include "supervisor/api/deployments_service.h"

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/util/json_util.h"
#include "base/deployment_url.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "supervisor/api/admin_key.h"
#include "supervisor/deploy/crons.h"
#include "supervisor/egress/egress_config.h"
#include "supervisor/deploy/schema_apply.h"
#include "supervisor/deploy/source_map.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/runner/invocation_session.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "deployments";

grpc::Status CatalogError(grpc::ServerContext& context, const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Storage failures are ours, not the caller's: say so without their details.
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return WithDetail(context, status);
    default:
      ISOBAR_LOG(kError, kComponent) << status;
      return WithDetail(context, absl::UnavailableError("the deployment catalog is unavailable; try again"));
  }
}

// Limits of a push (the official CLI's bundles are far below them).
constexpr size_t kMaxModules = 4096;  // Convex's MAX_USER_MODULES
constexpr size_t kMaxPushBytes = 32u << 20;
constexpr absl::Duration kAnalysisBudget = absl::Seconds(10);  // CPU, in the worker
constexpr absl::Duration kAnalysisDeadline = absl::Seconds(60);

// The analysis with `schema_json` / `crons_json` (when not empty) in place of what the modules export.
absl::StatusOr<std::string> WithPushedSchemaAndCrons(const std::string& analysis_json, const std::string& schema_json,
                                                     const std::string& crons_json) {
  if (schema_json.empty() && crons_json.empty()) return analysis_json;
  ASSIGN_OR_RETURN(storage::Value analysis, CodeVersion::ParseAnalysis(analysis_json));
  storage::Value::Object fields = analysis.object();
  auto replace = [&](const char* name, const std::string& json, bool object_or_null) -> absl::Status {
    if (json.empty()) return absl::OkStatus();
    absl::StatusOr<storage::Value> value = CodeVersion::ParseAnalysis(json);
    if (!value.ok() || !(value->type() == storage::Value::Type::kObject ||
                         (object_or_null && value->type() == storage::Value::Type::kNull))) {
      return absl::InvalidArgumentError(absl::StrCat(name, "_json must be a JSON object",
                                                     object_or_null ? " or null" : "",
                                                     value.ok() ? "" : absl::StrCat(": ", value.status().message())));
    }
    for (auto& field : fields) {
      if (field.first == name) {
        field.second = *std::move(value);
        return absl::OkStatus();
      }
    }
    fields.emplace_back(name, *std::move(value));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(replace("schema", schema_json, /*object_or_null=*/true));
  RETURN_IF_ERROR(replace("crons", crons_json, /*object_or_null=*/false));
  ASSIGN_OR_RETURN(storage::Value merged, storage::Value::MakeObject(std::move(fields)));
  return storage::ToConvexJson(merged);
}

// Whether a module starts with the "use node" directive (after comments and blank space): Convex runs
// such files in Node.js, which Isobar does not offer.
bool UsesNode(absl::string_view source) {
  for (;;) {
    source = absl::StripLeadingAsciiWhitespace(source);
    if (absl::ConsumePrefix(&source, "//")) {
      const size_t end = source.find('\n');
      source.remove_prefix(end == absl::string_view::npos ? source.size() : end);
    } else if (absl::ConsumePrefix(&source, "/*")) {
      const size_t end = source.find("*/");
      source.remove_prefix(end == absl::string_view::npos ? source.size() : end + 2);
    } else {
      break;
    }
  }
  return absl::StartsWith(source, "\"use node\"") || absl::StartsWith(source, "'use node'");
}

// The functions of an analysis (worker/analyze.h), as the API reports them.
void AddFunctions(const storage::Value& analysis, google::protobuf::RepeatedPtrField<isobar::v1::FunctionInfo>* out) {
  const storage::Value& functions = analysis.Get("functions");
  if (functions.type() != storage::Value::Type::kArray) return;
  for (const storage::Value& f : functions.array()) {
    auto text = [&](const char* name) {
      const storage::Value& v = f.Get(name);
      return v.type() == storage::Value::Type::kString ? v.string() : std::string();
    };
    isobar::v1::FunctionInfo* info = out->Add();
    info->set_path(text("path"));
    info->set_kind(text("kind"));
    info->set_visibility(text("visibility"));
    info->set_args_json(storage::ToConvexJson(f.Get("args")));
    info->set_returns_json(storage::ToConvexJson(f.Get("returns")));
  }
}

}  // namespace

grpc::Status DeploymentsService::ToGrpc(grpc::ServerContext& context, const absl::Status& status) {
  return CatalogError(context, status);
}

template <typename Request, typename Response>
std::optional<grpc::Status> DeploymentsService::ServedElsewhere(
    grpc::ServerContext& context, const std::string& deployment, const Request& request, Response* response,
    grpc::Status (isobar::v1::Deployments::Stub::*method)(grpc::ClientContext*, const Request&, Response*)) {
  absl::StatusOr<std::optional<Route>> route = RouteElsewhere(context, deployment);
  if (!route.ok()) return WithDetail(context, route.status());
  if (!route->has_value()) return std::nullopt;
  grpc::ClientContext out;
  PrepareForward(context, placement_->self().holder, out);
  const grpc::Status status = (*isobar::v1::Deployments::NewStub(peers_->Channel((*route)->member.grpc_address)).*
                               method)(&out, request, response);
  return Forwarded(context, status, out, **route, deployment);
}

absl::StatusOr<std::optional<Route>> DeploymentsService::RouteElsewhere(grpc::ServerContext& context,
                                                                        const std::string& deployment) {
  if (placement_ == nullptr) return std::nullopt;
  ASSIGN_OR_RETURN(Route route, placement_->Find(deployment, IsForwarded(context)));
  if (route.here) return std::nullopt;
  peers_->CountForward();
  return route;
}

grpc::Status DeploymentsService::Forwarded(grpc::ServerContext& context, const grpc::Status& status,
                                           const grpc::ClientContext& out, const Route& route,
                                           const std::string& deployment) {
  if (NotReached(status, out)) {
    peers_->CountUnreached();
    placement_->Unreachable(route.member);
    return WithDetail(context, absl::UnavailableError(absl::StrCat(
                                   "deployment ", deployment, " is served by supervisor ", route.member.holder,
                                   ", which did not answer (", status.error_message(), "); try again")));
  }
  ReturnTrailers(out, context);
  return status;
}

grpc::Status DeploymentsService::Admit(grpc::ServerContext& context, const std::string& deployment,
                                       storage::DeploymentInfo* info) {
  // The server's admin key, or this deployment's own admin key.
  const bool server_admin = CheckAdminKey(context, admin_key_).ok();
  const std::string key = CallerKey(context);
  if (!server_admin && key.empty()) return WithDetail(context, CheckAdminKey(context, admin_key_));
  absl::StatusOr<storage::DeploymentInfo> found = catalog_.GetDeployment(deployment);
  if (!server_admin) {
    // Without the server's key an unknown deployment and a wrong key look the same.
    absl::StatusOr<std::optional<storage::KeyScope>> scope =
        found.ok() ? api_keys_.Verify(found->id, key) : absl::StatusOr<std::optional<storage::KeyScope>>();
    if (found.ok() && !scope.ok()) return ToGrpc(context, scope.status());
    if (!found.ok() || !scope->has_value() || **scope != storage::KeyScope::kDeploymentAdmin) {
      return WithDetail(context, absl::UnauthenticatedError(
                                     "this call needs the admin key, or this deployment's admin key, as "
                                     "'authorization: Bearer <key>'"));
    }
  }
  if (!found.ok()) return ToGrpc(context, found.status());
  *info = std::move(*found);
  return grpc::Status::OK;
}

absl::Status DeploymentsService::Describe(const storage::DeploymentInfo& info, isobar::v1::Deployment* out) {
  ASSIGN_OR_RETURN(int64_t keys, api_keys_.Count(info.id));
  ASSIGN_OR_RETURN(std::vector<storage::TableInfo> tables, catalog_.ListTables(info.id));
  out->set_name(info.name);
  out->set_api_keys(static_cast<uint32_t>(keys));
  out->set_tables(static_cast<uint32_t>(tables.size()));
  if (!public_url_.empty()) out->set_client_url(DeploymentUrl(public_url_, info.name));
  if (!site_url_.empty()) out->set_site_url(DeploymentUrl(site_url_, info.name));
  ASSIGN_OR_RETURN(storage::Catalog::FileStorageUse files, catalog_.FileStorage(info.id));
  out->set_file_bytes(files.used);
  // The store the deployment's files are in (a directory, with --file-dir) counts them, where this
  // supervisor has the deployment open.
  if (std::shared_ptr<LiveDeployment> live = live_.FindOpen(info.name, /*to_serve=*/false); live != nullptr) {
    if (absl::StatusOr<uint64_t> used = live->db().files().TotalBytes(); used.ok()) out->set_file_bytes(*used);
  }
  out->set_file_quota_bytes(files.quota.value_or(kDeploymentFileQuotaBytes));
  return absl::OkStatus();
}

grpc::Status DeploymentsService::SetLimits(grpc::ServerContext* context, const isobar::v1::SetLimitsRequest* request,
                                           isobar::v1::Deployment* response) {
  // The operator's: a tenant's own admin key does not do.
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->deployment());
  if (!info.ok()) return ToGrpc(*context, info.status());
  if (std::optional<grpc::Status> there = ServedElsewhere(*context, info->name, *request, response,
                                                          &isobar::v1::Deployments::Stub::SetLimits)) {
    return *there;
  }
  if (request->file_quota_bytes() < -1) {
    return ToGrpc(*context, absl::InvalidArgumentError("file_quota_bytes is a number of bytes, or -1 for the default"));
  }
  if (request->file_quota_bytes() != 0) {
    std::optional<uint64_t> quota;
    if (request->file_quota_bytes() > 0) quota = static_cast<uint64_t>(request->file_quota_bytes());
    if (absl::Status set = catalog_.SetFileQuota(info->id, quota); !set.ok()) return ToGrpc(*context, set);
    ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info->name << "\": file quota "
                                  << (quota.has_value() ? absl::StrCat(*quota, " bytes") : std::string("the default"));
  }
  return ToGrpc(*context, Describe(*info, response));
}

grpc::Status DeploymentsService::SetEgress(grpc::ServerContext* context, const isobar::v1::SetEgressRequest* request,
                                           isobar::v1::EgressPolicy* response) {
  // The operator's: a tenant's own admin key cannot widen where its code reaches.
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->deployment());
  if (!info.ok()) return ToGrpc(*context, info.status());
  if (std::optional<grpc::Status> there = ServedElsewhere(*context, info->name, *request, response,
                                                          &isobar::v1::Deployments::Stub::SetEgress)) {
    return *there;
  }
  const isobar::v1::EgressPolicy policy = request->reset() ? isobar::v1::EgressPolicy() : request->policy();
  if (absl::StatusOr<EgressConfig> valid = EgressConfigFromProto(policy); !valid.ok()) {
    return ToGrpc(*context, valid.status());
  }
  std::optional<std::string> stored;
  if (!request->reset()) {
    stored.emplace();
    if (!google::protobuf::util::MessageToJsonString(policy, &*stored).ok()) {
      return ToGrpc(*context, absl::InternalError("cannot encode the egress policy"));
    }
  }
  if (absl::Status set = catalog_.SetEgressPolicy(info->id, stored); !set.ok()) return ToGrpc(*context, set);
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info->name << "\": egress policy "
                                << (stored.has_value() ? *stored : std::string("reset to the defaults"));
  *response = EffectiveEgressPolicy(policy);
  return grpc::Status::OK;
}

grpc::Status DeploymentsService::GetEgress(grpc::ServerContext* context, const isobar::v1::GetEgressRequest* request,
                                           isobar::v1::EgressPolicy* response) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->deployment());
  if (!info.ok()) return ToGrpc(*context, info.status());
  absl::StatusOr<std::optional<std::string>> stored = catalog_.EgressPolicy(info->id);
  if (!stored.ok()) return ToGrpc(*context, stored.status());
  isobar::v1::EgressPolicy policy;
  if (stored->has_value() && !google::protobuf::util::JsonStringToMessage(**stored, &policy).ok()) {
    return ToGrpc(*context, absl::DataLossError("the stored egress policy cannot be read"));
  }
  *response = EffectiveEgressPolicy(policy);
  return grpc::Status::OK;
}

grpc::Status DeploymentsService::CreateDeployment(grpc::ServerContext* context,
                                                  const isobar::v1::CreateDeploymentRequest* request,
                                                  isobar::v1::CreateDeploymentResponse* response) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> created = catalog_.CreateDeployment(request->name());
  if (!created.ok()) return ToGrpc(*context, created.status());
  absl::StatusOr<std::string> key = api_keys_.Create(created->id, storage::KeyScope::kFunctions);
  if (!key.ok()) return ToGrpc(*context, key.status());
  absl::StatusOr<std::string> deployment_admin = api_keys_.Create(created->id, storage::KeyScope::kDeploymentAdmin);
  if (!deployment_admin.ok()) return ToGrpc(*context, deployment_admin.status());
  response->set_api_key(*key);
  response->set_admin_key(*deployment_admin);
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << created->name << "\" created";
  return ToGrpc(*context, Describe(*created, response->mutable_deployment()));
}

grpc::Status DeploymentsService::GetDeployment(grpc::ServerContext* context,
                                               const isobar::v1::GetDeploymentRequest* request,
                                               isobar::v1::Deployment* response) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->name(), &info); !admitted.ok()) return admitted;
  return ToGrpc(*context, Describe(info, response));
}

grpc::Status DeploymentsService::Push(grpc::ServerContext* context, const isobar::v1::PushRequest* request,
                                      isobar::v1::PushResponse* response) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->deployment(), &info); !admitted.ok()) return admitted;
  if (std::optional<grpc::Status> there =
          ServedElsewhere(*context, info.name, *request, response, &isobar::v1::Deployments::Stub::Push)) {
    return *there;
  }
  if (request->modules().empty()) return WithDetail(*context, absl::InvalidArgumentError("a push has at least one module"));
  if (static_cast<size_t>(request->modules_size()) > kMaxModules) {
    return WithDetail(*context, absl::InvalidArgumentError(absl::StrCat(
                                    "Too many function files (", request->modules_size(), " > maximum ", kMaxModules,
                                    ") in \"convex/\". See our docs (https://docs.convex.dev/using/"
                                    "writing-convex-functions#using-libraries) for more details.")));
  }
  // Check what can be checked here before a worker runs anything.
  std::vector<storage::ModuleInfo> modules;
  size_t bytes = 0;
  isobar::worker::v1::Invoke invoke;
  for (const isobar::v1::PushModule& pushed : request->modules()) {
    absl::Status path = storage::ValidateModulePath(pushed.path());
    if (!path.ok()) return WithDetail(*context, path);
    bytes += pushed.source().size() + pushed.source_map().size();
    if (bytes > kMaxPushBytes) {
      return WithDetail(*context, absl::InvalidArgumentError(absl::StrCat("a push is at most ", kMaxPushBytes >> 20, " MiB")));
    }
    if (UsesNode(pushed.source())) {
      return WithDetail(*context, absl::InvalidArgumentError(absl::StrCat(
                                      pushed.path(), " starts with \"use node\": Node.js actions are not supported "
                                      "by Isobar; its functions must run in the default Convex runtime (remove the "
                                      "directive, and any Node-only imports)")));
    }
    const std::string sha = Sha256(pushed.source());
    if (!pushed.sha256_hex().empty() && pushed.sha256_hex() != absl::BytesToHexString(sha)) {
      return WithDetail(*context, absl::InvalidArgumentError(absl::StrCat("module ", pushed.path(),
                                                                          ": sha256_hex does not match its source")));
    }
    modules.push_back(storage::ModuleInfo{pushed.path(), sha, pushed.source(), pushed.source_map()});
    isobar::worker::v1::Module* module = invoke.mutable_analyze()->add_modules();
    module->set_path(pushed.path());
    module->set_sha256(sha);
    module->set_source(pushed.source());
  }
  // Analyse in a worker: every module must evaluate; its exports become the version's functions.
  invoke.set_deployment(info.name);
  invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(kAnalysisBudget)));
  // The version's import phase: the analysis imports every module with it, and so does every call.
  ImportPhase import_phase;
  std::random_device random;
  import_phase.seed = (uint64_t{random()} << 32) | random();
  import_phase.unix_time_ms = static_cast<double>(absl::ToUnixMillis(absl::Now()));
  invoke.set_seed(import_phase.seed);
  invoke.set_unix_time_ms(import_phase.unix_time_ms);
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = live_.Get(info.name);
  if (!live.ok()) return ToGrpc(*context, live.status());
  auto session = std::make_shared<InvocationSession>();
  session->deployment = *live;
  session->analysis = true;
  if (!public_url_.empty()) session->cloud_url = DeploymentUrl(public_url_, info.name);
  if (!site_url_.empty()) session->site_url = DeploymentUrl(site_url_, info.name);
  absl::Notification analysed;
  absl::StatusOr<isobar::worker::v1::Done> done = absl::UnknownError("not analysed");
  workers_.Dispatch(
      // Never past the client's own deadline: an analysis nobody waits for is work for nothing.
      std::move(invoke), std::min(absl::Now() + kAnalysisDeadline, absl::FromChrono(context->deadline())),
      [&](absl::StatusOr<isobar::worker::v1::Done> result, WorkerId) {
        done = std::move(result);
        analysed.Notify();
      },
      DispatchOptions{.session = session});
  analysed.WaitForNotification();
  if (!done.ok()) return WithDetail(*context, done.status());
  if (done->outcome_case() == isobar::worker::v1::Done::kError) {
    if (!done->error().user_error()) return WorkerError(*context, done->error());
    isobar::v1::ErrorDetail detail;
    detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
    detail.set_message(absl::StrCat("the pushed modules failed to evaluate: ", done->error().message()));
    std::map<std::string, std::string> maps;
    for (const isobar::v1::PushModule& pushed : request->modules()) {
      if (!pushed.source_map().empty()) maps[pushed.path()] = pushed.source_map();
    }
    detail.set_stack(SourceMaps(std::move(maps)).MapFrames(done->error().stack()));
    detail.set_convex_error_data_json(done->error().convex_error_data());
    return Detailed(*context, grpc::StatusCode::INVALID_ARGUMENT, detail);
  }
  absl::StatusOr<std::string> analysis_json =
      WithPushedSchemaAndCrons(done->result_json(), request->schema_json(), request->crons_json());
  if (analysis_json.ok()) analysis_json = CodeVersion::WithImportPhase(*analysis_json, import_phase);
  if (!analysis_json.ok()) return ToGrpc(*context, analysis_json.status());
  // One push of a deployment at a time: the version switch below happens in publish order.
  absl::MutexLock pushing(&(*live)->push_mutex());
  // The schema and the crons first: a push whose schema or crons cannot apply changes nothing.
  std::string context_policy;
  switch (request->context_policy()) {
    case isobar::v1::CONTEXT_POLICY_FRESH:
      context_policy = "fresh";
      break;
    case isobar::v1::CONTEXT_POLICY_WARM:
      context_policy = "warm";
      break;
    default:
      break;  // the server's default
  }
  absl::StatusOr<std::shared_ptr<CodeVersion>> pushed =
      CodeVersion::Build(storage::VersionInfo{0, modules, *analysis_json, context_policy});
  if (!pushed.ok()) return ToGrpc(*context, pushed.status());
  absl::StatusOr<std::vector<CronSpec>> crons = ParseCrons((*pushed)->analysis(), **pushed, (*live)->TableOfId());
  if (!crons.ok()) return ToGrpc(*context, crons.status());
  if ((*pushed)->schema().has_value()) {
    // The index work stops once the client's deadline has passed or it went away.
    const absl::Time deadline = absl::FromChrono(context->deadline());
    auto cancelled = [context, deadline]() -> absl::Status {
      if (context->IsCancelled()) return absl::CancelledError("the push was cancelled by its client; indexes added so far stay until the next push");
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            "the push's deadline passed while its indexes were being built; indexes added so far stay until the next push");
      }
      return absl::OkStatus();
    };
    if (absl::Status applied = ApplySchema(**live, *(*pushed)->schema(), cancelled); !applied.ok()) {
      return ToGrpc(*context, applied);
    }
  }
  if (absl::Status registered = RegisterCrons(**live, *crons); !registered.ok()) return ToGrpc(*context, registered);
  for (const isobar::v1::EnvVar& variable : request->environment()) {
    if (absl::Status set = catalog_.SetEnv(info.id, variable.name(), variable.value()); !set.ok()) {
      return ToGrpc(*context, set);
    }
  }
  for (const CronSpec& cron : *crons) {
    isobar::v1::CronInfo* info = response->add_crons();
    info->set_name(cron.name);
    info->set_function(cron.function);
    info->set_schedule_json(storage::ToConvexJson(cron.schedule));
  }
  absl::StatusOr<int64_t> version = versions_.Publish(info.id, modules, *analysis_json, context_policy);
  if (!version.ok()) return ToGrpc(*context, version.status());
  // Invocations that already hold the previous version finish on it; new ones get this one.
  (*pushed)->set_version(*version);
  AddFunctions((*pushed)->analysis(), response->mutable_functions());
  (*live)->SetCode(*std::move(pushed));
  response->set_version(*version);
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info.name << "\": version " << *version << " active ("
                                << modules.size() << " modules)";
  return grpc::Status::OK;
}

grpc::Status DeploymentsService::ListFunctions(grpc::ServerContext* context,
                                               const isobar::v1::ListFunctionsRequest* request,
                                               isobar::v1::ListFunctionsResponse* response) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->deployment(), &info); !admitted.ok()) return admitted;
  absl::StatusOr<std::optional<storage::VersionInfo>> active = versions_.Active(info.id, /*with_sources=*/false);
  if (!active.ok()) return ToGrpc(*context, active.status());
  if (!active->has_value()) return grpc::Status::OK;  // version 0: nothing pushed yet
  absl::StatusOr<storage::Value> analysis = CodeVersion::ParseAnalysis((*active)->analysis_json);
  if (!analysis.ok()) return ToGrpc(*context, analysis.status());
  response->set_version((*active)->version);
  AddFunctions(*analysis, response->mutable_functions());
  return grpc::Status::OK;
}

grpc::Status DeploymentsService::SetEnv(grpc::ServerContext* context, const isobar::v1::SetEnvRequest* request,
                                        isobar::v1::SetEnvResponse* response) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->deployment(), &info); !admitted.ok()) return admitted;
  if (std::optional<grpc::Status> there =
          ServedElsewhere(*context, info.name, *request, response, &isobar::v1::Deployments::Stub::SetEnv)) {
    return *there;
  }
  absl::Status set = catalog_.SetEnv(info.id, request->variable().name(), request->variable().value());
  if (set.ok()) {
    // Cached query results that read the environment are stale (a deployment not open has none).
    if (std::shared_ptr<LiveDeployment> live = live_.FindOpen(info.name, /*to_serve=*/false); live != nullptr) {
      live->EnvironmentChanged();
    }
    // The name only: values may be secrets.
    ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info.name << "\": environment variable "
                                  << request->variable().name() << " set";
  }
  return ToGrpc(*context, set);
}

grpc::Status DeploymentsService::ListEnv(grpc::ServerContext* context, const isobar::v1::ListEnvRequest* request,
                                         isobar::v1::ListEnvResponse* response) {
  storage::DeploymentInfo info;
  if (grpc::Status admitted = Admit(*context, request->deployment(), &info); !admitted.ok()) return admitted;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> variables = catalog_.ListEnv(info.id);
  if (!variables.ok()) return ToGrpc(*context, variables.status());
  for (const auto& [name, value] : *variables) {
    isobar::v1::EnvVar* out = response->add_variables();
    out->set_name(name);
    out->set_value(value);
  }
  return grpc::Status::OK;
}

}  // namespace isobar::supervisor
