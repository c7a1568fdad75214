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

}  // namespace isobar::supervisor
