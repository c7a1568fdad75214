// Deployments: create and describe deployments, push their code, set their environment
// (isobar.v1.Deployments). Admin key required. A synchronous service: each call is a few catalog
// statements on the supervisor's PostgreSQL pool, and a push also waits for a worker's analysis.
#ifndef ISOBAR_SUPERVISOR_API_DEPLOYMENTS_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_DEPLOYMENTS_SERVICE_H_

#include <string>

#include "isobar/v1/api.grpc.pb.h"
#include "storage/api_keys.h"
#include "storage/catalog.h"
#include "storage/pg_pool.h"
#include "storage/versions.h"
#include "supervisor/cluster/forwarding.h"
#include "supervisor/cluster/placement.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {

class DeploymentsService final : public isobar::v1::Deployments::Service {
 public:
  // `pool`, `workers` and `live` must outlive the service.
  DeploymentsService(storage::PgPool& pool, WorkerPool& workers, std::string admin_key, LiveDeployments& live)
      : catalog_(pool),
        api_keys_(pool),
        versions_(pool),
        workers_(workers),
        admin_key_(std::move(admin_key)),
        live_(live) {}

  // Bases of CONVEX_CLOUD_URL and CONVEX_SITE_URL while a push imports its modules (before serving).
  void SetPublicUrls(std::string public_url, std::string site_url) {
    public_url_ = std::move(public_url);
    site_url_ = std::move(site_url);
  }

  // Several supervisors on one database: what changes a deployment another member serves (a push,
  // its environment, limits, egress) is done by that member, which applies it to what it serves.
  // Before the server starts.
  void SetCluster(Placement* placement, Peers* peers) {
    placement_ = placement;
    peers_ = peers;
  }

  grpc::Status CreateDeployment(grpc::ServerContext* context, const isobar::v1::CreateDeploymentRequest* request,
                                isobar::v1::CreateDeploymentResponse* response) override;
  grpc::Status GetDeployment(grpc::ServerContext* context, const isobar::v1::GetDeploymentRequest* request,
                             isobar::v1::Deployment* response) override;
  grpc::Status Push(grpc::ServerContext* context, const isobar::v1::PushRequest* request,
                    isobar::v1::PushResponse* response) override;
  grpc::Status ListFunctions(grpc::ServerContext* context, const isobar::v1::ListFunctionsRequest* request,
                             isobar::v1::ListFunctionsResponse* response) override;
  grpc::Status SetEnv(grpc::ServerContext* context, const isobar::v1::SetEnvRequest* request,
                      isobar::v1::SetEnvResponse* response) override;
  grpc::Status ListEnv(grpc::ServerContext* context, const isobar::v1::ListEnvRequest* request,
                       isobar::v1::ListEnvResponse* response) override;
  grpc::Status SetLimits(grpc::ServerContext* context, const isobar::v1::SetLimitsRequest* request,
                         isobar::v1::Deployment* response) override;
  grpc::Status SetEgress(grpc::ServerContext* context, const isobar::v1::SetEgressRequest* request,
                         isobar::v1::EgressPolicy* response) override;
  grpc::Status GetEgress(grpc::ServerContext* context, const isobar::v1::GetEgressRequest* request,
                         isobar::v1::EgressPolicy* response) override;
  grpc::Status ExportSnapshot(grpc::ServerContext* context, const isobar::v1::ExportSnapshotRequest* request,
                              grpc::ServerWriter<isobar::v1::SnapshotPart>* writer) override;
  grpc::Status ImportSnapshot(grpc::ServerContext* context, grpc::ServerReader<isobar::v1::SnapshotPart>* reader,
                              isobar::v1::ImportSnapshotResponse* response) override;

 private:
  // Checks the admin key and finds `deployment`; otherwise the error to finish the call with.
  grpc::Status Admit(grpc::ServerContext& context, const std::string& deployment, storage::DeploymentInfo* info);
  absl::Status Describe(const storage::DeploymentInfo& info, isobar::v1::Deployment* out);
  // A storage error as the call's status: the caller's mistakes as they are, ours without details.
  static grpc::Status ToGrpc(grpc::ServerContext& context, const absl::Status& status);
  // The member serving `deployment` if it is another (nullopt: here, or no cluster), or the error to
  // finish the call with.
  absl::StatusOr<std::optional<Route>> RouteElsewhere(grpc::ServerContext& context, const std::string& deployment);
  // The end of a call forwarded to `route` with `out`: its status and trailers for the caller, or
  // UNAVAILABLE (and the route forgotten) when the member was not reached.
  grpc::Status Forwarded(grpc::ServerContext& context, const grpc::Status& status, const grpc::ClientContext& out,
                         const Route& route, const std::string& deployment);
  // If another member serves `deployment`, the call made there (its answer); nullopt: serve it here.
  template <typename Request, typename Response>
  std::optional<grpc::Status> ServedElsewhere(
      grpc::ServerContext& context, const std::string& deployment, const Request& request, Response* response,
      grpc::Status (isobar::v1::Deployments::Stub::*method)(grpc::ClientContext*, const Request&, Response*));

  storage::Catalog catalog_;
  storage::ApiKeys api_keys_;
  storage::Versions versions_;
  WorkerPool& workers_;
  const std::string admin_key_;
  std::string public_url_;
  std::string site_url_;
  LiveDeployments& live_;
  Placement* placement_ = nullptr;
  Peers* peers_ = nullptr;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_DEPLOYMENTS_SERVICE_H_
