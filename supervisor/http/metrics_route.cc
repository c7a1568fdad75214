#include "supervisor/http/metrics_route.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/sha256.h"

namespace isobar::supervisor {

bool MetricsRoute::Serve(const HttpRequest& request, HttpServer::Reply& reply) const {
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (path != "/metrics") return false;
  HttpResponse response;
  absl::string_view authorization = request.Header("authorization");
  const bool authorized = open_ || (absl::ConsumePrefix(&authorization, "Bearer ") && !admin_key_.empty() &&
                                    ConstantTimeEquals(authorization, admin_key_));
  if (request.method != "GET" && request.method != "HEAD") {
    response = HttpResponse::Text(405, "/metrics answers GET and HEAD\n");
    response.headers.emplace_back("allow", "GET, HEAD");
  } else if (!authorized) {
    response = HttpResponse::Text(401, "/metrics needs the admin key: Authorization: Bearer <admin key>\n");
    response.headers.emplace_back("www-authenticate", "Bearer");
  } else {
    response = HttpResponse::Text(200, scrape_());
    for (auto& [name, value] : response.headers) {
      if (name == "content-type") value = "text/plain; version=0.0.4; charset=utf-8";
    }
  }
  response.headers.emplace_back("cache-control", "no-store");
  std::move(reply)(std::move(response));
  return true;
}

}  // namespace isobar::supervisor
