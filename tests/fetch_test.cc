// Actions' fetch end to end (issue 19): a real supervisor, sandboxed workers and PostgreSQL; the egress
// app (tests/apps/egress) calls a plain Node HTTP server on loopback (tests/clients/fetch_peer_server.js),
// which the test's deployments are allowed to reach by an operator's egress policy, and counts every
// connection made to it, so the SSRF matrix can show that a refused fetch reached nothing.

#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/node_server.h"
#include "tests/metrics_scrape.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

// The Node peer server, which counts the connections made to it.
class Peer : public NodeServer {
 public:
  Peer() : NodeServer("fetch_peer_server.js") {}
  // Connections made to it so far (this question's own included).
  int Connections() const {
    ShellResult out = RunShell(absl::StrCat("curl -s ", url("/connections")));
    int n = -1;
    EXPECT_TRUE(absl::SimpleAtoi(out.out, &n)) << out.out;
    return n;
  }
};

class FetchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
    peer_ = new Peer();
    for (const char* name : {"fetching", "guarded"}) {
      absl::StatusOr<std::string> key = supervisor_->Deploy(name, "tests/apps/egress.modules");
      ASSERT_TRUE(key.ok()) << key.status();
      keys_[name] = *key;
    }
    // The operator lets "fetching" reach the peer (and only it: loopback on the peer's port).
    ASSERT_EQ(SetEgress("fetching", absl::StrCat(R"({"allow":["127.0.0.1/32"],"ports":[)", peer_->port(), "]}")).error_code(),
              grpc::StatusCode::OK);
  }
  static void TearDownTestSuite() {
    delete peer_;
    delete supervisor_;
  }

  static grpc::Status SetEgress(const std::string& deployment, const std::string& policy_json,
                                const std::string& key = "", isobar::v1::EgressPolicy* out = nullptr) {
    auto stub = isobar::v1::Deployments::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    if (key.empty()) {
      supervisor_->Authorize(context);
    } else {
      context.AddMetadata("authorization", "Bearer " + key);
    }
    isobar::v1::SetEgressRequest request;
    request.set_deployment(deployment);
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(policy_json, request.mutable_policy()).ok()) << policy_json;
    isobar::v1::EgressPolicy ignored;
    return stub->SetEgress(&context, request, out != nullptr ? out : &ignored);
  }

  // Runs action `path` of `deployment` with `args_json`; its result as Convex JSON.
  static std::string Action(const std::string& deployment, const std::string& path, const std::string& args_json) {
    auto stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    FunctionResult result = CallFunction(*stub, CallKind::kAction,
                                         {.deployment = deployment,
                                          .key = keys_[deployment],
                                          .path = path,
                                          .args_json = args_json,
                                          .timeout = absl::Seconds(120)});
    EXPECT_TRUE(result.status.ok()) << path << ": " << result.status.error_message() << "\n" << supervisor_->log();
    return result.response.result_json();
  }
  static std::string Get(const std::string& deployment, const std::string& url, const std::string& init = "{}") {
    return Action(deployment, "fetcher:get", absl::StrCat(R"({"url":")", url, R"(","init":)", init, "}"));
  }

  static SupervisorProcess* supervisor_;
  static Peer* peer_;
  static std::map<std::string, std::string> keys_;  // API keys by deployment
};
SupervisorProcess* FetchTest::supervisor_ = nullptr;
Peer* FetchTest::peer_ = nullptr;
std::map<std::string, std::string> FetchTest::keys_;

TEST_F(FetchTest, ResponsesAsTheWebHasThem) {
  const std::string hello = Get("fetching", peer_->url("/hello"));
  // (Convex JSON lists an object's fields sorted by name.)
  EXPECT_THAT(hello, HasSubstr(R"("ok":true,"redirected":false,"setCookies":["a=1","b=2"],"status":200,"statusText":"OK","type":"basic")"));
  EXPECT_THAT(hello, HasSubstr(absl::StrCat(R"("url":")", peer_->url("/hello"), R"(")")));
  EXPECT_THAT(hello, HasSubstr(R"(["x-test","one"])"));
  EXPECT_THAT(hello, HasSubstr(R"("setCookies":["a=1","b=2"])"));
  EXPECT_THAT(hello, HasSubstr(R"("body":"hello")"));
  // Compressed bodies arrive decoded; statusText comes from the status, as Convex makes it.
  EXPECT_THAT(Get("fetching", peer_->url("/gzip")), HasSubstr(R"("body":"squeezed squeezed )"));
  const std::string teapot = Get("fetching", peer_->url("/status?code=418"));
  EXPECT_THAT(teapot, HasSubstr(R"("ok":false)"));
  EXPECT_THAT(teapot, HasSubstr(R"("status":418,"statusText":"I'm a teapot")"));
  EXPECT_THAT(Get("fetching", peer_->url("/status?code=204")), HasSubstr(R"("status":204)"));
  EXPECT_THAT(Get("fetching", peer_->url("/hello"), R"({"method":"HEAD"})"), HasSubstr(R"("body":"")"));
}

TEST_F(FetchTest, EveryBodyKindGoesOut) {
  struct Kind {
    std::string kind;
    std::string content_type;  // empty: none sent
    std::string hex;           // the body the peer received
  };
  const std::vector<Kind> kinds = {
      {"string", "text/plain;charset=UTF-8", "68656c6c6f2c20c3bc6ec3af636f6465"},  // "hello, ünïcode" in UTF-8
      {"arrayBuffer", "", "000102ff"},
      {"uint8Array", "", "6869"},
      {"blob", "text/x-blob", "626c6f62207061727473"},
      {"urlSearchParams", "application/x-www-form-urlencoded;charset=UTF-8", "713d612b62266e3d31"},
      {"stream", "", "70617274303b70617274313b70617274323b"},
  };
  for (const Kind& kind : kinds) {
    SCOPED_TRACE(kind.kind);
    const std::string echo = Action("fetching", "fetcher:send", absl::StrCat(R"({"base":")", peer_->url(""),
                                                                           R"(","kind":")", kind.kind, R"("})"));
    EXPECT_THAT(echo, HasSubstr(R"("method":"POST")"));
    EXPECT_THAT(echo, HasSubstr(R"("x-custom":"yes")"));
    EXPECT_THAT(echo, HasSubstr(absl::StrCat(R"("hex":")", kind.hex, R"(")")));
    if (!kind.content_type.empty()) {
      EXPECT_THAT(echo, HasSubstr(absl::StrCat(R"("content-type":")", kind.content_type, R"(")")));
    } else {
      EXPECT_THAT(echo, ::testing::Not(HasSubstr("content-type")));  // curl adds none of its own
    }
    if (kind.kind == "stream") {
      EXPECT_THAT(echo, HasSubstr(R"("transfer-encoding":"chunked")"));
    }
  }
  const std::string form = Action("fetching", "fetcher:send", absl::StrCat(R"({"base":")", peer_->url(""), R"(","kind":"formData"})"));
  EXPECT_THAT(form, HasSubstr("multipart/form-data; boundary="));
  EXPECT_THAT(form, HasSubstr(R"(name=\"file\"; filename=\"a.txt\")"));
  EXPECT_THAT(form, HasSubstr("file body"));
  const std::string big = Action("fetching", "fetcher:send", absl::StrCat(R"({"base":")", peer_->url(""), R"(","kind":"bigStream"})"));
  EXPECT_THAT(big, HasSubstr(R"({"allA":true,)"));
  EXPECT_THAT(big, HasSubstr(absl::StrCat(R"("length":)", 3 << 20)));
  EXPECT_THAT(big, HasSubstr(R"("transfer-encoding":"chunked")"));
}

// Peak resident memory (VmHWM) of a process, in KiB.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      int64_t kib = 0;
      (void)absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib);
      return kib;
    }
  }
  return -1;
}

TEST_F(FetchTest, A50MBResponseStreamsThroughInBoundedMemory) {
  constexpr int64_t kLength = 50'000'000;
  const int64_t before = PeakRssKib(supervisor_->pid());
  const std::string result = Action("fetching", "fetcher:stream", absl::StrCat(R"({"url":")", peer_->url(absl::StrCat("/big?n=", kLength)), R"("})"));
  // Read a chunk at a time by the action, as they came (a JavaScript number: 5e+07 in Convex JSON).
  EXPECT_THAT(result, HasSubstr(R"("length":5e+07)"));
  EXPECT_THAT(result, HasSubstr(absl::StrCat(R"("contentLength":")", kLength, R"(")")));
  EXPECT_THAT(result, ::testing::Not(HasSubstr(R"("chunks":1,)")));
  const int64_t after = PeakRssKib(supervisor_->pid());
  std::cout << "supervisor peak RSS " << before << " KiB before, " << after << " KiB after a 50 MB fetch\n";
  // Held whole once, the body would add 50 MB (base64 for the worker: 67 MB more).
  EXPECT_LT(after - before, 32 * 1024) << "supervisor peak RSS " << before << " -> " << after << " KiB";
}

TEST_F(FetchTest, RedirectsAbortsAndTimers) {
  const std::string to_hello = absl::StrCat("/redirect?status=302&to=", peer_->url("/hello"));
  const std::string followed = Get("fetching", peer_->url(to_hello));
  EXPECT_THAT(followed, HasSubstr(absl::StrCat(R"("url":")", peer_->url("/hello"), R"(")")));
  EXPECT_THAT(followed, HasSubstr(R"("redirected":true)"));
  EXPECT_THAT(followed, HasSubstr(R"("body":"hello")"));
  const std::string manual = Get("fetching", peer_->url(to_hello), R"({"redirect":"manual"})");
  EXPECT_THAT(manual, HasSubstr(R"("status":302,"statusText":"Found")"));
  EXPECT_THAT(Get("fetching", peer_->url(to_hello), R"({"redirect":"error"})"),
              HasSubstr(R"("error":{"isTypeError":true,"message":"fetch attempted redirect","name":"TypeError"})"));

  const std::string aborted = Action("fetching", "fetcher:abort", absl::StrCat(R"({"url":")", peer_->url("/slow"), R"(","afterMs":100})"));
  EXPECT_THAT(aborted, HasSubstr(R"("isTypeError":false,"message":"The signal has been aborted","name":"AbortError")"));
  const std::string early = Action("fetching", "fetcher:abort", absl::StrCat(R"({"url":")", peer_->url("/slow"), R"(","afterMs":0})"));
  EXPECT_THAT(early, HasSubstr(R"("name":"AbortError")"));

  EXPECT_EQ(Action("fetching", "fetcher:timers", "{}"),
            R"({"elapsedAtLeast":true,"events":["timeout","interval x3","0 ms interval ticked and yielded"]})");
  auto stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  FunctionResult query = CallFunction(*stub, CallKind::kQuery, {.deployment = "fetching", .key = keys_["fetching"], .path = "fetcher:fetchInQuery"});
  EXPECT_THAT(query.response.result_json(), HasSubstr("Can't use fetch() in queries and mutations"));
}

TEST_F(FetchTest, MalformedRequestsAreTypeErrors) {
  EXPECT_THAT(Get("fetching", "ftp://example.com/"),
              HasSubstr("Unsupported URL scheme -- http and https are supported (scheme was ftp)"));
  EXPECT_THAT(Get("fetching", "not a url"), HasSubstr(R"("isTypeError":true)"));
  EXPECT_THAT(Get("fetching", peer_->url("/echo"), R"({"method":"GET","body":"x"})"),
              HasSubstr("Request with GET/HEAD method cannot have body"));
  EXPECT_THAT(Get("fetching", peer_->url("/echo"), R"({"headers":{"x-bad":"a\r\nInjected: 1"}})"),
              HasSubstr(R"("isTypeError":true,"message":"Invalid header value for 'x-bad'")"));
}

TEST_F(FetchTest, AnHttpActionProxiesAStream) {
  ShellResult out = RunShell(absl::StrCat("curl -s -i '", supervisor_->site_url(), "/d/fetching/proxy?to=",
                                          peer_->url("/big?n=300000"), "' | wc -c; curl -s -i '", supervisor_->site_url(),
                                          "/d/fetching/proxy?to=", peer_->url("/hello"), "'"));
  EXPECT_THAT(out.out, HasSubstr("x-proxied: 1"));
  EXPECT_THAT(out.out, HasSubstr("\r\n\r\nhello"));
  int64_t bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(out.out.substr(0, out.out.find('\n')), &bytes)) << out.out;
  EXPECT_GT(bytes, 300000);  // the body and the head
}

TEST_F(FetchTest, LimitsAtTheirBoundaryAndOnePast) {
  ASSERT_TRUE(SetEgress("fetching", absl::StrCat(R"({"allow":["127.0.0.1/32"],"ports":[)", peer_->port(),
                                                 R"(],"maxResponseBytes":"1000","maxConcurrent":2,"timeoutSeconds":2})"))
                  .ok());
  EXPECT_THAT(Get("fetching", peer_->url("/big?n=1000")), HasSubstr(R"("status":200)"));
  EXPECT_THAT(Get("fetching", peer_->url("/big?n=1001")),
              HasSubstr(R"("message":"the response body is over the deployment's limit of 1000 bytes")"));
  // Two at once: with two hanging, a third is refused; the two end at the deadline.
  EXPECT_EQ(Action("fetching", "fetcher:saturate",
                   absl::StrCat(R"({"quick":")", peer_->url("/hello"), R"(","slow":")", peer_->url("/slow"), R"("})")),
            R"json({"hanging":["the fetch ran out of time","the fetch ran out of time"],)json"
            R"json("refusal":"Too many concurrent fetches (the deployment's limit is 2)"})json");
  ASSERT_TRUE(SetEgress("fetching", absl::StrCat(R"({"allow":["127.0.0.1/32"],"ports":[)", peer_->port(), "]}")).ok());
  ASSERT_TRUE(SetEgress("fetching", absl::StrCat(R"({"allow":["127.0.0.1/32"],"ports":[)", peer_->port(), R"(],"disabled":true})")).ok());
  EXPECT_THAT(Get("fetching", peer_->url("/hello")), HasSubstr("fetch is turned off for this deployment"));
  ASSERT_TRUE(SetEgress("fetching", absl::StrCat(R"({"allow":["127.0.0.1/32"],"ports":[)", peer_->port(), "]}")).ok());
}

// Every spelling of an address a deployment may not reach, refused with the reason, and nothing
// reaches the peer.
TEST_F(FetchTest, TheSsrfMatrix) {
  const int before = peer_->Connections();
  const std::string admin = absl::StrCat("Authorization: Bearer ", supervisor_->admin_key(), "\r\n");
  const double denied_before =
      std::max(0.0, MetricSample(ScrapeMetrics(*supervisor_, admin), R"(isobar_fetches_total{outcome="denied"})"));
  const std::string port = absl::StrCat(":", peer_->port());
  struct Case {
    std::string url;
    std::string refusal;
  };
  const std::vector<Case> cases = {
      {"http://127.0.0.1" + port + "/hello", "(127.0.0.1 port " + port.substr(1) + ") is not allowed: it is a loopback address"},
      {"http://127.9.9.9" + port + "/", "is not allowed: it is a loopback address"},
      {"http://[::1]" + port + "/", "is not allowed: it is a loopback address"},
      {"http://localhost" + port + "/", "is not allowed: it is a loopback address"},
      {"http://2130706433" + port + "/", "is not allowed: it is a loopback address"},
      {"http://0x7f000001" + port + "/", "is not allowed: it is a loopback address"},
      {"http://0177.0.0.1" + port + "/", "is not allowed: it is a loopback address"},
      {"http://[::ffff:127.0.0.1]" + port + "/", "is not allowed: it is a loopback address"},
      {"http://0.0.0.0" + port + "/", "is not allowed: it is an unspecified address"},
      {"http://10.0.0.1/", "is not allowed: it is a private address"},
      {"http://172.16.0.1/", "is not allowed: it is a private address"},
      {"http://192.168.0.1/", "is not allowed: it is a private address"},
      {"http://[fc00::1]/", "is not allowed: it is a private address"},
      {"http://169.254.169.254/latest/meta-data/", "is not allowed: it is a link-local address"},
      {"http://[fe80::1]/", "is not allowed: it is a link-local address"},
      {"http://[::ffff:169.254.169.254]/", "is not allowed: it is a link-local address"},
      {"http://100.100.100.200/", "is not allowed: it is a shared"},
      {"http://224.0.0.1/", "is not allowed: it is a multicast address"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    EXPECT_THAT(Get("guarded", c.url), HasSubstr(c.refusal));
  }
  // Allowed to reach loopback on the peer's port, "fetching" is still refused a redirect to
  // anywhere else, and the server's own endpoints whatever its policy says.
  const std::string grpc_port = supervisor_->address().substr(supervisor_->address().rfind(':') + 1);
  EXPECT_THAT(Get("fetching", peer_->url(absl::StrCat("/redirect?status=307&to=http://127.0.0.1:", grpc_port, "/"))),
              HasSubstr("is not allowed: it is this server's own endpoint"));
  EXPECT_THAT(Get("fetching", peer_->url("/redirect?status=302&to=http://127.0.0.1:1/")),
              HasSubstr("is not allowed: the port is not one the deployment's egress policy allows"));
  ASSERT_TRUE(SetEgress("guarded", absl::StrCat(R"({"allow":["127.0.0.0/8","::1"],"ports":[)", grpc_port, "]}")).ok());
  EXPECT_THAT(Get("guarded", absl::StrCat("http://127.0.0.1:", grpc_port, "/")), HasSubstr("it is this server's own endpoint"));
  ASSERT_TRUE(SetEgress("guarded", "{}").ok());
  // The peer saw only the two redirects, and our own two questions.
  EXPECT_EQ(peer_->Connections(), before + 3);
  // /metrics counts each refusal as denied by the egress policy.
  EXPECT_EQ(MetricSample(ScrapeMetrics(*supervisor_, admin), R"(isobar_fetches_total{outcome="denied"})") - denied_before,
            static_cast<double>(cases.size() + 3));
}

TEST_F(FetchTest, OnlyTheOperatorSetsEgress) {
  std::string tenant_admin;
  absl::StatusOr<std::string> key = supervisor_->Deploy("tenant", "tests/apps/egress.modules", &tenant_admin);
  ASSERT_TRUE(key.ok()) << key.status();
  keys_["tenant"] = *key;
  EXPECT_EQ(SetEgress("tenant", R"({"allow":["0.0.0.0/0"]})", tenant_admin).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(SetEgress("tenant", R"({"allow":["10.0.0.0/33"]})").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(SetEgress("nowhere", "{}").error_code(), grpc::StatusCode::NOT_FOUND);
  // isobarctl, as an operator types it.
  const std::string isobarctl = absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(),
                                             " --data-dir=", supervisor_->data_dir(), " egress ");
  ShellResult set = RunShell(isobarctl + R"(set tenant '{"allowHosts":["api.example.com"],"ports":[443]}' 2>&1)");
  EXPECT_EQ(set.status, 0) << set.out;
  EXPECT_THAT(set.out, HasSubstr(R"("allowHosts": [)"));
  ShellResult got = RunShell(isobarctl + "get tenant 2>&1");
  EXPECT_THAT(got.out, HasSubstr("api.example.com"));
  EXPECT_THAT(got.out, HasSubstr(R"("maxConcurrent": 32)"));
  EXPECT_THAT(Get("tenant", "http://93.184.216.34/"),
              HasSubstr("is not allowed: the host is not one the deployment's egress policy allows"));
  EXPECT_EQ(RunShell(isobarctl + "set tenant 'not json' 2>&1").status, 2 << 8);
  ShellResult reset = RunShell(isobarctl + "reset tenant 2>&1");
  EXPECT_EQ(reset.status, 0) << reset.out;
  EXPECT_THAT(reset.out, ::testing::Not(HasSubstr("api.example.com")));
}

}  // namespace
}  // namespace isobar::testing
