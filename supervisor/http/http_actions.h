// HTTP actions (convex/http.ts): the site listener's requests, run by the deployment's router.
//
//   <site url>/d/<deployment>/<path>?<query>   any method
//
// The router matches on "/<path>" (the deployment's prefix taken off); the handler's `request.url` is
// the URL as the client sent it. The request and its body go to a worker in one piece (at most the
// listener's 20 MiB, Convex's HTTP_ACTION_BODY_LIMIT), and so does the response. HTTP actions are
// public, as on Convex: no key; the handler checks what it needs.
//
// Answers as Convex gives them: the handler's Response (hop-by-hop headers dropped, a HEAD's body
// left out); 404 "No matching routes found" when no route matches (the router's own 404 when its
// lookup differs); a failed handler as 500 with its message; the system's failures (a full queue,
// the database away) as 503.
#ifndef ISOBAR_SUPERVISOR_HTTP_HTTP_ACTIONS_H_
#define ISOBAR_SUPERVISOR_HTTP_HTTP_ACTIONS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/executor.h"
#include "storage/value.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/http/http_server.h"
#include "supervisor/runner/http_response_stream.h"

namespace isobar::supervisor {

// Convex's HTTP_ACTION_BODY_LIMIT: a request's and a response's body.
inline constexpr size_t kHttpActionBodyLimit = 20 << 20;

class HttpActions {
 public:
  // Not owned; both must outlive this. `site_url` is the base of the deployments' site URLs
  // (base/deployment_url.h): with an origin per deployment, a request's Host names its deployment and
  // the path form /d/<deployment>/ is not served (it would put every deployment back on one origin).
  HttpActions(Gateway& gateway, Executor& executor, std::string site_url = "")
      : gateway_(gateway), executor_(executor), site_url_(std::move(site_url)) {}

  // On the HTTP server's thread; the call itself goes through admission on the executor.
  void Handle(HttpRequest request, HttpServer::Reply reply);

 private:
  void Run(HttpRequest request, std::string deployment, std::string path, HttpServer::Reply reply,
           std::shared_ptr<HttpRequestBody> streamed_body);

  Gateway& gateway_;
  Executor& executor_;
  const std::string site_url_;
};

// The route of the deployment's router (its analysis's httpRoutes: [{path, method}], a prefix as
// "/prefix/*") that `method` and `path` reach, as the convex package's HttpRouter.lookup finds it (HEAD
// as GET, an exact path first, then the longest prefix): "GET /profile/*"; nullopt when none does.
std::optional<std::string> MatchHttpRoute(const storage::Value& routes, absl::string_view method, absl::string_view path);
// The request as the worker's HTTP_ACTION call carries it: {url, method, headerPairs, body}, or, when
// its body is `streamed`, {..., body: null, streamed: true}.
std::string HttpActionRequestJson(const HttpRequest& request, absl::string_view url, bool streamed = false);
// The router's response JSON as an HTTP response; INVALID_ARGUMENT when it is malformed or its body
// is over `max_body_bytes`.
absl::StatusOr<HttpResponse> HttpActionResponse(absl::string_view json, size_t max_body_bytes);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_HTTP_ACTIONS_H_
