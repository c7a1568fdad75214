// One Functions.Subscribe stream: a client's live query set (live_query_set.h) over gRPC.
//
// The client adds and removes queries ({query_id, path, args}) and may replace its identity; the
// server answers with transitions {start_version, end_version, modifications}, as the live query set
// makes them (only what changed; at most two unsent).
//
// Errors that end the stream: a bad key (UNAUTHENTICATED), a bad identity, a query id added twice or
// removed without being there, more than `max_queries` (INVALID_ARGUMENT).
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.pb.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/live_query_set.h"

namespace isobar::supervisor {

struct SubscriptionEnvironment {
  // Whether the caller's key admits the deployment (true: internal functions too).
  std::function<absl::StatusOr<bool>(const grpc::ServerContextBase&, const std::string& deployment)> authorize;
  std::function<absl::Status(const std::string& identity_json)> check_identity;
  // The identity of the end user whose token the call carries (nullopt: none), or why it is refused;
  // `expires` gets the token's expiry, when the stream ends (UNAUTHENTICATED, as Convex ends a session).
  std::function<absl::StatusOr<std::optional<std::string>>(const grpc::ServerContextBase&, const std::string& deployment,
                                                           absl::Time* expires)>
      user_identity;
  LiveDeployments* deployments = nullptr;
  QuerySetEnvironment query_set;
};

// A new stream's reactor; it owns itself until gRPC is done with it.
grpc::ServerBidiReactor<isobar::v1::SubscribeRequest, isobar::v1::Transition>* NewSubscription(
    grpc::CallbackServerContext* context, const SubscriptionEnvironment& environment);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_
