// GET /metrics on the main HTTP listener: the supervisor's metrics in Prometheus's text format
// (supervisor/metrics/). Deployments' and functions' names are in the labels, so by default a scrape
// needs the admin key, as Prometheus's `authorization` setting sends it (`Authorization: Bearer
// <key>`; 401 otherwise); `--metrics-public` opens it (for a listener only the scraper reaches).
//
//   MetricsRoute route([&] { return metrics.Scrape(); }, admin_key, /*open=*/false);
//   if (route.Serve(request, reply)) return;   // any other path: the caller's
#ifndef ISOBAR_SUPERVISOR_HTTP_METRICS_ROUTE_H_
#define ISOBAR_SUPERVISOR_HTTP_METRICS_ROUTE_H_

#include <functional>
#include <string>
#include <utility>

#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

class MetricsRoute {
 public:
  MetricsRoute(std::function<std::string()> scrape, std::string admin_key, bool open)
      : scrape_(std::move(scrape)), admin_key_(std::move(admin_key)), open_(open) {}

  // Answers /metrics (GET or HEAD) and returns true; any other path: false, `reply` left alone.
  bool Serve(const HttpRequest& request, HttpServer::Reply& reply) const;

 private:
  std::function<std::string()> scrape_;
  std::string admin_key_;
  bool open_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_METRICS_ROUTE_H_
