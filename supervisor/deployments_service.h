// Deployments: create and describe deployments (isobar.v1.Deployments). Admin key required. A
// synchronous service: each call is a few catalog statements on the supervisor's PostgreSQL pool.
#ifndef ISOBAR_SUPERVISOR_DEPLOYMENTS_SERVICE_H_
#define ISOBAR_SUPERVISOR_DEPLOYMENTS_SERVICE_H_

#include <string>

#include "isobar/v1/api.grpc.pb.h"
#include "storage/api_keys.h"
#include "storage/catalog.h"
#include "storage/pg_pool.h"

namespace isobar::supervisor {

class DeploymentsService final : public isobar::v1::Deployments::Service {
 public:
  // `pool` must outlive the service.
  DeploymentsService(storage::PgPool& pool, std::string admin_key)
      : catalog_(pool), api_keys_(pool), admin_key_(std::move(admin_key)) {}

  grpc::Status CreateDeployment(grpc::ServerContext* context, const isobar::v1::CreateDeploymentRequest* request,
                                isobar::v1::CreateDeploymentResponse* response) override;
  grpc::Status GetDeployment(grpc::ServerContext* context, const isobar::v1::GetDeploymentRequest* request,
                             isobar::v1::Deployment* response) override;
  grpc::Status SetEnv(grpc::ServerContext* context, const isobar::v1::SetEnvRequest* request,
                      isobar::v1::SetEnvResponse* response) override;
  grpc::Status ListEnv(grpc::ServerContext* context, const isobar::v1::ListEnvRequest* request,
                       isobar::v1::ListEnvResponse* response) override;

 private:
  absl::Status Describe(const storage::DeploymentInfo& info, isobar::v1::Deployment* out);

  storage::Catalog catalog_;
  storage::ApiKeys api_keys_;
  const std::string admin_key_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOYMENTS_SERVICE_H_
