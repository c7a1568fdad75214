#include "bench/harness.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace isobar::bench {

Latency MeasureLatency(const std::function<bool()>& op, int warmup, int count, absl::Duration budget) {
  for (int i = 0; i < warmup; ++i) {
    if (!op()) {
      std::fprintf(stderr, "benchmark operation failed during warm-up\n");
      std::exit(1);
    }
  }
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(count));
  const absl::Time end = absl::Now() + budget;
  while (static_cast<int>(samples.size()) < count && absl::Now() < end) {
    absl::Time start = absl::Now();
    if (!op()) {
      std::fprintf(stderr, "benchmark operation failed\n");
      std::exit(1);
    }
    samples.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  std::sort(samples.begin(), samples.end());
  Latency latency;
  latency.samples = samples.size();
  if (!samples.empty()) {
    latency.p50_us = samples[samples.size() / 2];
    latency.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  }
  return latency;
}

double MeasureThroughput(const std::function<bool()>& op, int threads, absl::Duration duration) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> pool;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      uint64_t local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op()) {
          failed = true;
          break;
        }
        ++local;
      }
      done += local;
    });
  }
  std::this_thread::sleep_for(absl::ToChronoMicroseconds(duration));  // the measurement window itself
  stop = true;
  for (std::thread& t : pool) t.join();
  if (failed) {
    std::fprintf(stderr, "benchmark operation failed under load\n");
    std::exit(1);
  }
  return static_cast<double>(done.load()) / absl::ToDoubleSeconds(absl::Now() - start);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string Num(double value) { return absl::StrFormat("%.2f", value); }

}  // namespace isobar::bench
