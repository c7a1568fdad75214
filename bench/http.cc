// bench/http: the Convex HTTP API (what ConvexHttpClient speaks) against the gRPC Functions API, same
// supervisor, same app (tests/apps/chat), same calls, alternating rounds, 1 in flight:
//   cached   a query the query cache answers (counters:get): the protocols' own cost
//   worker   a query doing one db.get of another document each call (messages:get): runs on a worker
// The HTTP client keeps its connection alive, as ConvexHttpClient's fetch does. Ratio: HTTP p50 over
// gRPC p50 (medians of 5 rounds). Last line: {"bench":"http", ...}. Run: bazel run -c opt //bench:http
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/harness.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

int Fail(const std::string& what) {
  std::fprintf(stderr, "http: %s\n", what.c_str());
  return 1;
}

// One kept-alive connection, one request at a time.
class HttpClient {
 public:
  HttpClient(const std::string& host, const std::string& port) : stream_(ioc_) {
    net::ip::tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) stream_.connect(endpoints, ec);
    ok_ = !ec;
  }
  bool ok() const { return ok_; }
  // POSTs `body`; true if the answer is 200 with "status":"success".
  bool Post(const std::string& target, const std::string& body) {
    http::request<http::string_body> request(http::verb::post, target, 11);
    request.set(http::field::host, "bench");
    request.set(http::field::content_type, "application/json");
    request.set("Convex-Client", "npm-1.48.0");
    request.body() = body;
    request.prepare_payload();
    beast::error_code ec;
    http::write(stream_, request, ec);
    if (ec) return false;
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response, ec);
    return !ec && response.result() == http::status::ok &&
           absl::StrContains(response.body(), "\"status\":\"success\"");
  }

 private:
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool ok_ = false;
};

int Main() {
  testing::SupervisorProcess supervisor({.workers = 2, .enable_eval = false});
  if (absl::Status started = supervisor.Start(); !started.ok()) return Fail(started.ToString());
  absl::StatusOr<std::string> key = supervisor.Deploy("bench", "tests/apps/chat.modules");
  if (!key.ok()) return Fail(key.status().ToString());
  auto channel = grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials());
  auto functions = isobar::v1::Functions::NewStub(channel);
  const std::string url = supervisor.http_url();  // http://host:port
  const std::string hostport = url.substr(url.find("://") + 3);
  HttpClient client(hostport.substr(0, hostport.rfind(':')), hostport.substr(hostport.rfind(':') + 1));
  if (!client.ok()) return Fail("cannot connect to " + url);

  auto grpc_call = [&](bool mutation, const std::string& path, const std::string& args, std::string* result) {
    testing::FunctionResult called =
        testing::CallFunction(*functions, mutation ? testing::CallKind::kMutation : testing::CallKind::kQuery,
                              {.deployment = "bench", .key = *key, .path = path, .args_json = args});
    if (result != nullptr) *result = called.response.result_json();
    return called.status.ok();
  };
  if (!grpc_call(true, "counters:increment", R"({"name":"n"})", nullptr)) return Fail("counters:increment failed");
  std::vector<std::string> ids;
  for (int batch = 0; batch < 8; ++batch) {
    std::string ids_json;
    if (!grpc_call(true, "messages:sendMany", R"({"channel":"bench","n":3000})", &ids_json)) return Fail("sendMany");
    absl::StatusOr<storage::Value> parsed = storage::ParseConvexJson(ids_json);
    if (!parsed.ok() || parsed->type() != storage::Value::Type::kArray) return Fail("sendMany returned no ids");
    for (const storage::Value& id : parsed->array()) ids.push_back(absl::StrCat(R"({"id":")", id.string(), R"("})"));
  }
  std::atomic<size_t> next{0};
  auto next_args = [&]() -> const std::string& { return ids[next.fetch_add(1) % ids.size()]; };

  const std::string query_url = "/d/bench/api/query";
  auto grpc_cached = [&] { return grpc_call(false, "counters:get", R"({"name":"n"})", nullptr); };
  auto http_cached = [&] {
    return client.Post(query_url, R"({"path":"counters:get","args":[{"name":"n"}],"format":"convex_encoded_json"})");
  };
  auto grpc_worker = [&] { return grpc_call(false, "messages:get", next_args(), nullptr); };
  auto http_worker = [&] {
    return client.Post(query_url, absl::StrCat(R"({"path":"messages:get","args":[)", next_args(),
                                               R"(],"format":"convex_encoded_json"})"));
  };
  if (!http_cached() || !http_worker()) return Fail("the HTTP API did not answer with success");

  std::vector<double> grpc_cached_p50, http_cached_p50, grpc_worker_p50, http_worker_p50;
  for (int round = 0; round < 5; ++round) {
    grpc_cached_p50.push_back(MeasureLatency(grpc_cached, 100, 2000, absl::Seconds(2)).p50_us);
    http_cached_p50.push_back(MeasureLatency(http_cached, 100, 2000, absl::Seconds(2)).p50_us);
    grpc_worker_p50.push_back(MeasureLatency(grpc_worker, 50, 1000, absl::Seconds(3)).p50_us);
    http_worker_p50.push_back(MeasureLatency(http_worker, 50, 1000, absl::Seconds(3)).p50_us);
  }
  const double cached_ratio = Median(http_cached_p50) / Median(grpc_cached_p50);
  const double worker_ratio = Median(http_worker_p50) / Median(grpc_worker_p50);
  std::printf("cached query p50: HTTP %.0f us vs gRPC %.0f us: %.2fx\n", Median(http_cached_p50),
              Median(grpc_cached_p50), cached_ratio);
  std::printf("worker query p50: HTTP %.0f us vs gRPC %.0f us: %.2fx\n", Median(http_worker_p50),
              Median(grpc_worker_p50), worker_ratio);
  std::printf(
      "{\"bench\": \"http\", \"cached\": {\"http_p50_us\": %s, \"grpc_p50_us\": %s, \"ratio\": %s}, "
      "\"worker\": {\"http_p50_us\": %s, \"grpc_p50_us\": %s, \"ratio\": %s}}\n",
      Num(Median(http_cached_p50)).c_str(), Num(Median(grpc_cached_p50)).c_str(), Num(cached_ratio).c_str(),
      Num(Median(http_worker_p50)).c_str(), Num(Median(grpc_worker_p50)).c_str(), Num(worker_ratio).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
