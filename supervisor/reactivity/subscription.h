// One Functions.Subscribe stream (CONVEX_SEMANTICS.md §3): a client's live query set.
//
// The client adds and removes queries ({query_id, path, args}) and may replace its identity; the
// server answers with transitions {start_version, end_version, modifications}. An update evaluates
// every query of the set that needs it (new, invalidated by a commit, or all of them after an identity
// change) at one timestamp through the query cache, so thousands of streams watching one query share
// one execution; results still valid there are kept. A modification is sent only for a query whose
// result or log lines changed (updated / failed), or that was removed. At most two transitions wait
// unsent; while they do, further changes are coalesced into the next update.
//
// Errors that end the stream: a bad key (UNAUTHENTICATED), a bad identity, a query id added twice or
// removed without being there, more than `max_queries` (INVALID_ARGUMENT).
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.pb.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"

namespace isobar::supervisor {

struct SubscriptionEnvironment {
  // Whether the caller's key admits the deployment (true: internal functions too).
  std::function<absl::StatusOr<bool>(const grpc::ServerContextBase&, const std::string& deployment)> authorize;
  std::function<absl::Status(const std::string& identity_json)> check_identity;
  LiveDeployments* deployments = nullptr;
  ReadTracker* tracker = nullptr;
  QueryCache* cache = nullptr;
  QueryCache::Run run;  // a cache miss: through admission to the runner
  Executor* executor = nullptr;
  absl::Duration query_deadline = absl::Minutes(1);
  size_t max_queries = 1024;
};

// A new stream's reactor; it owns itself until gRPC is done with it.
grpc::ServerBidiReactor<isobar::v1::SubscribeRequest, isobar::v1::Transition>* NewSubscription(
    grpc::CallbackServerContext* context, const SubscriptionEnvironment& environment);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_SUBSCRIPTION_H_
