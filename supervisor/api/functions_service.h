// Functions: a client's Query, Mutation and Action calls (isobar.v1.Functions), and Subscribe.
//
// The deployment's API key admits public functions; the server's admin key and the deployment's own
// admin key admit internal ones too (gateway/gateway.h decides, for every protocol alike). A call
// then waits for a slot (admission.h): it is refused at once, RESOURCE_EXHAUSTED, when its
// deployment's queue is full, and DEADLINE_EXCEEDED if its deadline passes while it waits. Each call
// finishes with the function's result and log lines, or a status code and an
// ErrorDetail (kind, message, ConvexError data, the user's stack, whether a retry may help).
#ifndef ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_

#include <string>

#include "base/executor.h"
#include "isobar/v1/api.grpc.pb.h"
#include "supervisor/api/admin_key.h"
#include "supervisor/cluster/forwarding.h"
#include "supervisor/cluster/placement.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/reactivity/subscription.h"
#include "supervisor/runner/function_runner.h"

namespace isobar::supervisor {

class FunctionsService final : public isobar::v1::Functions::CallbackService {
 public:
  // Not owned; both must outlive the service.
  FunctionsService(Gateway& gateway, Executor& executor) : gateway_(gateway), executor_(executor) {
    subscriptions_.authorize = [this](const grpc::ServerContextBase& context, const std::string& deployment) {
      absl::StatusOr<Access> access = gateway_.Authorize(deployment, CallerKey(context));
      if (!access.ok()) return absl::StatusOr<bool>(access.status());
      return absl::StatusOr<bool>(*access == Access::kInternal);
    };
    subscriptions_.user_identity = [this](const grpc::ServerContextBase& context, const std::string& deployment,
                                          absl::Time* expires) {
      const std::string token = UserToken(context);
      if (token.empty()) return absl::StatusOr<std::optional<std::string>>(std::nullopt);
      absl::StatusOr<std::string> identity = gateway_.VerifyUserToken(deployment, token, expires);
      if (!identity.ok()) return absl::StatusOr<std::optional<std::string>>(identity.status());
      return absl::StatusOr<std::optional<std::string>>(*std::move(identity));
    };
    subscriptions_.check_identity = Gateway::CheckIdentity;
    subscriptions_.deployments = &gateway_.deployments();
    subscriptions_.query_set = gateway_.QuerySetEnvironmentOn(executor_);
  }

  // Several supervisors on one database: calls for deployments another member serves go to it.
  // Before the server starts.
  void SetCluster(Placement* placement, Peers* peers);

  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                                  isobar::v1::FunctionResponse* response) override {
    return Call(context, request, response, FunctionKind::kQuery);
  }
  grpc::ServerUnaryReactor* Mutation(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                                     isobar::v1::FunctionResponse* response) override {
    return Call(context, request, response, FunctionKind::kMutation);
  }
  grpc::ServerUnaryReactor* Action(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                                   isobar::v1::FunctionResponse* response) override {
    return Call(context, request, response, FunctionKind::kAction);
  }
  grpc::ServerBidiReactor<isobar::v1::SubscribeRequest, isobar::v1::Transition>* Subscribe(
      grpc::CallbackServerContext* context) override {
    return NewSubscription(context, subscriptions_);
  }

 private:
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                                 isobar::v1::FunctionResponse* response, FunctionKind kind);
  // An authorized call: identity and idempotency checks, then the gateway.
  // `user_identity`: the end user's, from their token (nullopt: none).
  void Serve(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
             isobar::v1::FunctionResponse* response, FunctionKind kind, grpc::ServerUnaryReactor* reactor,
             Access access, std::optional<std::string> user_identity);

  // Sends the call to the member that serves its deployment and relays its answer.
  void Forward(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
               isobar::v1::FunctionResponse* response, FunctionKind kind, grpc::ServerUnaryReactor* reactor,
               const storage::SupervisorRecord& member);

  Gateway& gateway_;
  Executor& executor_;
  Placement* placement_ = nullptr;
  Peers* peers_ = nullptr;
  SubscriptionEnvironment subscriptions_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_
