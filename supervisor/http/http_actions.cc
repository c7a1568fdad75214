#include "supervisor/http/http_actions.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/base64.h"
#include "base/deployment_url.h"
#include "base/utf8.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"
#include "supervisor/http/convex_wire.h"
#include "supervisor/http/streamed_response.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

// Headers that describe one hop's connection or framing, which the listener sets itself.
bool IsHopByHop(absl::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "transfer-encoding" ||
         lower_name == "content-length" || lower_name == "upgrade" || lower_name == "proxy-connection" ||
         lower_name == "te" || lower_name == "trailer";
}

// Plain text exactly as given (HttpResponse::Text ends it with a newline; Convex's do not).
HttpResponse PlainText(int status, std::string text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  response.body = std::move(text);
  return response;
}

// What Convex answers for an HTTP action that failed: the handler's own failure as a 500 with its
// message, stack and ConvexError data ({"code","trace","data"?}); the system's as Convex's usual
// {"code","message"}, 503 when a retry may succeed (a full queue, the database away).
HttpResponse FailureResponse(const FunctionOutcome& outcome) {
  const isobar::v1::ErrorDetail& detail = outcome.error.detail;
  if (IsFunctionFailure(detail)) {
    std::string json = absl::StrCat("{\"code\":", JsonString(absl::StrCat("[Request ID: ", NewRequestId(), "] Server Error: ", detail.message())),
                                    ",\"trace\":", JsonString(absl::StrCat(detail.message(), detail.stack())));
    if (!detail.convex_error_data_json().empty()) absl::StrAppend(&json, ",\"data\":", detail.convex_error_data_json());
    json.push_back('}');
    return HttpResponse::Json(500, std::move(json));
  }
  if (detail.retryable() || detail.kind() == isobar::v1::ErrorDetail::UNAVAILABLE) {
    return ErrorResponse(503, detail.kind() == isobar::v1::ErrorDetail::LIMIT ? "Overloaded" : "Unavailable", detail.message());
  }
  return ErrorResponse(500, "InternalServerError", "Your request couldn't be completed. Try again later.");
}

bool IsRoutableMethod(absl::string_view method) {
  return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "PATCH";
}

}  // namespace

std::optional<std::string> MatchHttpRoute(const Value& routes, absl::string_view method, absl::string_view path) {
  if (routes.type() != Value::Type::kArray) return std::nullopt;
  const absl::string_view wanted = method == "HEAD" ? "GET" : method;
  std::optional<std::string> best;
  size_t best_prefix = 0;
  for (const Value& route : routes.array()) {
    const Value& route_path = route.Get("path");
    const Value& route_method = route.Get("method");
    if (route_path.type() != Value::Type::kString || route_method.type() != Value::Type::kString ||
        route_method.string() != wanted) {
      continue;
    }
    const std::string& pattern = route_path.string();
    if (pattern == path) return absl::StrCat(wanted, " ", pattern);
    if (absl::EndsWith(pattern, "/*")) {
      const absl::string_view prefix = absl::string_view(pattern).substr(0, pattern.size() - 1);
      if (absl::StartsWith(path, prefix) && prefix.size() > best_prefix) {
        best_prefix = prefix.size();
        best = absl::StrCat(wanted, " ", pattern);
      }
    }
  }
  return best;
}

std::string HttpActionRequestJson(const HttpRequest& request, absl::string_view url, bool streamed) {
  // (The listener's parser admits no bytes outside a token in a method or a header name, and a target
  // is ASCII unless a client breaks the rules: its other bytes are replaced.)
  std::string json = absl::StrCat("{\"url\":", JsonString(ToValidUtf8(url)), ",\"method\":",
                                  JsonString(ToValidUtf8(request.method)), ",\"headerPairs\":[");
  bool first = true;
  for (const auto& [name, value] : request.headers) {
    if (IsHopByHop(name)) continue;
    absl::StrAppend(&json, first ? "" : ",", "[", JsonString(ToValidUtf8(name)), ",", JsonString(Latin1ToUtf8(value)), "]");
    first = false;
  }
  // A GET or HEAD has no body (the Request constructor refuses one); others have what was sent, or
  // say that it comes as the handler reads it.
  const bool bodiless = request.method == "GET" || request.method == "HEAD";
  if (streamed && !bodiless) return absl::StrCat(json, "],\"body\":null,\"streamed\":true}");
  absl::StrAppend(&json, "],\"body\":", bodiless ? "null" : JsonString(Base64Encode(request.body)), "}");
  return json;
}

absl::StatusOr<HttpResponse> HttpActionResponse(absl::string_view json, size_t max_body_bytes) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  plain.limits.max_bytes = 2 * max_body_bytes + (1 << 20);
  absl::StatusOr<Value> parsed = storage::ParseConvexJson(json, plain);
  if (!parsed.ok() || parsed->type() != Value::Type::kObject) {
    return absl::InvalidArgumentError("the router's response is not a JSON object");
  }
  HttpResponse response;
  const Value& status = parsed->Get("status");
  if (status.type() != Value::Type::kFloat64 || status.float64() < 200 || status.float64() > 599 ||
      status.float64() != static_cast<int>(status.float64())) {
    // Response's constructor allows 200-599 only; anything else did not come from a Response.
    return absl::InvalidArgumentError("the response's status is not an HTTP status");
  }
  response.status = static_cast<int>(status.float64());
  const Value& pairs = parsed->Get("headerPairs");
  if (pairs.type() != Value::Type::kArray) return absl::InvalidArgumentError("the response has no headerPairs");
  for (const Value& pair : pairs.array()) {
    if (pair.type() != Value::Type::kArray || pair.array().size() != 2 || pair.array()[0].type() != Value::Type::kString ||
        pair.array()[1].type() != Value::Type::kString) {
      return absl::InvalidArgumentError("a response header is not a [name, value] pair");
    }
    const std::string name = absl::AsciiStrToLower(pair.array()[0].string());
    std::optional<std::string> value = Utf8ToLatin1(pair.array()[1].string());
    if (!value.has_value()) return absl::InvalidArgumentError("a header value holds a character above U+00FF");
    if (IsHopByHop(name)) continue;
    response.headers.emplace_back(name, *std::move(value));
  }
  const Value& body = parsed->Get("body");
  if (body.type() == Value::Type::kString) {
    if (body.string().size() / 4 * 3 > max_body_bytes + 3) {
      return absl::InvalidArgumentError(absl::StrCat("its body is over the limit of ", max_body_bytes, " bytes"));
    }
    std::optional<std::string> decoded = Base64Decode(body.string());
    if (!decoded.has_value()) return absl::InvalidArgumentError("the response body is not base64");
    response.body = *std::move(decoded);
    if (response.body.size() > max_body_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("its body is over the limit of ", max_body_bytes, " bytes"));
    }
  } else if (body.type() != Value::Type::kNull) {
    return absl::InvalidArgumentError("the response body is neither base64 nor null");
  }
  // Header names that are tokens, values without control characters (no line breaks), a bounded
  // header block, no body where HTTP allows none: the tenant's router wrote this JSON.
  if (absl::Status valid = CheckResponse(response); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the response ", valid.message()));
  }
  return response;
}

void HttpActions::Handle(HttpRequest request, HttpServer::Reply reply) {
  // <deployment>.<site host>/<path>, or /d/<deployment>/<path>
  absl::string_view target = request.target;
  absl::string_view path = target.substr(0, target.find('?'));
  std::string deployment;
  std::string routed;
  if (IsOriginPerDeployment(site_url_)) {
    deployment = DeploymentFromHost(site_url_, request.Header("host")).value_or("");
    routed = std::string(path);
  } else if (absl::StartsWith(path, "/d/")) {
    path.remove_prefix(3);
    const size_t slash = path.find('/');
    deployment = std::string(path.substr(0, slash));
    routed = slash == absl::string_view::npos ? "/" : std::string(path.substr(slash));
  }
  if (!storage::ValidateDeploymentName(deployment).ok() || routed.empty() || routed.front() != '/') {
    return std::move(reply)(PlainText(404, "No matching routes found"));
  }
  if (!IsRoutableMethod(request.method)) {
    HttpResponse not_allowed = PlainText(405, "");
    not_allowed.headers.emplace_back("allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
    return std::move(reply)(std::move(not_allowed));
  }
  if (request.body_reader == nullptr) {
    return executor_.Run([this, request = std::move(request), deployment = std::move(deployment),
                          routed = std::move(routed), reply = std::move(reply)]() mutable {
      Run(std::move(request), std::move(deployment), std::move(routed), std::move(reply), nullptr);
    });
  }
  // A body up to StreamedRequest::kInlineBytes travels with the call; a larger one is read by the
  // runtime as the handler consumes it.
  std::shared_ptr<BodyReader> reader = std::move(request.body_reader);
  StreamedRequest::ReadAhead(reader, [this, reader, request = std::move(request), deployment = std::move(deployment),
                                      routed = std::move(routed), reply = std::move(reply)](
                                         absl::StatusOr<std::string> bytes, bool whole) mutable {
    if (!bytes.ok()) {
      return std::move(reply)(absl::IsResourceExhausted(bytes.status()) ? PlainText(413, std::string(bytes.status().message()))
                                                                         : PlainText(400, std::string(bytes.status().message())));
    }
    std::shared_ptr<StreamedRequest> streamed;
    if (whole) {
      request.body = *std::move(bytes);
    } else {
      streamed = std::make_shared<StreamedRequest>(*std::move(bytes), std::move(reader));
    }
    executor_.Run([this, request = std::move(request), deployment = std::move(deployment), routed = std::move(routed),
                   reply = std::move(reply), streamed = std::move(streamed)]() mutable {
      Run(std::move(request), std::move(deployment), std::move(routed), std::move(reply), std::move(streamed));
    });
  });
}

void HttpActions::Run(HttpRequest request, std::string deployment, std::string path, HttpServer::Reply reply,
                      std::shared_ptr<HttpRequestBody> streamed_body) {
  // The URL the client used: its Host (the listener's own address if it sent none) and target.
  const absl::string_view host = request.Header("host");
  const std::string url = absl::StrCat("http://", host.empty() ? "localhost" : host, request.target);
  // Routed here first, as Convex routes before it runs anything: a miss costs no worker.
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(deployment);
  std::shared_ptr<const CodeVersion> code = live.ok() ? (*live)->code() : nullptr;
  std::optional<std::string> route =
      code != nullptr ? MatchHttpRoute(code->analysis().Get("httpRoutes"), request.method, path) : std::nullopt;
  if (!route.has_value()) {
    if (!live.ok() && !absl::IsNotFound(live.status()) && !absl::IsInvalidArgument(live.status())) {
      return std::move(reply)(ErrorResponse(503, "Unavailable", live.status().message()));
    }
    if (code != nullptr && code->analysis().Get("httpRoutes").type() != Value::Type::kArray) {
      return std::move(reply)(PlainText(404, "This Convex deployment does not have HTTP actions enabled."));
    }
    return std::move(reply)(PlainText(404, "No matching routes found"));
  }
  FunctionCallRequest call;
  call.deployment = std::move(deployment);
  call.kind = FunctionKind::kAction;
  call.http = HttpRoute{.method = request.method, .path = std::move(path), .route = *std::move(route)};
  call.args_json = HttpActionRequestJson(request, url, /*streamed=*/streamed_body != nullptr);
  call.http_request_body = std::move(streamed_body);
  call.deadline = gateway_.DeadlineFor(FunctionKind::kAction, absl::InfiniteFuture());
  // A user's token in Authorization: the action runs either way (as Convex's do); the identity, or
  // why there is none, is what ctx.auth.getUserIdentity() gives.
  if (absl::string_view auth = request.Header("authorization"); auth.size() > 7 &&
                                                                  absl::AsciiStrToLower(auth.substr(0, 7)) == "bearer ") {
    absl::StatusOr<std::string> identity =
        gateway_.VerifyUserToken(call.deployment, std::string(absl::StripAsciiWhitespace(auth.substr(7))));
    if (identity.ok()) {
      call.identity_json = *std::move(identity);
    } else {
      call.identity_error = std::string(identity.status().message());
    }
  }
  request.body.clear();
  request.body.shrink_to_fit();
  // A Response with a stream for its body is answered as the stream comes (streamed_response.h);
  // any other when the function returns.
  auto stream = std::make_shared<StreamedResponse>(std::move(reply), request.method == "HEAD", kHttpActionBodyLimit);
  call.http_stream = stream;
  gateway_.AdmitAndRun(std::move(call), [stream](FunctionOutcome outcome) mutable {
    std::optional<HttpServer::Reply> unanswered = stream->Finish(outcome.ok);
    if (!unanswered.has_value()) return;
    HttpServer::Reply& reply = *unanswered;
    if (!outcome.ok) return std::move(reply)(FailureResponse(outcome));
    absl::StatusOr<HttpResponse> response = HttpActionResponse(outcome.result_json, kHttpActionBodyLimit);
    if (response.ok()) return std::move(reply)(*std::move(response));
    // Convex cuts a response body at 20 MiB after sending its head; ours is whole here, so the
    // client learns plainly that it was refused.
    FunctionOutcome failed = FunctionOutcome::Failure(absl::InvalidArgumentError(
        absl::StrCat("The HTTP action's response was refused: ", response.status().message())));
    failed.error.detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
    std::move(reply)(FailureResponse(failed));
  });
}

}  // namespace isobar::supervisor
