// Functions: a client's Query, Mutation and Action calls (isobar.v1.Functions).
//
// The deployment's API key admits public functions; the server's admin key and the deployment's own
// admin key admit internal ones too. A call
// then waits for a slot (admission.h): it is refused at once, RESOURCE_EXHAUSTED, when its
// deployment's queue is full, and DEADLINE_EXCEEDED if its deadline passes while it waits. Verified
// keys are remembered for a minute (by hash, never the key itself), so a call does not pay a catalog
// round trip. Each call finishes with the function's result and log lines, or a status code and an
// ErrorDetail (kind, message, ConvexError data, the user's stack, whether a retry may help).
#ifndef ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_
#define ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/executor.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/api_keys.h"
#include "storage/pg_pool.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"
#include "supervisor/reactivity/subscription.h"
#include "supervisor/runner/admission.h"
#include "supervisor/runner/function_runner.h"

namespace isobar::supervisor {

struct FunctionsOptions {
  std::string admin_key;
  // Used when the client sets no deadline.
  absl::Duration default_deadline = absl::Minutes(1);
  absl::Duration default_action_deadline = absl::Minutes(10);
  // False while PostgreSQL is away (storage::PostgresMonitor): calls that would run fail at once,
  // UNAVAILABLE and retryable, instead of each finding out on its own. Unset: always available.
  std::function<bool()> database_available;
};

class FunctionsService final : public isobar::v1::Functions::CallbackService {
 public:
  // Not owned; all must outlive the service.
  FunctionsService(FunctionsOptions options, FunctionRunner& runner, Admission& admission,
                   LiveDeployments& deployments, storage::PgPool& pg, Executor& executor, ReadTracker& tracker,
                   QueryCache& cache)
      : options_(std::move(options)),
        runner_(runner),
        admission_(admission),
        deployments_(deployments),
        api_keys_(pg),
        executor_(executor),
        tracker_(tracker),
        cache_(cache) {
    subscriptions_.authorize = [this](const grpc::ServerContextBase& context, const std::string& deployment) {
      return Authorize(context, deployment);
    };
    subscriptions_.check_identity = CheckIdentity;
    subscriptions_.deployments = &deployments_;
    subscriptions_.tracker = &tracker_;
    subscriptions_.cache = &cache_;
    subscriptions_.run = [this](FunctionCallRequest request, FunctionCallback done) {
      AdmitAndRun(std::move(request), std::move(done));
    };
    subscriptions_.executor = &executor_;
    subscriptions_.query_deadline = options_.default_deadline;
  }

  // An identity must be an object naming its token, subject and issuer, as Convex's UserIdentity does.
  static absl::Status CheckIdentity(const std::string& identity_json);

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
  // An authorized call: identity and idempotency checks, then the query cache or admission.
  void Serve(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
             isobar::v1::FunctionResponse* response, FunctionKind kind, grpc::ServerUnaryReactor* reactor, bool admin);
  // The key's verdict when it is known without the catalog (the admin key, a key verified lately,
  // no key); nullopt otherwise.
  std::optional<absl::StatusOr<bool>> KnownAuthorization(const grpc::ServerContextBase& context,
                                                         const std::string& deployment) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `call` once admitted (the query cache calls this on a miss).
  void AdmitAndRun(FunctionCallRequest call, FunctionCallback done);
  // Whether the call may run public (and, with the admin key, internal) functions of `deployment`.
  absl::StatusOr<bool> Authorize(const grpc::ServerContextBase& context, const std::string& deployment)
      ABSL_LOCKS_EXCLUDED(mu_);

  const FunctionsOptions options_;
  FunctionRunner& runner_;
  Admission& admission_;
  LiveDeployments& deployments_;
  storage::ApiKeys api_keys_;
  Executor& executor_;
  ReadTracker& tracker_;
  QueryCache& cache_;
  SubscriptionEnvironment subscriptions_;
  absl::Mutex mu_;
  struct Verified {
    absl::Time until;
    bool admin;  // a deployment admin key
  };
  absl::flat_hash_map<std::string, Verified> verified_ ABSL_GUARDED_BY(mu_);  // by sha256(deployment, key)
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_FUNCTIONS_SERVICE_H_
