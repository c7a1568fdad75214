// Small helpers for benchmarks: latency samples, percentiles, closed-loop throughput, and the one JSON
// line every benchmark ends with (PERFORMANCE.md: bounded time, medians and ratios, floor in the same run).
#ifndef ISOBAR_BENCH_HARNESS_H_
#define ISOBAR_BENCH_HARNESS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace isobar::bench {

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
  size_t samples = 0;
};

// Calls `op` `warmup` times untimed, then until `count` samples or `budget` wall time, one at a time.
// `op` returns false on failure, which aborts the benchmark.
Latency MeasureLatency(const std::function<bool()>& op, int warmup, int count, absl::Duration budget);

// Runs `op` from `threads` threads for `duration`; returns completed calls per second.
double MeasureThroughput(const std::function<bool()>& op, int threads, absl::Duration duration);

// The median (the upper one for an even count) of `values`, which must not be empty.
double Median(std::vector<double> values);

// Formats a double with 2 decimals for the JSON line.
std::string Num(double value);

}  // namespace isobar::bench

#endif  // ISOBAR_BENCH_HARNESS_H_
