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
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.pb.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/live_query_set.h"

namespace isobar::supervisor {

// Several supervisors: a stream whose deployment another member serves is relayed to it.
// The stream's side of a relay: what the member sends, and how its stream ended (with its trailers).
class RelaySink {
 public:
  virtual ~RelaySink() = default;
  // `written` runs once the transition was written to the client (the relay reads the next then).
  virtual void RelayTransition(isobar::v1::Transition transition, std::function<void()> written) = 0;
  // `trailers`: the member's trailing metadata (its error detail, ...), for the client.
  virtual void RelayEnded(grpc::Status status, std::vector<std::pair<std::string, std::string>> trailers) = 0;
};
// The member's side: the client's next requests go to it; Cancel when the client's stream ends.
class Relay {
 public:
  virtual ~Relay() = default;
  virtual void Send(isobar::v1::SubscribeRequest request) = 0;
  virtual void Cancel() = 0;
};
// Given the stream's first request: null to serve it here, a relay (already sending `first`) if
// another member serves its deployment, or an error to end the stream with.
using RelayFactory = std::function<absl::StatusOr<std::shared_ptr<Relay>>(
    grpc::CallbackServerContext* context, const isobar::v1::SubscribeRequest& first, std::weak_ptr<RelaySink> sink)>;

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
  RelayFactory relay;  // empty: every stream is served here
};

// A new stream's reactor; it owns itself until gRPC is done with it.
grpc::ServerBidiReactor<isobar::v1::SubscribeRequest, isobar::v1::Transition>* NewSubscription(
    grpc::CallbackServerContext* context, const SubscriptionEnvironment& environment);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_
