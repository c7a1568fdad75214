// The Admin gRPC service (isobar.v1.Admin): Ping, Eval (development only), Stats and TailLogs.
// Every call needs the admin key. Ping, Eval and Stats use gRPC's callback API (no thread waits on a
// worker); TailLogs is a synchronous stream (a thread per tail, which operators open few of).
#ifndef ISOBAR_SUPERVISOR_API_ADMIN_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_ADMIN_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "isobar/v1/api.grpc.pb.h"
#include "supervisor/logs/log_hub.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {

struct AdminOptions {
  std::string admin_key;
  bool enable_eval = false;
  absl::Duration default_eval_budget = absl::Seconds(1);
  absl::Duration max_eval_budget = absl::Seconds(60);
  // Added to the CPU budget to bound the whole call when the client sets no deadline.
  absl::Duration eval_wall_slack = absl::Seconds(30);
  // The function runner's counters, for Stats (unset: reported as zeros).
  std::function<isobar::v1::FunctionStats()> function_stats;
  // How many deployments have their state loaded now, and how many were closed for being idle.
  std::function<uint32_t()> open_deployments;
  std::function<std::vector<std::string>()> owned_deployments;
  std::function<uint64_t()> deployments_closed;
};

using AdminBase = isobar::v1::Admin::WithCallbackMethod_Ping<
    isobar::v1::Admin::WithCallbackMethod_Eval<isobar::v1::Admin::WithCallbackMethod_Stats<isobar::v1::Admin::Service>>>;

class AdminService final : public AdminBase {
 public:
  // `pool` and `logs` are not owned and must outlive the service.
  AdminService(AdminOptions options, WorkerPool& pool, LogHub& logs)
      : options_(std::move(options)), pool_(pool), logs_(logs) {}

  // What Stats answers (no key checked: for the supervisor's own use, such as /metrics).
  isobar::v1::StatsResponse Snapshot() const;

  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context, const isobar::v1::PingRequest* request,
                                 isobar::v1::PingResponse* response) override;
  grpc::ServerUnaryReactor* Eval(grpc::CallbackServerContext* context, const isobar::v1::EvalRequest* request,
                                 isobar::v1::EvalResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context, const isobar::v1::StatsRequest* request,
                                  isobar::v1::StatsResponse* response) override;
  grpc::Status TailLogs(grpc::ServerContext* context, const isobar::v1::TailLogsRequest* request,
                        grpc::ServerWriter<isobar::v1::LogEntry>* writer) override;

 private:
  const AdminOptions options_;
  WorkerPool& pool_;
  LogHub& logs_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_ADMIN_SERVICE_H_
