#include "supervisor/http/health_routes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {

std::string NotReadyBecause(const ReadinessFacts& facts) {
  std::string why;
  if (facts.draining) absl::StrAppend(&why, "not ready: draining (stopping)\n");
  if (!facts.database_available) absl::StrAppend(&why, "not ready: PostgreSQL is unreachable\n");
  if (facts.workers_ready <= 0) absl::StrAppend(&why, "not ready: no worker is ready\n");
  return why;
}

bool HealthRoutes::Serve(const HttpRequest& request, HttpServer::Reply& reply) const {
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (path != "/healthz" && path != "/readyz") return false;
  HttpResponse response;
  if (request.method != "GET" && request.method != "HEAD") {
    response = HttpResponse::Text(405, absl::StrCat(path, " answers GET and HEAD\n"));
    response.headers.emplace_back("allow", "GET, HEAD");
  } else if (path == "/healthz") {
    response = HttpResponse::Text(200, "ok\n");
  } else {
    const std::string why = NotReadyBecause(facts_());
    response = why.empty() ? HttpResponse::Text(200, "ready\n") : HttpResponse::Text(503, why);
  }
  response.headers.emplace_back("cache-control", "no-store");
  std::move(reply)(std::move(response));
  return true;
}

}  // namespace isobar::supervisor
