// bench/http: Convex's protocols against the gRPC Functions API, same supervisor, same app
// (tests/apps/chat), same calls, alternating rounds, 1 in flight:
//   cached   a query the query cache answers (counters:get) over the HTTP API: the protocols' own cost
//   worker   a query doing one db.get of another document each call (messages:get): runs on a worker
//   update   a mutation (counters:increment, over gRPC) until a live query of that counter shows it:
//            on a sync-protocol WebSocket (what ConvexClient gets) vs on a Functions.Subscribe stream
// The HTTP client keeps its connection alive, as ConvexHttpClient's fetch does. Ratios: Convex's
// protocol's p50 over gRPC's (medians of 5 rounds). Last line: {"bench":"http", ...}.
// Run: bazel run -c opt //bench:http
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

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

// A sync-protocol client watching counters:get {name} (query 0): Connect, ModifyQuerySet, then
// Transitions.
class SyncWatcher {
 public:
  SyncWatcher(const std::string& host, const std::string& port, const std::string& name) : ws_(ioc_) {
    beast::error_code ec;
    net::ip::tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) net::connect(ws_.next_layer(), endpoints, ec);
    if (!ec) ws_.handshake(host, "/d/bench/api/1.48.0/sync", ec);
    if (!ec) ws_.write(net::buffer(std::string(R"({"type":"Connect","sessionId":"bench-session","connectionCount":0})")), ec);
    if (!ec) {
      ws_.write(net::buffer(absl::StrCat(
                    R"({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"counters:get","args":[{"name":")",
                    name, R"("}]}]})")),
                ec);
    }
    ok_ = !ec && NextUpdate();  // the first result
  }
  bool ok() const { return ok_; }
  // Reads until a Transition that updates query 0.
  bool NextUpdate() {
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) return false;
      const std::string message = beast::buffers_to_string(buffer.data());
      if (absl::StrContains(message, "\"type\":\"Transition\"") && absl::StrContains(message, "QueryUpdated")) return true;
    }
  }

 private:
  net::io_context ioc_;
  beast::websocket::stream<net::ip::tcp::socket> ws_;
  bool ok_ = false;
};

// A Functions.Subscribe stream watching counters:get {name}.
class GrpcWatcher {
 public:
  GrpcWatcher(isobar::v1::Functions::Stub& stub, const std::string& key, const std::string& name) {
    context_.AddMetadata("authorization", "Bearer " + key);
    stream_ = stub.Subscribe(&context_);
    isobar::v1::SubscribeRequest request;
    request.set_deployment("bench");
    isobar::v1::AddQuery* add = request.add_changes()->mutable_add();
    add->set_query_id(0);
    add->set_path("counters:get");
    add->set_args_json(absl::StrCat(R"({"name":")", name, R"("})"));
    ok_ = stream_->Write(request) && NextUpdate();
  }
  ~GrpcWatcher() {
    stream_->WritesDone();
    context_.TryCancel();
    stream_->Finish();
  }
  bool ok() const { return ok_; }
  bool NextUpdate() {
    isobar::v1::Transition transition;
    while (stream_->Read(&transition)) {
      for (const auto& m : transition.modifications()) {
        if (m.has_updated()) return true;
      }
    }
    return false;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<isobar::v1::SubscribeRequest, isobar::v1::Transition>> stream_;
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

  SyncWatcher sync(hostport.substr(0, hostport.rfind(':')), hostport.substr(hostport.rfind(':') + 1), "ws");
  GrpcWatcher watched(*functions, *key, "rpc");
  if (!sync.ok() || !watched.ok()) return Fail("the live queries did not start");
  auto ws_update = [&] { return grpc_call(true, "counters:increment", R"({"name":"ws"})", nullptr) && sync.NextUpdate(); };
  auto grpc_update = [&] {
    return grpc_call(true, "counters:increment", R"({"name":"rpc"})", nullptr) && watched.NextUpdate();
  };

  std::vector<double> grpc_cached_p50, http_cached_p50, grpc_worker_p50, http_worker_p50, grpc_update_p50, ws_update_p50;
  for (int round = 0; round < 5; ++round) {
    grpc_cached_p50.push_back(MeasureLatency(grpc_cached, 100, 2000, absl::Seconds(2)).p50_us);
    http_cached_p50.push_back(MeasureLatency(http_cached, 100, 2000, absl::Seconds(2)).p50_us);
    grpc_worker_p50.push_back(MeasureLatency(grpc_worker, 50, 1000, absl::Seconds(3)).p50_us);
    http_worker_p50.push_back(MeasureLatency(http_worker, 50, 1000, absl::Seconds(3)).p50_us);
    grpc_update_p50.push_back(MeasureLatency(grpc_update, 20, 300, absl::Seconds(3)).p50_us);
    ws_update_p50.push_back(MeasureLatency(ws_update, 20, 300, absl::Seconds(3)).p50_us);
  }
  const double cached_ratio = Median(http_cached_p50) / Median(grpc_cached_p50);
  const double worker_ratio = Median(http_worker_p50) / Median(grpc_worker_p50);
  const double update_ratio = Median(ws_update_p50) / Median(grpc_update_p50);
  std::printf("cached query p50: HTTP %.0f us vs gRPC %.0f us: %.2fx\n", Median(http_cached_p50),
              Median(grpc_cached_p50), cached_ratio);
  std::printf("worker query p50: HTTP %.0f us vs gRPC %.0f us: %.2fx\n", Median(http_worker_p50),
              Median(grpc_worker_p50), worker_ratio);
  std::printf("update (mutation until a live query shows it) p50: WebSocket %.0f us vs gRPC Subscribe %.0f us: %.2fx\n",
              Median(ws_update_p50), Median(grpc_update_p50), update_ratio);
  std::printf(
      "{\"bench\": \"http\", \"cached\": {\"http_p50_us\": %s, \"grpc_p50_us\": %s, \"ratio\": %s}, "
      "\"worker\": {\"http_p50_us\": %s, \"grpc_p50_us\": %s, \"ratio\": %s}, "
      "\"update\": {\"websocket_p50_us\": %s, \"grpc_subscribe_p50_us\": %s, \"ratio\": %s}}\n",
      Num(Median(http_cached_p50)).c_str(), Num(Median(grpc_cached_p50)).c_str(), Num(cached_ratio).c_str(),
      Num(Median(http_worker_p50)).c_str(), Num(Median(grpc_worker_p50)).c_str(), Num(worker_ratio).c_str(),
      Num(Median(ws_update_p50)).c_str(), Num(Median(grpc_update_p50)).c_str(), Num(update_ratio).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() { return isobar::bench::Main(); }
