// Bodies that are never held whole: a request body the handler reads a part at a time
// (HttpServerOptions::stream_body, BodyReader) and a response body made a part at a time (BodySource),
// with their limits, their failures, and what they leave of the connection.
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/http/http_server.h"
#include "supervisor/http/raw_http_client_testing.h"

namespace isobar::supervisor {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr size_t kPart = 1000;

HttpServerOptions StreamingOptions() {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.max_body_bytes = 100;  // what is not streamed stays small
  options.stream_body = [](absl::string_view method, absl::string_view target) {
    return method == "POST" && target == "/upload";
  };
  options.max_streamed_body_bytes = 64 << 10;
  return options;
}

// Reads the whole body a part at a time, then answers "<bytes> bytes in <parts> parts: <body>"; a
// read error is answered with its status code and message. Every part must be within kPart.
class Reader : public std::enable_shared_from_this<Reader> {
 public:
  Reader(std::shared_ptr<BodyReader> body, HttpServer::Reply reply) : body_(std::move(body)), reply_(std::move(reply)) {}
  void Next() {
    body_->Read(kPart, [self = shared_from_this()](absl::StatusOr<std::string> part) {
      if (!part.ok()) {
        return std::move(self->reply_)(
            HttpResponse::Text(413, absl::StrCat(absl::StatusCodeToString(part.status().code()), ": ", part.status().message())));
      }
      if (part->empty()) {
        return std::move(self->reply_)(
            HttpResponse::Text(200, absl::StrCat(self->got_.size(), " bytes in ", self->parts_, " parts: ", self->got_)));
      }
      EXPECT_LE(part->size(), kPart);
      self->got_ += *part;
      ++self->parts_;
      self->Next();
    });
  }

 private:
  std::shared_ptr<BodyReader> body_;
  HttpServer::Reply reply_;
  std::string got_;
  int parts_ = 0;
};

HttpServer::Handler ReadsStreamedBodies() {
  return [](HttpRequest request, HttpServer::Reply reply) {
    if (request.body_reader == nullptr) {
      return std::move(reply)(HttpResponse::Text(200, absl::StrCat("whole: ", request.body)));
    }
    EXPECT_TRUE(request.body.empty());
    std::make_shared<Reader>(std::move(request.body_reader), std::move(reply))->Next();
  };
}

std::string Body(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string body(size, ' ');
  for (char& c : body) c = static_cast<char>('a' + rng() % 26);
  return body;
}

TEST(HttpStreamsTest, AStreamedBodyArrivesInBoundedPartsAndTheConnectionIsKept) {
  HttpServer server(StreamingOptions(), ReadsStreamedBodies());
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string body = Body(5500, 1);
  ASSERT_TRUE(client.Send(absl::StrCat("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ", body.size(), "\r\n\r\n", body)));
  std::string answer = client.ReadResponse();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr(absl::StrCat("5500 bytes in ")));
  EXPECT_THAT(answer, EndsWith(body + "\n"));
  // Chunked, on the same connection; then a request that is not streamed, still limited as before.
  ASSERT_TRUE(client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n0\r\n\r\n"));
  answer = client.ReadResponse();
  EXPECT_THAT(answer, EndsWith("3 bytes in 1 parts: abc\n"));
  ASSERT_TRUE(client.Send("POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("whole: hi\n"));
  ASSERT_TRUE(client.Send(absl::StrCat("POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", Body(101, 2))));
  EXPECT_THAT(client.ReadResponse(), StartsWith("HTTP/1.1 413"));
}

TEST(HttpStreamsTest, AnEmptyStreamedBodyEndsAtOnce) {
  HttpServer server(StreamingOptions(), ReadsStreamedBodies());
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("0 bytes in 0 parts: \n"));
}

TEST(HttpStreamsTest, AStreamedBodyOverItsLimitIsRefusedAtItsBoundary) {
  HttpServer server(StreamingOptions(), ReadsStreamedBodies());
  ASSERT_TRUE(server.Start().ok());
  {
    // At the limit: served.
    RawClient client(server.port());
    const std::string body = Body(64 << 10, 3);
    ASSERT_TRUE(client.Send(absl::StrCat("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ", body.size(), "\r\n\r\n", body)));
    EXPECT_THAT(client.ReadResponse(), HasSubstr(absl::StrCat(64 << 10, " bytes in ")));
  }
  {
    // A declared length one past it: refused with the headers, before the handler sees anything,
    // and the connection closed.
    RawClient client(server.port());
    ASSERT_TRUE(client.Send(absl::StrCat("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ", (64 << 10) + 1, "\r\n\r\n")));
    std::string answer = client.ReadResponse();
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
    EXPECT_THAT(answer, HasSubstr("Request body too large (limit: 65536 bytes)"));
    EXPECT_TRUE(client.Closed());
  }
  {
    // Chunks that only add up past it: refused when they do.
    RawClient client(server.port());
    ASSERT_TRUE(client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = Body(8 << 10, 4);
    bool sent = true;
    for (int i = 0; i < 9 && sent; ++i) sent = client.Send(absl::StrCat("2000\r\n", chunk, "\r\n"));
    std::string answer = client.ReadResponse();
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 413"));
    EXPECT_THAT(answer, HasSubstr("RESOURCE_EXHAUSTED"));
    EXPECT_TRUE(client.Closed());
  }
}

TEST(HttpStreamsTest, AnAnswerThatLeavesTheBodyUnreadClosesTheConnection) {
  HttpServer server(StreamingOptions(), [](HttpRequest request, HttpServer::Reply reply) {
    EXPECT_NE(request.body_reader, nullptr);
    std::move(reply)(HttpResponse::Text(401, "no"));
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  // The unread body would otherwise be taken for the next request.
  ASSERT_TRUE(client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n"
                          "GET /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n  "));
  std::string answer = client.ReadResponse();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 401"));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_TRUE(client.Closed());
  EXPECT_EQ(server.stats().requests, 1u);
}

TEST(HttpStreamsTest, AClientThatStallsMidBodyIsCutOff) {
  HttpServerOptions options = StreamingOptions();
  options.body_timeout = absl::Milliseconds(200);
  absl::Notification failed;
  absl::Status failure;
  HttpServer server(options, [&](HttpRequest request, HttpServer::Reply reply) {
    request.body_reader->Read(kPart, [&, reply = std::move(reply), body = request.body_reader](
                                         absl::StatusOr<std::string> part) mutable {
      // The first part comes; the second never does.
      if (part.ok()) {
        EXPECT_EQ(*part, "five!");
        return body->Read(kPart, [&, reply = std::move(reply)](absl::StatusOr<std::string> rest) mutable {
          failure = rest.status();
          failed.Notify();
          std::move(reply)(HttpResponse::Text(408, "too slow"));
        });
      }
      ADD_FAILURE() << part.status();
    });
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfive!"));
  failed.WaitForNotification();
  EXPECT_TRUE(absl::IsUnavailable(failure)) << failure;
  EXPECT_THAT(failure.message(), HasSubstr("the client stopped sending the body"));
  // The timeout closed the socket: nothing more is read or written on it.
  EXPECT_TRUE(client.Closed());
  EXPECT_GE(server.stats().timed_out, 1u);
}

// Hands out `parts`, one per Next, then the end; or fails after them if `fail` is set.
class PartsSource : public BodySource {
 public:
  PartsSource(std::vector<std::string> parts, bool fail) : parts_(std::move(parts)), fail_(fail) {}
  void Next(Done done) override {
    ++asked_;
    if (next_ < parts_.size()) return std::move(done)(parts_[next_++]);
    if (fail_) return std::move(done)(absl::UnavailableError("the database went away"));
    std::move(done)(std::string());
  }
  int asked() const { return asked_; }

 private:
  std::vector<std::string> parts_;
  size_t next_ = 0;
  bool fail_;
  int asked_ = 0;
};

TEST(HttpStreamsTest, AStreamedResponseArrivesWholeWithItsLength) {
  // Seeded part sizes, so a failure replays.
  std::mt19937 rng(20261207);
  std::vector<std::string> parts;
  std::string whole;
  for (int i = 0; i < 40; ++i) {
    parts.push_back(Body(rng() % 5000 + 1, rng()));
    whole += parts.back();
  }
  auto source = std::make_shared<PartsSource>(parts, /*fail=*/false);
  HttpServer server(StreamingOptions(), [&](HttpRequest request, HttpServer::Reply reply) {
    HttpResponse response;
    response.headers.emplace_back("content-type", "application/octet-stream");
    response.length = whole.size();
    if (request.target == "/file") response.source = source;
    std::move(reply)(std::move(response));
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string answer = client.ReadResponse();
  EXPECT_THAT(answer, HasSubstr(absl::StrCat("Content-Length: ", whole.size(), "\r\n")));
  EXPECT_THAT(answer, EndsWith("\r\n\r\n" + whole));
  EXPECT_EQ(source->asked(), 41);
  // A HEAD gets the length and no body, and nothing is made for it. (Closed after, so that what
  // arrived can be read without waiting for the body a HEAD's length promises.)
  ASSERT_TRUE(client.Send("HEAD /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  answer = client.ReadResponse();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr(absl::StrCat("Content-Length: ", whole.size(), "\r\n")));
  EXPECT_THAT(answer, EndsWith("\r\n\r\n"));
  EXPECT_EQ(source->asked(), 41);
}

TEST(HttpStreamsTest, ASourceThatFailsOrFallsShortCutsTheConnection) {
  for (bool fail : {true, false}) {
    // Two parts of a promised three, then an error, or an early end.
    auto source = std::make_shared<PartsSource>(std::vector<std::string>{"abc", "def"}, fail);
    HttpServer server(StreamingOptions(), [&](HttpRequest, HttpServer::Reply reply) {
      HttpResponse response;
      response.length = 9;
      response.source = source;
      std::move(reply)(std::move(response));
    });
    ASSERT_TRUE(server.Start().ok());
    RawClient client(server.port());
    ASSERT_TRUE(client.Send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string answer = client.ReadResponse();
    EXPECT_THAT(answer, HasSubstr("Content-Length: 9\r\n")) << fail;
    EXPECT_THAT(answer, EndsWith("\r\n\r\nabcdef")) << fail;
    EXPECT_TRUE(client.Closed()) << fail;
  }
}

TEST(HttpStreamsTest, ASourceThatOverrunsItsLengthIsCutBeforeTheExtraBytes) {
  auto source = std::make_shared<PartsSource>(std::vector<std::string>{"abc", "defgh"}, false);
  HttpServer server(StreamingOptions(), [&](HttpRequest, HttpServer::Reply reply) {
    HttpResponse response;
    response.length = 6;
    response.source = source;
    std::move(reply)(std::move(response));
  });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  ASSERT_TRUE(client.Send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(client.ReadResponse(), EndsWith("\r\n\r\nabc"));
  EXPECT_TRUE(client.Closed());
}

TEST(HttpStreamsTest, ASourceOfUnknownLengthIsSentInChunks) {
  for (bool fail : {false, true}) {
    auto source = std::make_shared<PartsSource>(std::vector<std::string>{"hello ", "streamed ", "world"}, fail);
    HttpServer server(StreamingOptions(), [&](HttpRequest, HttpServer::Reply reply) {
      HttpResponse response;
      response.source = source;  // no length
      std::move(reply)(std::move(response));
    });
    ASSERT_TRUE(server.Start().ok());
    {
      RawClient client(server.port());
      ASSERT_TRUE(client.Send("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      const std::string all = client.ReadAll();
      EXPECT_THAT(all, HasSubstr("Transfer-Encoding: chunked\r\n")) << fail;
      EXPECT_THAT(all, Not(HasSubstr("Content-Length")));
      EXPECT_THAT(all, HasSubstr("\r\n\r\n6\r\nhello \r\n9\r\nstreamed \r\n5\r\nworld\r\n"));
      // The last chunk tells the client the body is whole; a failed source never sends it.
      if (fail) {
        EXPECT_THAT(all, EndsWith("world\r\n"));
      } else {
        EXPECT_THAT(all, EndsWith("world\r\n0\r\n\r\n"));
      }
    }
    if (!fail) {
      // HTTP/1.0 has no chunks: the body runs to the close.
      source = std::make_shared<PartsSource>(std::vector<std::string>{"old ", "client"}, false);
      RawClient client(server.port());
      ASSERT_TRUE(client.Send("GET /stream HTTP/1.0\r\n\r\n"));
      const std::string all = client.ReadAll();
      EXPECT_THAT(all, Not(HasSubstr("chunked")));
      EXPECT_THAT(all, EndsWith("\r\n\r\nold client"));
    }
  }
}

TEST(HttpStreamsTest, AHeadOfASourcedResponseIsItsHeadersAloneAndTheConnectionGoesOn) {
  for (bool known_length : {false, true}) {
    auto source = std::make_shared<PartsSource>(std::vector<std::string>{"abc"}, false);
    HttpServer server(StreamingOptions(), [&](HttpRequest request, HttpServer::Reply reply) {
      if (request.target == "/plain") return std::move(reply)(HttpResponse::Text(200, "plain"));
      HttpResponse response;
      if (known_length) response.length = 3;
      response.source = source;
      std::move(reply)(std::move(response));
    });
    ASSERT_TRUE(server.Start().ok());
    RawClient client(server.port());
    // A HEAD and then a GET on one connection: the GET's answer must be the next bytes.
    ASSERT_TRUE(client.Send("HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string all = client.ReadAll();
    const size_t second = all.find("HTTP/1.1 200", 1);
    ASSERT_NE(second, std::string::npos) << all;
    const std::string head = all.substr(0, second);
    EXPECT_THAT(head, EndsWith("\r\n\r\n")) << "nothing after the HEAD's headers: " << head;
    EXPECT_THAT(head, known_length ? HasSubstr("Content-Length: 3\r\n") : HasSubstr("Transfer-Encoding: chunked\r\n"));
    EXPECT_THAT(all.substr(second), EndsWith("plain\n"));
    EXPECT_EQ(source->asked(), 0) << "a HEAD asks its source for nothing";
  }
}

TEST(HttpStreamsTest, NoBodyOfAnyKindGoesOutWithA204Or304) {
  for (int status : {204, 304}) {
    auto source = std::make_shared<PartsSource>(std::vector<std::string>{"smuggled"}, false);
    HttpServer server(StreamingOptions(), [&](HttpRequest, HttpServer::Reply reply) {
      HttpResponse response;
      response.status = status;
      response.source = source;
      std::move(reply)(std::move(response));
    });
    ASSERT_TRUE(server.Start().ok());
    RawClient client(server.port());
    ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string all = client.ReadAll();
    EXPECT_THAT(all, StartsWith("HTTP/1.1 500")) << status;
    EXPECT_THAT(all, Not(HasSubstr("smuggled")));
  }
}

}  // namespace
}  // namespace isobar::supervisor
