// bench/fetch: an action's fetch of 1 MB from a loopback server, through the supervisor's egress client
// (the guard, libcurl, the host calls, the body streamed into the sandboxed worker in parts), against
// libcurl fetching the same URL in this process with no guard and no sandbox (the floor), in
// alternating rounds on one machine. The action fetches N times in a row and times itself, so the
// call's own overhead is not counted; each floor GET uses a fresh handle (a new connection), as each
// fetch does. Also: one action call with one 1 MB fetch, end to end over gRPC (for context).
// Ratio: Isobar's per-fetch median over the floor's (medians of rounds). Last line: {"bench":"fetch", ...}.
// Run: bazel run -c opt //bench:fetch
#include <curl/curl.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/node_server.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

constexpr int kBytes = 1 << 20;
constexpr int kFetchesPerRound = 20;
constexpr int kRounds = 5;

int Fail(const std::string& what) {
  std::fprintf(stderr, "fetch: %s\n", what.c_str());
  return 1;
}

size_t Count(char*, size_t size, size_t count, void* total) {
  *static_cast<size_t*>(total) += size * count;
  return size * count;
}

// One GET with a fresh libcurl handle: its wall time in microseconds, or -1.
double CurlGet(const std::string& url, size_t expected = kBytes) {
  CURL* curl = curl_easy_init();
  size_t total = 0;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Count);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &total);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  const absl::Time start = absl::Now();
  const CURLcode code = curl_easy_perform(curl);
  const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
  curl_easy_cleanup(curl);
  return code == CURLE_OK && total == expected ? us : -1;
}

int Main() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  testing::NodeServer peer("fetch_peer_server.js");
  if (peer.port() == 0) return Fail("the peer did not start");
  testing::SupervisorProcess supervisor({.workers = 2});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  absl::StatusOr<std::string> key = supervisor.Deploy("bench", "tests/apps/egress.modules");
  if (!key.ok()) return Fail(key.status().ToString());
  auto channel = grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials());
  {
    auto deployments = isobar::v1::Deployments::NewStub(channel);
    grpc::ClientContext context;
    supervisor.Authorize(context);
    isobar::v1::SetEgressRequest request;
    request.set_deployment("bench");
    request.mutable_policy()->add_allow("127.0.0.1/32");
    request.mutable_policy()->add_ports(static_cast<uint32_t>(peer.port()));
    isobar::v1::EgressPolicy policy;
    grpc::Status set = deployments->SetEgress(&context, request, &policy);
    if (!set.ok()) return Fail(set.error_message());
  }
  auto functions = isobar::v1::Functions::NewStub(channel);
  const std::string url = peer.url(absl::StrCat("/big?n=", kBytes));
  auto action = [&](const std::string& path, const std::string& args) -> absl::StatusOr<storage::Value> {
    testing::FunctionResult result = testing::CallFunction(
        *functions, testing::CallKind::kAction,
        {.deployment = "bench", .key = *key, .path = path, .args_json = args, .timeout = absl::Seconds(60)});
    if (!result.status.ok()) return absl::UnavailableError(result.status.error_message());
    return storage::ParseConvexJson(result.response.result_json());
  };
  const std::string repeat_args = absl::StrCat(R"({"url":")", url, R"(","n":)", kFetchesPerRound, "}");
  // Warm up both paths.
  for (int i = 0; i < 3; ++i) {
    if (CurlGet(url) < 0) return Fail("libcurl's GET failed");
    absl::StatusOr<storage::Value> warm = action("fetcher:repeat", repeat_args);
    if (!warm.ok()) return Fail(warm.status().ToString());
  }
  // A 5-byte body: what each fetch costs apart from its bytes.
  const std::string small_url = peer.url("/hello");
  const std::string small_args = absl::StrCat(R"({"url":")", small_url, R"(","n":)", kFetchesPerRound, "}");
  std::vector<double> isobar_round, floor_round, isobar_small_round, floor_small_round, head_round, parts_round;
  for (int round = 0; round < kRounds; ++round) {
    absl::StatusOr<storage::Value> small = action("fetcher:repeat", small_args);
    if (!small.ok() || small->Get("us").type() != storage::Value::Type::kFloat64) return Fail("the small fetches failed");
    isobar_small_round.push_back(small->Get("us").float64() / kFetchesPerRound);
    std::vector<double> small_gets;
    for (int i = 0; i < kFetchesPerRound; ++i) small_gets.push_back(CurlGet(small_url, 5));
    floor_small_round.push_back(Median(small_gets));
    absl::StatusOr<storage::Value> timed = action("fetcher:repeat", repeat_args);
    if (!timed.ok()) return Fail(timed.status().ToString());
    const storage::Value& us = timed->Get("us");
    if (us.type() != storage::Value::Type::kFloat64 || timed->Get("bytes").float64() != double{kBytes} * kFetchesPerRound) {
      return Fail("the action read short");
    }
    isobar_round.push_back(us.float64() / kFetchesPerRound);
    head_round.push_back(timed->Get("headUs").float64() / kFetchesPerRound);
    parts_round.push_back(timed->Get("parts").float64() / kFetchesPerRound);
    std::vector<double> gets;
    for (int i = 0; i < kFetchesPerRound; ++i) {
      const double get = CurlGet(url);
      if (get < 0) return Fail("libcurl's GET failed");
      gets.push_back(get);
    }
    floor_round.push_back(Median(gets));
  }
  Latency one_call = MeasureLatency(
      [&] { return action("fetcher:stream", absl::StrCat(R"({"url":")", url, R"("})")).ok(); }, 3, 30, absl::Seconds(20));
  const double isobar_us = Median(isobar_round), floor_us = Median(floor_round);
  // What the egress log says of the last request (how many parts the body went to the worker in).
  const std::string log = supervisor.log();
  const size_t line = log.rfind("egress: deployment");
  if (line != std::string::npos) std::printf("%s\n", log.substr(line, log.find('\n', line) - line).c_str());
  std::printf("1 MB fetch in an action: %.0f us per fetch (median of %d rounds of %d) vs libcurl in-process %.0f us: %.2fx\n",
              isobar_us, kRounds, kFetchesPerRound, floor_us, isobar_us / floor_us);
  const double small_us = Median(isobar_small_round), small_floor_us = Median(floor_small_round);
  std::printf("of which until fetch() resolved (the head): %.0f us; the body came in %.1f parts\n", Median(head_round),
              Median(parts_round));
  std::printf("5-byte fetch in an action: %.0f us per fetch vs libcurl in-process %.0f us: %.2fx\n", small_us,
              small_floor_us, small_us / small_floor_us);
  std::printf("an action call with one 1 MB fetch, end to end over gRPC: p50 %.0f us, p99 %.0f us\n", one_call.p50_us,
              one_call.p99_us);
  std::printf("{\"bench\":\"fetch\",\"bytes\":%d,\"isobar_fetch_p50_us\":%s,\"libcurl_floor_p50_us\":%s,\"ratio\":%s,"
              "\"small_fetch_p50_us\":%s,\"small_libcurl_p50_us\":%s,\"action_call_p50_us\":%s,\"action_call_p99_us\":%s}\n",
              kBytes, Num(isobar_us).c_str(), Num(floor_us).c_str(), Num(isobar_us / floor_us).c_str(),
              Num(small_us).c_str(), Num(small_floor_us).c_str(), Num(one_call.p50_us).c_str(), Num(one_call.p99_us).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
