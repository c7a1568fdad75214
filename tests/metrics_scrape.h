// Reading a supervisor's /metrics in tests: a scrape over HTTP, and one sample of the text.
//
//   const std::string text = ScrapeMetrics(supervisor, "Authorization: Bearer " + key + "\r\n");
//   EXPECT_EQ(MetricSample(text, R"(isobar_workers{state="ready"})"), 2);
#ifndef ISOBAR_TESTS_METRICS_SCRAPE_H_
#define ISOBAR_TESTS_METRICS_SCRAPE_H_

#include <string>

#include "tests/supervisor_fixture.h"

namespace isobar::testing {

// GET /metrics with `headers` (each line ending in CRLF); the whole response (status line, headers, body).
std::string ScrapeMetrics(const SupervisorProcess& supervisor, const std::string& headers);

// The value of the sample named exactly `series` (name and labels), -1 when there is none, -2 when it
// is not a number.
double MetricSample(const std::string& text, const std::string& series);

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_METRICS_SCRAPE_H_
