// Liveness and readiness over HTTP, for orchestrators and load balancers (Kubernetes probes, say), on
// the main HTTP listener:
//
//   GET /healthz  200 "ok": the process is up and answers HTTP.
//   GET /readyz   200 "ready" when it can serve calls: PostgreSQL reachable, at least one worker ready,
//                 not draining; otherwise 503 with one line per reason ("not ready: PostgreSQL is
//                 unreachable", ...). The facts are read at each request, never cached.
//
//   HealthRoutes health([&] { return ReadinessFacts{pg.available(), ReadyWorkers(pool), draining}; });
//   if (health.Serve(request, reply)) return;   // any other path: `reply` untouched, the caller's
//
// gRPC's health service (grpc.health.v1) tells the same facts to gRPC clients; supervisor_main keeps
// both in step. Neither route needs a key: they tell nothing about deployments.
#ifndef ISOBAR_SUPERVISOR_HTTP_HEALTH_ROUTES_H_
#define ISOBAR_SUPERVISOR_HTTP_HEALTH_ROUTES_H_

#include <functional>
#include <string>
#include <utility>

#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

struct ReadinessFacts {
  bool database_available = false;
  int workers_ready = 0;
  bool draining = false;
};

// The reasons `facts` are not ready, one per line ("" when ready).
std::string NotReadyBecause(const ReadinessFacts& facts);

class HealthRoutes {
 public:
  explicit HealthRoutes(std::function<ReadinessFacts()> facts) : facts_(std::move(facts)) {}

  // Answers /healthz and /readyz (GET or HEAD; another method: 405) and returns true; any other
  // path: false, and `reply` is left to the caller.
  bool Serve(const HttpRequest& request, HttpServer::Reply& reply) const;

 private:
  std::function<ReadinessFacts()> facts_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_HEALTH_ROUTES_H_
