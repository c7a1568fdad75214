#include "tests/metrics_scrape.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "supervisor/http/raw_http_client_testing.h"

namespace isobar::testing {

std::string ScrapeMetrics(const SupervisorProcess& supervisor, const std::string& headers) {
  supervisor::RawClient client(supervisor.http_port());
  EXPECT_TRUE(client.Send(absl::StrCat("GET /metrics HTTP/1.1\r\nHost: x\r\n", headers, "\r\n")));
  return client.ReadResponse();
}

double MetricSample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " ")) continue;
    double value = 0;
    return absl::SimpleAtod(line, &value) ? value : -2;
  }
  return -1;
}

}  // namespace isobar::testing
