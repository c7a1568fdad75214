#include "supervisor/deployments_service.h"

#include "base/log.h"
#include "base/status_macros.h"
#include "supervisor/admin_key.h"
#include "supervisor/error_detail.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "deployments";

grpc::Status ToGrpc(grpc::ServerContext& context, const absl::Status& status) {
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

}  // namespace

absl::Status DeploymentsService::Describe(const storage::DeploymentInfo& info, isobar::v1::Deployment* out) {
  ASSIGN_OR_RETURN(int64_t keys, api_keys_.Count(info.id));
  ASSIGN_OR_RETURN(std::vector<storage::TableInfo> tables, catalog_.ListTables(info.id));
  out->set_name(info.name);
  out->set_api_keys(static_cast<uint32_t>(keys));
  out->set_tables(static_cast<uint32_t>(tables.size()));
  return absl::OkStatus();
}

grpc::Status DeploymentsService::CreateDeployment(grpc::ServerContext* context,
                                                  const isobar::v1::CreateDeploymentRequest* request,
                                                  isobar::v1::CreateDeploymentResponse* response) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> created = catalog_.CreateDeployment(request->name());
  if (!created.ok()) return ToGrpc(*context, created.status());
  absl::StatusOr<std::string> key = api_keys_.Create(created->id);
  if (!key.ok()) return ToGrpc(*context, key.status());
  response->set_api_key(*key);
  ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << created->name << "\" created";
  return ToGrpc(*context, Describe(*created, response->mutable_deployment()));
}

grpc::Status DeploymentsService::GetDeployment(grpc::ServerContext* context,
                                               const isobar::v1::GetDeploymentRequest* request,
                                               isobar::v1::Deployment* response) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->name());
  if (!info.ok()) return ToGrpc(*context, info.status());
  return ToGrpc(*context, Describe(*info, response));
}

grpc::Status DeploymentsService::SetEnv(grpc::ServerContext* context, const isobar::v1::SetEnvRequest* request,
                                        isobar::v1::SetEnvResponse*) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->deployment());
  if (!info.ok()) return ToGrpc(*context, info.status());
  absl::Status set = catalog_.SetEnv(info->id, request->variable().name(), request->variable().value());
  if (set.ok()) {
    // The name only: values may be secrets.
    ISOBAR_LOG(kInfo, kComponent) << "deployment \"" << info->name << "\": environment variable "
                                  << request->variable().name() << " set";
  }
  return ToGrpc(*context, set);
}

grpc::Status DeploymentsService::ListEnv(grpc::ServerContext* context, const isobar::v1::ListEnvRequest* request,
                                         isobar::v1::ListEnvResponse* response) {
  grpc::Status auth = CheckAdminKey(*context, admin_key_);
  if (!auth.ok()) return WithDetail(*context, auth);
  absl::StatusOr<storage::DeploymentInfo> info = catalog_.GetDeployment(request->deployment());
  if (!info.ok()) return ToGrpc(*context, info.status());
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> variables = catalog_.ListEnv(info->id);
  if (!variables.ok()) return ToGrpc(*context, variables.status());
  for (const auto& [name, value] : *variables) {
    isobar::v1::EnvVar* out = response->add_variables();
    out->set_name(name);
    out->set_value(value);
  }
  return grpc::Status::OK;
}

}  // namespace isobar::supervisor
