#include "supervisor/http/http_actions.h"

#include <optional>

#include "supervisor/http/streamed_response.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

storage::Value Routes(absl::string_view json) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<storage::Value> value = storage::ParseConvexJson(json, plain);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : storage::Value::Null();
}

TEST(MatchHttpRouteTest, ExactThenLongestPrefixHeadAsGet) {
  const storage::Value routes = Routes(R"([{"path":"/hello","method":"GET"},{"path":"/hello","method":"POST"},
      {"path":"/profile/*","method":"GET"},{"path":"/profile/admin/*","method":"GET"},{"path":"/*","method":"PUT"}])");
  EXPECT_THAT(MatchHttpRoute(routes, "GET", "/hello"), Optional(std::string("GET /hello")));
  EXPECT_THAT(MatchHttpRoute(routes, "HEAD", "/hello"), Optional(std::string("GET /hello")));
  EXPECT_THAT(MatchHttpRoute(routes, "POST", "/hello"), Optional(std::string("POST /hello")));
  EXPECT_EQ(MatchHttpRoute(routes, "DELETE", "/hello"), std::nullopt);
  EXPECT_EQ(MatchHttpRoute(routes, "GET", "/hello/"), std::nullopt);
  EXPECT_EQ(MatchHttpRoute(routes, "GET", "/profile"), std::nullopt);
  EXPECT_THAT(MatchHttpRoute(routes, "GET", "/profile/"), Optional(std::string("GET /profile/*")));
  EXPECT_THAT(MatchHttpRoute(routes, "GET", "/profile/ann"), Optional(std::string("GET /profile/*")));
  EXPECT_THAT(MatchHttpRoute(routes, "GET", "/profile/admin/x"), Optional(std::string("GET /profile/admin/*")));
  EXPECT_THAT(MatchHttpRoute(routes, "PUT", "/anything/at/all"), Optional(std::string("PUT /*")));
  EXPECT_EQ(MatchHttpRoute(storage::Value::Null(), "GET", "/hello"), std::nullopt);
}

TEST(HttpActionRequestJsonTest, CarriesUrlMethodHeadersAndBase64Body) {
  HttpRequest request{.method = "POST", .target = "/d/x/echo", .headers = {{"content-type", "a/b"}, {"content-length", "3"}},
                      .body = std::string("\0\xff!", 3)};
  EXPECT_EQ(HttpActionRequestJson(request, "http://h/d/x/echo"),
            R"({"url":"http://h/d/x/echo","method":"POST","headerPairs":[["content-type","a/b"]],"body":"AP8h"})");
  request.method = "GET";
  EXPECT_THAT(HttpActionRequestJson(request, "http://h/"), HasSubstr(R"("body":null)"));
}

TEST(HttpActionResponseTest, DecodesAndRefusesWhatNoResponseCouldBe) {
  absl::StatusOr<HttpResponse> ok = HttpActionResponse(
      R"({"status":201,"statusText":"Created","headerPairs":[["set-cookie","a=1"],["set-cookie","b=2"],["content-length","9"]],"body":"aGk="})",
      100);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 201);
  EXPECT_EQ(ok->body, "hi");
  EXPECT_EQ(ok->headers, (std::vector<std::pair<std::string, std::string>>{{"set-cookie", "a=1"}, {"set-cookie", "b=2"}}));
  EXPECT_TRUE(HttpActionResponse(R"({"status":204,"headerPairs":[],"body":null})", 100).ok());
  EXPECT_FALSE(HttpActionResponse(R"({"status":101,"headerPairs":[],"body":null})", 100).ok());
  EXPECT_FALSE(HttpActionResponse(R"({"status":200,"headerPairs":[["x","a\r\nb: c"]],"body":null})", 100).ok());
  // Response splitting through a name, a name or value Beast cannot write, a body HTTP forbids.
  EXPECT_FALSE(HttpActionResponse(R"({"status":200,"headerPairs":[["x: a\r\n\r\nHTTP/1.1 200 OK","v"]],"body":null})", 100).ok());
  EXPECT_FALSE(HttpActionResponse(absl::StrCat(R"({"status":200,"headerPairs":[["x",")", std::string(70000, 'a'), R"("]],"body":null})"), 100).ok());
  EXPECT_FALSE(HttpActionResponse(R"({"status":204,"headerPairs":[],"body":"YQ=="})", 100).ok());
  // Header values are ByteStrings: a character up to U+00FF is one byte on the wire; above, refused.
  absl::StatusOr<HttpResponse> latin = HttpActionResponse(R"({"status":200,"headerPairs":[["x-latin","caf\u00e9\tok"]],"body":null})", 100);
  ASSERT_TRUE(latin.ok()) << latin.status();
  EXPECT_EQ(latin->headers[0].second, "caf\xe9\tok");
  EXPECT_FALSE(HttpActionResponse(R"({"status":200,"headerPairs":[["x","\u0100"]],"body":null})", 100).ok());
  EXPECT_FALSE(HttpActionResponse(R"({"status":200,"headerPairs":[],"body":"aGk="})", 1).ok());
  EXPECT_FALSE(HttpActionResponse(R"({"status":200,"headerPairs":[],"body":"!!"})", 100).ok());
  EXPECT_FALSE(HttpActionResponse("[]", 100).ok());
}

TEST(StreamedResponseTest, HeadsThatCannotCarryABodyAndWritesOutOfTurnAreRefused) {
  std::optional<HttpResponse> answered;
  auto make = [&answered] {
    return std::make_shared<StreamedResponse>([&answered](HttpResponse r) { answered = std::move(r); }, false, 100);
  };
  auto no_content = make();
  EXPECT_TRUE(absl::IsInvalidArgument(no_content->Start(R"({"status":204,"headerPairs":[],"body":null})")));
  EXPECT_FALSE(answered.has_value());
  // Not started: the reply comes back for the caller to answer with the function's outcome.
  EXPECT_TRUE(no_content->Finish(false).has_value());

  auto streamed = make();
  ASSERT_TRUE(streamed->Start(R"({"status":200,"headerPairs":[["x-a","1"]],"body":null})").ok());
  ASSERT_TRUE(answered.has_value());
  EXPECT_TRUE(absl::IsFailedPrecondition(streamed->Start(R"({"status":200,"headerPairs":[],"body":null})")));
  // The listener has not asked for a part: the first chunk is queued and answered, in turn.
  absl::Status first = absl::UnknownError("unanswered");
  streamed->Write("abc", [&first](absl::Status s) { first = s; });
  EXPECT_TRUE(first.ok()) << first;
  // Past the body's limit (100 bytes): refused.
  absl::Status big = absl::UnknownError("unanswered");
  streamed->Write(std::string(200, 'x'), [&big](absl::Status s) { big = s; });
  EXPECT_TRUE(absl::IsResourceExhausted(big)) << big;
  EXPECT_FALSE(streamed->Finish(true).has_value());
}

}  // namespace
}  // namespace isobar::supervisor
