// HttpFetcher against a real listener on loopback (allowed by a test-only policy), and the SSRF
// matrix against a socket that counts every connection made to it.
#include "supervisor/egress/http_fetcher.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/http/http_server.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

// A listening socket on 127.0.0.1 that accepts and counts connections (and sends nothing).
class AcceptCounter {
 public:
  AcceptCounter() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 64), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20) == 1) {
          int client = accept(fd_, nullptr, nullptr);
          if (client >= 0) {
            ++accepted_;
            close(client);
          }
        }
      }
    });
  }
  ~AcceptCounter() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A body of `length` bytes made 64 KiB at a time: byte i is i % 251.
class PatternSource : public BodySource {
 public:
  explicit PatternSource(uint64_t length) : length_(length) {}
  void Next(Done done) override {
    const uint64_t n = std::min<uint64_t>(64 << 10, length_ - at_);
    std::string part(n, '\0');
    for (uint64_t i = 0; i < n; ++i) part[i] = static_cast<char>((at_ + i) % 251);
    at_ += n;
    std::move(done)(std::move(part));
  }

 private:
  const uint64_t length_;
  uint64_t at_ = 0;
};

// A response whose body is exactly `body` (HttpResponse::Text adds a line end).
HttpResponse Raw(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

struct Fetched {
  absl::Status status;
  FetchHead head;
  std::string body;
};

class HttpFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<HttpServer>(options, [this](HttpRequest request, HttpServer::Reply reply) {
      ++requests_;
      Serve(std::move(request), std::move(reply));
    });
    ASSERT_TRUE(server_->Start().ok());
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
    policy_.allow.push_back(*ParseCidr("127.0.0.1/32"));
    policy_.ports = {static_cast<uint16_t>(server_->port())};
  }
  void TearDown() override {
    {
      absl::MutexLock lock(&mu_);
      for (auto& reply : hanging_) std::move(reply)(HttpResponse::Text(200, "late"));
      hanging_.clear();
    }
    server_->Drain(absl::Now() + absl::Seconds(5));
  }

  void Serve(HttpRequest request, HttpServer::Reply reply) {
    const std::string& target = request.target;
    if (target == "/hello") {
      HttpResponse response = Raw(200, "hello");
      response.headers.emplace_back("x-test", "one");
      response.headers.emplace_back("set-cookie", "a=1");
      response.headers.emplace_back("set-cookie", "b=2");
      return std::move(reply)(std::move(response));
    }
    if (target == "/echo") {
      std::string text = absl::StrCat(request.method, "\n", request.Header("content-type"), "\n",
                                      request.Header("authorization"), "\n", request.Header("x-custom"), "\n", request.body);
      return std::move(reply)(Raw(200, std::move(text)));
    }
    if (absl::StartsWith(target, "/big/")) {
      uint64_t length = 0;
      EXPECT_TRUE(absl::SimpleAtoi(target.substr(5), &length));
      HttpResponse response;
      response.length = length;
      response.source = std::make_shared<PatternSource>(length);
      return std::move(reply)(std::move(response));
    }
    if (absl::StartsWith(target, "/redirect/")) {
      // /redirect/<status>/<location>
      const size_t slash = target.find('/', 10);
      int status = 0;
      EXPECT_TRUE(absl::SimpleAtoi(target.substr(10, slash - 10), &status));
      HttpResponse response = HttpResponse::Text(status, "moved");
      response.headers.emplace_back("location", target.substr(slash + 1));
      return std::move(reply)(std::move(response));
    }
    if (target == "/hang") {
      absl::MutexLock lock(&mu_);
      hanging_.push_back(std::move(reply));
      return;
    }
    std::move(reply)(HttpResponse::Text(404, "no such test route"));
  }

  Fetched Run(FetchRequest request, FetchLimits limits = {}, EgressPolicy policy = {}, bool use_policy = true) {
    Fetched out;
    absl::StatusOr<std::shared_ptr<Fetch>> fetch =
        fetcher_.Start("test", use_policy ? policy_ : policy, limits, std::move(request), absl::Now() + absl::Seconds(20));
    if (!fetch.ok()) {
      out.status = fetch.status();
      return out;
    }
    absl::Notification head_done;
    (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
      if (head.ok()) {
        out.head = *head;
      } else {
        out.status = head.status();
      }
      head_done.Notify();
    });
    head_done.WaitForNotification();
    while (out.status.ok()) {
      absl::Notification read_done;
      absl::StatusOr<std::string> part;
      (*fetch)->Read(64 << 10, [&](absl::StatusOr<std::string> got) {
        part = std::move(got);
        read_done.Notify();
      });
      read_done.WaitForNotification();
      if (!part.ok()) out.status = part.status();
      if (!part.ok() || part->empty()) break;
      out.body += *part;
    }
    return out;
  }

  FetchRequest Get(const std::string& path) {
    FetchRequest request;
    request.url = base_ + path;
    return request;
  }

  std::unique_ptr<HttpServer> server_;
  std::string base_;
  EgressPolicy policy_;
  HttpFetcher fetcher_{HttpFetcher::Options{}};
  std::atomic<int> requests_{0};
  absl::Mutex mu_;
  std::vector<HttpServer::Reply> hanging_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HttpFetcherTest, GetsStatusHeadersAndBody) {
  Fetched got = Run(Get("/hello"));
  ASSERT_TRUE(got.status.ok()) << got.status;
  EXPECT_EQ(got.head.status, 200);
  EXPECT_EQ(got.head.status_text, "OK");
  EXPECT_EQ(got.body, "hello");
  EXPECT_EQ(got.head.url, base_ + "/hello");
  EXPECT_FALSE(got.head.redirected);
  int cookies = 0;
  for (const auto& [name, value] : got.head.headers) {
    if (name == "x-test") {
      EXPECT_EQ(value, "one");
    }
    if (name == "set-cookie") ++cookies;
  }
  EXPECT_EQ(cookies, 2);  // kept apart, as getSetCookie() needs them
}

TEST_F(HttpFetcherTest, SendsMethodsHeadersAndBodies) {
  FetchRequest request = Get("/echo");
  request.method = "PUT";
  request.headers = {{"Content-Type", "text/plain"}, {"X-Custom", "yes"}, {"Content-Length", "99999"}};
  request.body = std::string("payload\0with nul", 16);
  Fetched got = Run(request);
  ASSERT_TRUE(got.status.ok()) << got.status;
  EXPECT_EQ(got.body, absl::StrCat("PUT\ntext/plain\n\nyes\n", std::string("payload\0with nul", 16)));

  // A body given a part at a time goes out chunked.
  request.body.reset();
  request.streamed_body = true;
  request.method = "POST";
  auto fetch = fetcher_.Start("test", policy_, {}, request, absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(fetch.ok()) << fetch.status();
  for (const std::string& part : {std::string("one,"), std::string(300000, 'x'), std::string(",three")}) {
    absl::Notification written;
    (*fetch)->Write(part, false, [&](absl::Status status) {
      EXPECT_TRUE(status.ok()) << status;
      written.Notify();
    });
    written.WaitForNotification();
  }
  (*fetch)->Write("", true, [](absl::Status status) { EXPECT_TRUE(status.ok()) << status; });
  absl::Notification head_done;
  (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->status, 200);
    head_done.Notify();
  });
  head_done.WaitForNotification();
  std::string body;
  for (;;) {
    absl::Notification read_done;
    std::string part;
    (*fetch)->Read(1 << 20, [&](absl::StatusOr<std::string> got) {
      ASSERT_TRUE(got.ok()) << got.status();
      part = *got;
      read_done.Notify();
    });
    read_done.WaitForNotification();
    if (part.empty()) break;
    body += part;
  }
  EXPECT_TRUE(body == absl::StrCat("POST\ntext/plain\n\nyes\none,", std::string(300000, 'x'), ",three"))
      << body.size() << " bytes: " << body.substr(0, 40);
}

TEST_F(HttpFetcherTest, RefusesHeadersThatWouldSplitTheRequest) {
  FetchRequest request = Get("/echo");
  request.headers = {{"X-Custom", "a\r\nInjected: yes"}};
  EXPECT_EQ(Run(request).status.code(), absl::StatusCode::kInvalidArgument);
  request.headers = {{"Bad Name", "x"}};
  EXPECT_EQ(Run(request).status.code(), absl::StatusCode::kInvalidArgument);
  request = Get("/echo");
  request.method = "GET /x HTTP/1.1\r\n";
  EXPECT_EQ(Run(request).status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(requests_, 0);
}

TEST_F(HttpFetcherTest, LargeResponsesStreamInBoundedMemory) {
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  constexpr uint64_t kLength = 50'000'000;
  auto fetch = fetcher_.Start("test", policy_, {}, Get(absl::StrCat("/big/", kLength)), absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(fetch.ok());
  absl::Notification head_done;
  (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
    EXPECT_TRUE(head.ok());
    head_done.Notify();
  });
  head_done.WaitForNotification();
  uint64_t total = 0;
  bool pattern_holds = true;
  for (;;) {
    absl::Notification read_done;
    std::string part;
    (*fetch)->Read(256 << 10, [&](absl::StatusOr<std::string> got) {
      EXPECT_TRUE(got.ok()) << got.status();
      if (got.ok()) part = std::move(*got);
      read_done.Notify();
    });
    read_done.WaitForNotification();
    if (part.empty()) break;
    for (size_t i = 0; i < part.size(); i += 4099) pattern_holds &= part[i] == static_cast<char>((total + i) % 251);
    total += part.size();
  }
  EXPECT_EQ(total, kLength);
  EXPECT_TRUE(pattern_holds);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  // Held whole even once, the body would add 50 MB.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 20 * 1024) << "peak RSS grew by " << after.ru_maxrss - before.ru_maxrss
                                                          << " KiB";
}

TEST_F(HttpFetcherTest, FollowsRedirectsHopByHop) {
  Fetched got = Run(Get("/redirect/302//redirect/301/" + base_ + "/hello"));
  ASSERT_TRUE(got.status.ok()) << got.status;
  EXPECT_EQ(got.body, "hello");
  EXPECT_TRUE(got.head.redirected);
  EXPECT_EQ(got.head.url, base_ + "/hello");

  // 303 makes a POST a GET without its body; 307 keeps both.
  FetchRequest post = Get("/redirect/303//echo");
  post.method = "POST";
  post.headers = {{"content-type", "text/plain"}};
  post.body = "data";
  EXPECT_EQ(Run(post).body, "GET\n\n\n\n");
  post.url = base_ + "/redirect/307//echo";
  EXPECT_EQ(Run(post).body, "POST\ntext/plain\n\n\ndata");

  FetchRequest manual = Get("/redirect/302//hello");
  manual.redirect = RedirectMode::kManual;
  got = Run(manual);
  ASSERT_TRUE(got.status.ok());
  EXPECT_EQ(got.head.status, 302);
  FetchRequest error = Get("/redirect/302//hello");
  error.redirect = RedirectMode::kError;
  got = Run(error);
  EXPECT_EQ(got.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status.message(), "fetch attempted redirect");

  got = Run(Get("/redirect/302/file:///etc/passwd"));
  EXPECT_EQ(got.status.code(), absl::StatusCode::kPermissionDenied) << got.status;

  // A loop ends after kMaxRedirects.
  got = Run(Get("/redirect/302//redirect/302/x"));  // resolves to /redirect/302/x, then /redirect/302/x ...
  EXPECT_EQ(got.status.code(), absl::StatusCode::kFailedPrecondition) << got.status;
  EXPECT_EQ(got.status.message(), "fetch too many redirects");
}

TEST_F(HttpFetcherTest, ARedirectToARefusedAddressReachesNothing) {
  AcceptCounter target;
  // Allowed: the server's port on 127.0.0.1. Not allowed: the target's port.
  Fetched got = Run(Get(absl::StrCat("/redirect/302/http://127.0.0.1:", target.port(), "/")));
  EXPECT_EQ(got.status.code(), absl::StatusCode::kPermissionDenied) << got.status;
  EXPECT_THAT(got.status.message(), HasSubstr("the port is not one the deployment's egress policy allows"));
  got = Run(Get(absl::StrCat("/redirect/307/http://localhost:", target.port(), "/")));
  EXPECT_EQ(got.status.code(), absl::StatusCode::kPermissionDenied) << got.status;
  EXPECT_EQ(target.accepted(), 0);
}

// Each spelling of an address the policy refuses, refused before any connection is made.
TEST_F(HttpFetcherTest, TheSsrfMatrix) {
  AcceptCounter target;
  EgressPolicy defaults;
  defaults.ports = {target.port(), 80, 443};
  struct Case {
    std::string host;
    std::string why;
  };
  const std::string port = absl::StrCat(":", target.port());
  const std::vector<Case> cases = {
      {"127.0.0.1" + port, "loopback"},
      {"127.1.2.3" + port, "loopback"},
      {"[::1]" + port, "loopback"},
      {"localhost" + port, "loopback"},
      {"2130706433" + port, "loopback"},        // decimal
      {"0x7f000001" + port, "loopback"},        // hex
      {"017700000001" + port, "loopback"},      // octal
      {"0x7f.1" + port, "loopback"},            // mixed
      {"[::ffff:127.0.0.1]" + port, "loopback"},  // IPv4-mapped IPv6
      {"0.0.0.0" + port, "unspecified"},
      {"10.0.0.1", "private"},
      {"172.16.0.1", "private"},
      {"192.168.1.1", "private"},
      {"[fc00::1]", "private"},
      {"169.254.169.254", "link-local"},
      {"[fe80::1]", "link-local"},
      {"100.64.0.1", "shared"},
      {"224.0.0.1", "multicast"},
      {"[::ffff:10.0.0.1]", "private"},
      {"[64:ff9b::a00:1]", "private"},          // NAT64 of 10.0.0.1
  };
  for (const Case& c : cases) {
    FetchRequest request;
    request.url = absl::StrCat("http://", c.host, "/latest/meta-data/");
    Fetched got = Run(request, {}, defaults, /*use_policy=*/false);
    EXPECT_EQ(got.status.code(), absl::StatusCode::kPermissionDenied) << c.host << ": " << got.status;
    EXPECT_THAT(got.status.message(), HasSubstr("is not allowed: it is")) << c.host;
    EXPECT_THAT(got.status.message(), HasSubstr(c.why)) << c.host << ": " << got.status;
  }
  for (const char* url : {"ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:70/"}) {
    FetchRequest request;
    request.url = url;
    EXPECT_EQ(Run(request, {}, defaults, false).status.code(), absl::StatusCode::kPermissionDenied) << url;
  }
  EXPECT_EQ(target.accepted(), 0);
}

TEST_F(HttpFetcherTest, TheServersOwnEndpointsAreRefusedWhateverThePolicySays) {
  HttpFetcher guarded(HttpFetcher::Options{.internal = {{*ParseIp("0.0.0.0"), static_cast<uint16_t>(server_->port())}}});
  auto fetch = guarded.Start("test", policy_, {}, Get("/hello"), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(fetch.ok());
  absl::Notification done;
  (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
    EXPECT_EQ(head.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(head.status().message(), HasSubstr("this server's own endpoint"));
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(requests_, 0);
}

TEST_F(HttpFetcherTest, LimitsHoldAtTheirBoundary) {
  FetchLimits limits;
  limits.max_response_bytes = 1000;
  EXPECT_TRUE(Run(Get("/big/1000"), limits).status.ok());
  Fetched over = Run(Get("/big/1001"), limits);
  EXPECT_EQ(over.status.code(), absl::StatusCode::kResourceExhausted) << over.status;

  limits.max_request_bytes = 10;
  FetchRequest post = Get("/echo");
  post.method = "POST";
  post.body = std::string(10, 'a');
  EXPECT_TRUE(Run(post, limits).status.ok());
  post.body = std::string(11, 'a');
  EXPECT_EQ(Run(post, limits).status.code(), absl::StatusCode::kResourceExhausted);

  // Two at once for this deployment: the third waits for nobody, it is refused.
  limits.max_concurrent = 2;
  std::vector<std::shared_ptr<Fetch>> hanging;
  for (int i = 0; i < 2; ++i) {
    auto fetch = fetcher_.Start("test", policy_, limits, Get("/hang"), absl::Now() + absl::Seconds(20));
    ASSERT_TRUE(fetch.ok());
    hanging.push_back(*fetch);
  }
  auto third = fetcher_.Start("test", policy_, limits, Get("/hang"), absl::Now() + absl::Seconds(20));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(fetcher_.Start("other", policy_, limits, Get("/hello"), absl::Now() + absl::Seconds(20)).ok());
  for (auto& fetch : hanging) fetch->Cancel(absl::CancelledError("done"));

  // Reading a response to its end frees its slot by the time the reader hears the end; a response
  // left unread holds its slot while more than kReleasedBodyBytes of it wait; cancelling frees it.
  FetchLimits one;
  one.max_concurrent = 1;
  absl::StatusOr<std::shared_ptr<Fetch>> small = fetcher_.Start("held", policy_, one, Get("/hello"), absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(small.ok());
  absl::Notification small_head;
  (*small)->Head([&](absl::StatusOr<FetchHead>) { small_head.Notify(); });
  small_head.WaitForNotification();
  for (;;) {  // to its end: the reader given the end finds the slot free
    absl::Notification read;
    absl::StatusOr<std::string> part;
    (*small)->Read(1 << 16, [&](absl::StatusOr<std::string> got) {
      part = std::move(got);
      read.Notify();
    });
    read.WaitForNotification();
    ASSERT_TRUE(part.ok()) << part.status();
    if (part->empty()) break;
  }
  absl::StatusOr<std::shared_ptr<Fetch>> big =
      fetcher_.Start("held", policy_, one, Get("/big/3000000"), absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(big.ok()) << big.status();
  absl::Notification big_head;
  (*big)->Head([&](absl::StatusOr<FetchHead>) { big_head.Notify(); });
  big_head.WaitForNotification();
  EXPECT_EQ(fetcher_.Start("held", policy_, one, Get("/hello"), absl::Now() + absl::Seconds(20)).status().code(),
            absl::StatusCode::kResourceExhausted);
  (*big)->Cancel(absl::CancelledError("not wanted"));
  EXPECT_TRUE(fetcher_.Start("held", policy_, one, Get("/hello"), absl::Now() + absl::Seconds(20)).ok());
}

TEST_F(HttpFetcherTest, TimeoutsAndCancellation) {
  FetchLimits limits;
  limits.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  Fetched got = Run(Get("/hang"), limits);
  EXPECT_EQ(got.status.code(), absl::StatusCode::kDeadlineExceeded) << got.status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  auto fetch = fetcher_.Start("test", policy_, {}, Get("/hang"), absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(fetch.ok());
  absl::Notification done;
  (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
    EXPECT_EQ(head.status().code(), absl::StatusCode::kCancelled);
    done.Notify();
  });
  (*fetch)->Cancel(absl::CancelledError("The operation was aborted"));
  done.WaitForNotification();
}

}  // namespace
}  // namespace isobar::supervisor
