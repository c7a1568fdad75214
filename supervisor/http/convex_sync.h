// Convex's sync protocol (what ConvexClient and ConvexReactClient speak) over a WebSocket at
// /d/<deployment>/api/<client version>/sync: Connect, ModifyQuerySet, Mutation, Action,
// Authenticate and Event from the client; Transition (TransitionChunk when large), MutationResponse,
// ActionResponse, AuthError, FatalError and Ping from the server (CONVEX_SEMANTICS.md "Sync protocol").
//
// Each socket's queries are a LiveQuerySet (reactivity/), the machinery Functions.Subscribe uses:
// transitions at one timestamp, only what changed, at most two unsent. A mutation's response carries
// its commit timestamp and is followed by a transition that reaches it, so the client's
// read-your-writes rule holds. Mutations run one at a time in the order sent, each with an
// idempotency key made of the client's session id and request id, so one resent after a reconnect
// is applied once. A JSON {"type":"Ping"} goes out after 15 s of silence (the client gives up on a
// server silent for 60 s).
//
// Identity: Authenticate with tokenType None, or Admin (the server's or the deployment's admin key,
// optionally `impersonating` a user); a User token is refused with AuthError until user tokens are
// checked (issue 19).
#ifndef ISOBAR_SUPERVISOR_HTTP_CONVEX_SYNC_H_
#define ISOBAR_SUPERVISOR_HTTP_CONVEX_SYNC_H_

#include <memory>

#include "base/executor.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/http/http_server.h"
#include "supervisor/reactivity/live_query_set.h"

namespace isobar::supervisor {

class ConvexSync {
 public:
  // Not owned; both must outlive every socket.
  ConvexSync(Gateway& gateway, Executor& executor);

  // HttpServer's upgrade handler: a handler for /d/<deployment>/api/<version>/sync, else null with a
  // 404 in `refusal`.
  std::unique_ptr<WebSocketHandler> Upgrade(const HttpRequest& request, HttpResponse* refusal);

  class Session;  // one socket's (convex_sync.cc)

 private:
  Gateway& gateway_;
  Executor& executor_;
  const QuerySetEnvironment query_sets_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_CONVEX_SYNC_H_
