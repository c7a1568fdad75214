#include "supervisor/http/convex_http_api.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"
#include "supervisor/deploy/function_path.h"
#include "supervisor/http/convex_wire.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr absl::string_view kAllowedMethods = "GET,POST,OPTIONS,PATCH,DELETE,PUT";
// Bodies up to this size are parsed on the server's thread.
constexpr size_t kInlineBodyBytes = 64 << 10;

enum class Format { kEncoded, kClean };

// %XX decoded; nullopt for a malformed escape.
std::optional<std::string> PercentDecoded(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) || !absl::ascii_isxdigit(text[i + 2])) return std::nullopt;
    auto nibble = [](char c) { return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10; };
    out.push_back(static_cast<char>(nibble(text[i + 1]) * 16 + nibble(text[i + 2])));
    i += 2;
  }
  return out;
}

// "application/json" or "application/<x>+json", parameters allowed.
bool IsJsonContentType(absl::string_view value) {
  absl::string_view type = absl::StripAsciiWhitespace(value.substr(0, value.find(';')));
  const std::string lower = absl::AsciiStrToLower(type);
  return lower == "application/json" || (absl::StartsWith(lower, "application/") && absl::EndsWith(lower, "+json"));
}


void AppendLogLines(const FunctionOutcome& outcome, std::string* json) {
  if (!outcome.logs.empty()) absl::StrAppend(json, ",\"logLines\":", LogLinesJson(outcome.logs));
}

// A value the runner produced (canonical Convex JSON) in the format the client asked for.
absl::StatusOr<std::string> Exported(const std::string& convex_json, Format format) {
  if (format == Format::kEncoded) return convex_json;
  absl::StatusOr<Value> value = storage::ParseConvexJson(convex_json);
  if (!value.ok()) return value.status();
  return storage::ToCleanJson(*value);
}

// How a failed outcome is answered: a function's own failure is HTTP 200 {"status":"error"}, as on
// Convex; a call that could not run gets a status of its own.
HttpResponse FailureResponse(const FunctionOutcome& outcome, Format format, const std::string& request_id) {
  const isobar::v1::ErrorDetail& detail = outcome.error.detail;
  using Kind = isobar::v1::ErrorDetail;
  if (!IsFunctionFailure(detail)) {
    switch (detail.kind()) {
      case Kind::UNAUTHENTICATED:
        return ErrorResponse(401, "Unauthenticated", detail.message());
      case Kind::NOT_FOUND:
        return ErrorResponse(404, "NotFound", detail.message());
      case Kind::INTERNAL:
      case Kind::KIND_UNSPECIFIED:
        return ErrorResponse(500, "InternalServerError", "Your request couldn't be completed. Try again later.");
      default:
        return ErrorResponse(503, detail.kind() == Kind::LIMIT ? "Overloaded" : "Unavailable", detail.message());
    }
  }
  std::string json = absl::StrCat("{\"status\":\"error\",\"errorMessage\":", JsonString(ErrorMessage(detail, request_id)));
  if (detail.kind() == Kind::CONVEX_ERROR && !detail.convex_error_data_json().empty()) {
    absl::StatusOr<std::string> data = Exported(detail.convex_error_data_json(), format);
    absl::StrAppend(&json, ",\"errorData\":", data.ok() ? *data : "null");
  }
  AppendLogLines(outcome, &json);
  json.push_back('}');
  return HttpResponse::Json(200, std::move(json));
}

HttpResponse OutcomeResponse(const FunctionOutcome& outcome, Format format, const std::string& request_id) {
  if (!outcome.ok) return FailureResponse(outcome, format, request_id);
  absl::StatusOr<std::string> value = Exported(outcome.result_json, format);
  if (!value.ok()) {
    FunctionOutcome failed = FunctionOutcome::Failure(absl::InvalidArgumentError(
        absl::StrCat("Function return value invalid: ", value.status().message())));
    failed.error.detail.set_kind(isobar::v1::ErrorDetail::USER_ERROR);
    failed.logs = outcome.logs;
    return FailureResponse(failed, format, request_id);
  }
  std::string json = absl::StrCat("{\"status\":\"success\",\"value\":", *value);
  AppendLogLines(outcome, &json);
  json.push_back('}');
  return HttpResponse::Json(200, std::move(json));
}

}  // namespace

// One parsed request, on its way to the gateway.
struct ConvexHttpApi::Call {
  std::string endpoint;    // "query", "mutation", "action", "run"
  std::string admin_key;   // from `Authorization: Convex <key>`; empty: anonymous
  std::string user_token;  // from `Authorization: Bearer <JWT>`: an end user's, checked by the gateway
  std::optional<absl::StatusOr<Access>> known;  // the key's access, if known without the catalog
  FunctionCallRequest request;
  bool kind_from_function = false;  // /api/run, /api/function: the function's own kind
  bool timestamp_only = false;      // /api/query_ts
  Format format = Format::kClean;
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> cors;
};

void ConvexHttpApi::Handle(HttpRequest http, HttpServer::Reply reply) {
  // Parsing and converting a large body is the executor's work, not the server's thread's.
  if (http.body.size() > kInlineBodyBytes) {
    executor_.Run([this, http = std::move(http), reply = std::move(reply)]() mutable {
      Process(std::move(http), std::move(reply));
    });
    return;
  }
  Process(std::move(http), std::move(reply));
}

// One call's body (Convex's UdfPostRequest): "path" (not for /api/run, whose path is in the URL),
// "args" and "format", into `call`; the answer instead when the request is wrong.
std::optional<HttpResponse> ConvexHttpApi::ParseCall(const Value& body, bool run, Call& call) {
  if (!run) {
    const Value& function = body.Get("path");
    if (function.type() != Value::Type::kString) {
      return ErrorResponse(400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: missing field `path`");
    }
    call.request.path = function.string();
  }
  if (absl::StatusOr<FunctionPath> parsed = ParseFunctionPath(call.request.path); !parsed.ok()) {
    return ErrorResponse(400, "BadConvexFunctionIdentifier",
                   absl::StrCat(call.request.path, " is not a valid path to a Convex function. ", parsed.status().message()));
  }
  const Value& format = body.Get("format");
  if (!format.is_undefined()) {
    const std::string given = format.type() == Value::Type::kString ? format.string() : storage::ToConvexJson(format);
    if (given == "convex_encoded_json" || given == "convex_json") {
      call.format = Format::kEncoded;
    } else if (given != "json" && given != "convex_clean_json") {
      return ErrorResponse(400, "BadFormat", absl::StrCat("format param must be one of [`json`]. Got ", given));
    }
  }
  const Value& args = body.Get("args");
  if (args.is_undefined()) {
    return ErrorResponse(400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: missing field `args`");
  }
  // Positional arguments, as old clients send them: a function takes one object.
  const Value* single = &args;
  if (args.type() == Value::Type::kArray) {
    if (args.array().size() != 1) {
      FunctionOutcome wrong = FunctionOutcome::Failure(absl::InvalidArgumentError(absl::StrCat(
          "Expected to receive a single object as the function's argument. Instead received ", args.array().size(),
          " arguments: ", storage::ToConvexJson(args))));
      wrong.error.detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
      return OutcomeResponse(wrong, call.format, call.request_id);
    }
    single = &args.array()[0];
  }
  absl::StatusOr<Value> converted = storage::FromPlainJson(*single, /*allow_undefined=*/false);
  if (!converted.ok()) {
    FunctionOutcome invalid = FunctionOutcome::Failure(absl::InvalidArgumentError(
        absl::StrCat("Invalid arguments for ", call.request.path, ": ", converted.status().message())));
    invalid.error.detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
    return OutcomeResponse(invalid, call.format, call.request_id);
  }
  call.request.args_json = storage::ToConvexJson(*converted);
  return std::nullopt;
}

void ConvexHttpApi::Process(HttpRequest http, HttpServer::Reply reply) {
  // CORS as Convex answers it: the Origin echoed, with credentials, on every answer.
  std::vector<std::pair<std::string, std::string>> cors = {{"access-control-allow-credentials", "true"}};
  if (absl::string_view origin = http.Header("origin"); !origin.empty()) {
    cors.emplace_back("access-control-allow-origin", std::string(origin));
    cors.emplace_back("vary", "origin, access-control-request-method, access-control-request-headers");
  }
  auto answer = [&cors, &reply](HttpResponse response) {
    response.headers.insert(response.headers.end(), cors.begin(), cors.end());
    std::move(reply)(std::move(response));
  };

  // /d/<deployment>/api/<endpoint>[/...][?query]
  absl::string_view path = http.target;
  path = path.substr(0, path.find('?'));
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() < 5 || !parts[0].empty() || parts[1] != "d" || !storage::ValidateDeploymentName(parts[2]).ok() || parts[3] != "api") {
    return answer(HttpResponse::Text(404, "Not found"));
  }
  const std::string endpoint(parts[4]);
  const bool run = endpoint == "run";
  const bool storage = endpoint == "storage" && parts.size() == 6 && !parts[5].empty();
  if (!run && !storage &&
      (parts.size() != 5 || (endpoint != "query" && endpoint != "mutation" && endpoint != "action" &&
                             endpoint != "function" && endpoint != "query_ts" && endpoint != "query_at_ts" &&
                             endpoint != "query_batch"))) {
    return answer(HttpResponse::Text(404, "Not found"));
  }
  if (http.method == "OPTIONS") {
    HttpResponse preflight;
    preflight.headers.emplace_back("access-control-allow-methods", std::string(kAllowedMethods));
    if (absl::string_view asked = http.Header("access-control-request-headers"); !asked.empty()) {
      preflight.headers.emplace_back("access-control-allow-headers", std::string(asked));
    }
    preflight.headers.emplace_back("access-control-max-age", "86400");
    return answer(std::move(preflight));
  }
  if (storage) {
    // File uploads and downloads (file_routes.h), with the same CORS answers.
    std::string rest(parts[5]);
    return files_.Handle(std::move(http), std::string(parts[2]), std::move(rest),
                         [cors = std::move(cors), reply = std::move(reply)](HttpResponse response) mutable {
                           response.headers.insert(response.headers.end(), cors.begin(), cors.end());
                           std::move(reply)(std::move(response));
                         });
  }
  if (http.method != "POST") {
    return answer(MethodNotAllowed("POST"));
  }

  auto call = std::make_shared<Call>();
  call->endpoint = endpoint;
  call->request_id = NewRequestId();
  call->request.request_id = call->request_id;  // the same id in the answer and in the logs
  call->request.deployment = std::string(parts[2]);
  if (run) {
    // /api/run/messages/list -> "messages:list"
    if (parts.size() < 7) {
      return answer(ErrorResponse(400, "MissingIdentifier",
                            "Path or function name not provided in path, e.g. /api/run/messages/list"));
    }
    std::vector<std::string> segments;
    for (size_t i = 5; i < parts.size(); ++i) {
      std::optional<std::string> decoded = PercentDecoded(parts[i]);
      if (!decoded.has_value() || decoded->empty()) {
        return answer(ErrorResponse(400, "BadConvexFunctionIdentifier", absl::StrCat(path, " is not a valid path to a Convex function.")));
      }
      segments.push_back(*std::move(decoded));
    }
    const std::string name = std::move(segments.back());
    segments.pop_back();
    call->request.path = absl::StrCat(absl::StrJoin(segments, "/"), ":", name);
    call->kind_from_function = true;
  }

  // Authorization: "Convex <admin key>[:<base64 identity>]" or "Bearer <JWT>"; none is anonymous.
  call->request.identity_json = "null";
  if (absl::string_view auth = http.Header("authorization"); !auth.empty()) {
    if (auth.size() < 7) return answer(ErrorResponse(400, "InvalidHeaderFailure", "Invalid authentication header"));
    const std::string scheme = absl::AsciiStrToLower(auth.substr(0, 7));
    absl::string_view credential = absl::StripAsciiWhitespace(auth.substr(7));
    if (scheme == "bearer " && !credential.empty()) {
      call->user_token = std::string(credential);  // checked against the deployment's auth.config in Serve
    } else if (scheme != "convex " || credential.empty()) {
      return answer(ErrorResponse(400, "InvalidAdminKey", "Invalid admin key"));
    }
  }
  if (absl::string_view auth = http.Header("authorization"); !auth.empty() && call->user_token.empty()) {
    absl::string_view credential = absl::StripAsciiWhitespace(auth.substr(7));
    const size_t colon = credential.find(':');
    call->admin_key = std::string(credential.substr(0, colon));
    // An identity to act as comes only with a key, which Serve checks before anything runs.
    if (call->admin_key.empty()) return answer(ErrorResponse(400, "InvalidAdminKey", "Invalid admin key"));
    if (colon != absl::string_view::npos) {
      // Acting as a user: the identity's attributes, base64 JSON.
      std::string json;
      absl::StatusOr<Value> identity = absl::InvalidArgumentError("");
      if (absl::Base64Unescape(credential.substr(colon + 1), &json)) {
        identity = storage::ParseConvexJson(json, {.plain = true});
      }
      if (!identity.ok() || identity->type() != Value::Type::kObject) {
        return answer(ErrorResponse(400, "HeaderParseFailure", "Malformed Authorization header."));
      }
      absl::StatusOr<std::string> acting_as = ActingAsIdentity(*identity);
      if (!acting_as.ok()) return answer(ErrorResponse(400, "HeaderParseFailure", acting_as.status().message()));
      call->request.identity_json = *std::move(acting_as);
    }
  }

  call->cors = std::move(cors);
  if (endpoint == "query_ts") {
    // No body: the timestamp queries are answered at now, for /api/query_at_ts.
    call->timestamp_only = true;
    return executor_.Run([this, call = std::move(call), reply = std::move(reply)]() mutable {
      Serve(std::move(call), std::move(reply));
    });
  }
  // From here, errors answer with `call->cors`.
  auto refuse = [&call, &reply](HttpResponse response) {
    response.headers.insert(response.headers.end(), call->cors.begin(), call->cors.end());
    std::move(reply)(std::move(response));
  };

  // The body: {"path", "args", "format"?} (no "path" for /api/run; "ts" for /api/query_at_ts).
  if (!IsJsonContentType(http.Header("content-type"))) {
    return refuse(ErrorResponse(400, "BadJsonBody", "Expected request with `Content-Type: application/json`"));
  }
  absl::StatusOr<Value> body = storage::ParseConvexJson(http.body, {.plain = true});
  if (!body.ok()) {
    return refuse(ErrorResponse(400, "BadJsonBody", absl::StrCat("Failed to parse the request body as JSON: ", body.status().message())));
  }
  if (body->type() != Value::Type::kObject) {
    return refuse(ErrorResponse(400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: expected an object"));
  }
  if (endpoint == "query_batch") {
    // {"queries": [<a query's body>, ...]}: each parsed as /api/query's; any wrong one refuses them all.
    const Value& list = body->Get("queries");
    if (list.type() != Value::Type::kArray) {
      return refuse(ErrorResponse(400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: missing field `queries`"));
    }
    std::vector<Call> queries;
    for (const Value& one : list.array()) {
      Call& query = queries.emplace_back();
      query.request.deployment = call->request.deployment;
      query.request.identity_json = call->request.identity_json;
      query.request_id = call->request_id;
      query.request.request_id = call->request_id;
      if (one.type() != Value::Type::kObject) {
        return refuse(ErrorResponse(400, "BadJsonBody", "Failed to deserialize the JSON body into the target type: a query is not an object"));
      }
      if (std::optional<HttpResponse> wrong = ParseCall(one, /*run=*/false, query); wrong.has_value()) {
        return refuse(*std::move(wrong));
      }
    }
    return executor_.Run([this, call = std::move(call), queries = std::move(queries), reply = std::move(reply)]() mutable {
      ServeBatch(std::move(call), std::move(queries), std::move(reply));
    });
  }
  if (std::optional<HttpResponse> wrong = ParseCall(*body, run, *call); wrong.has_value()) {
    return refuse(*std::move(wrong));
  }
  call->request.kind = endpoint == "mutation" ? FunctionKind::kMutation
                       : endpoint == "action" ? FunctionKind::kAction
                                              : FunctionKind::kQuery;
  if (endpoint == "function") {
    // Any kind, for the admin only (Convex's CLI `run`).
    if (call->admin_key.empty()) {
      return refuse(ErrorResponse(403, "BadDeployKey",
                            "The provided deploy key was invalid for this deployment. Double check that the "
                            "environment this key was generated for matches the desired deployment."));
    }
    call->kind_from_function = true;
  }
  if (endpoint == "query_at_ts") {
    const Value& ts = body->Get("ts");
    absl::StatusOr<storage::Timestamp> at =
        ts.type() == Value::Type::kString ? ParseTimestamp(ts.string()) : absl::InvalidArgumentError("");
    if (!at.ok()) return refuse(ErrorResponse(400, "BadJsonBody", "`ts` must be a timestamp from /api/query_ts"));
    call->request.snapshot_ts = *at;
  }

  // Nothing on the way waits when the deployment is open and the caller is anonymous or known;
  // otherwise (a key to check, a deployment to open) the executor takes it.
  const bool open = gateway_.deployments().FindOpen(call->request.deployment) != nullptr;
  if (!call->admin_key.empty()) call->known = gateway_.KnownAccess(call->request.deployment, call->admin_key);
  const bool known = (call->admin_key.empty() || call->known.has_value()) && call->user_token.empty();
  if (open && known && !call->kind_from_function) return Serve(std::move(call), std::move(reply));
  executor_.Run([this, call = std::move(call), reply = std::move(reply)]() mutable { Serve(std::move(call), std::move(reply)); });
}

std::optional<HttpResponse> ConvexHttpApi::CheckAdminKey(Call& call) {
  if (!call.user_token.empty()) {
    // An end user's token: the identity it stands for, or 401 in Convex's words.
    absl::StatusOr<std::string> identity = gateway_.VerifyUserToken(call.request.deployment, call.user_token);
    if (absl::IsUnavailable(identity.status())) {
      return ErrorResponse(503, "Unavailable", std::string(identity.status().message()));  // try again
    }
    if (!identity.ok()) {
      const absl::string_view message = identity.status().message();
      const char* code = absl::StartsWith(message, "No auth provider")            ? "NoAuthProvider"
                         : absl::StartsWith(message, "Auth provider discovery")   ? "AuthProviderDiscoveryFailed"
                         : absl::StartsWith(message, "Could not verify OIDC")     ? "Unauthenticated"
                                                                                  : "InvalidAuthHeader";
      return ErrorResponse(401, code, std::string(message));
    }
    call.request.identity_json = *std::move(identity);
    return std::nullopt;
  }
  if (call.admin_key.empty()) return std::nullopt;
  // Known already on the fast path (never a catalog read on the server's thread).
  absl::StatusOr<Access> access =
      call.known.has_value() ? *call.known : gateway_.Authorize(call.request.deployment, call.admin_key);
  if (!access.ok() && !absl::IsUnauthenticated(access.status())) {
    return OutcomeResponse(FunctionOutcome::Failure(access.status()), call.format, call.request_id);
  }
  if (!access.ok() || *access != Access::kInternal) {
    return ErrorResponse(401, "BadAdminKey", "The provided admin key was invalid for this instance");
  }
  call.request.allow_internal = true;
  return std::nullopt;
}

// /api/query_batch: every query at one timestamp, answered together ({"results": [...]}) in order. A
// query's own failure is its result; the system's fails the request, as on Convex.
void ConvexHttpApi::ServeBatch(std::shared_ptr<Call> call, std::vector<Call> queries, HttpServer::Reply reply) {
  auto answer = [cors = call->cors](HttpServer::Reply reply, HttpResponse response) {
    response.headers.insert(response.headers.end(), cors.begin(), cors.end());
    std::move(reply)(std::move(response));
  };
  if (std::optional<HttpResponse> refused = CheckAdminKey(*call); refused.has_value()) {
    return answer(std::move(reply), *std::move(refused));
  }
  // Every query runs as the caller CheckAdminKey found (a user's token's identity, or the admin's).
  for (Call& query : queries) {
    query.request.identity_json = call->request.identity_json;
  }
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(call->request.deployment);
  if (!live.ok()) {
    return answer(std::move(reply), OutcomeResponse(FunctionOutcome::Failure(live.status()), call->format, call->request_id));
  }
  if (queries.empty()) return answer(std::move(reply), HttpResponse::Json(200, R"({"results":[]})"));
  const storage::Timestamp ts = gateway_.tracker().Now(call->request.deployment, (*live)->db());
  struct Batch {
    absl::Mutex mu;
    std::vector<Call> queries;
    std::vector<FunctionOutcome> outcomes ABSL_GUARDED_BY(mu);
    size_t left ABSL_GUARDED_BY(mu) = 0;
    HttpServer::Reply reply;
  };
  auto batch = std::make_shared<Batch>();
  batch->queries = std::move(queries);
  batch->reply = std::move(reply);
  {
    absl::MutexLock lock(&batch->mu);
    batch->outcomes.resize(batch->queries.size());
    batch->left = batch->queries.size();
  }
  auto finish = [batch, answer] {
    std::vector<FunctionOutcome> outcomes;
    {
      absl::MutexLock lock(&batch->mu);
      outcomes = std::move(batch->outcomes);
    }
    std::string json = "{\"results\":[";
    for (size_t i = 0; i < batch->queries.size(); ++i) {
      const FunctionOutcome& outcome = outcomes[i];
      HttpResponse one = OutcomeResponse(outcome, batch->queries[i].format, batch->queries[i].request_id);
      if (one.status != 200) return answer(std::move(batch->reply), std::move(one));
      absl::StrAppend(&json, i == 0 ? "" : ",", one.body);
    }
    json += "]}";
    answer(std::move(batch->reply), HttpResponse::Json(200, std::move(json)));
  };
  for (size_t i = 0; i < batch->queries.size(); ++i) {
    FunctionCallRequest request = batch->queries[i].request;
    request.allow_internal = call->request.allow_internal;
    request.kind = FunctionKind::kQuery;
    request.snapshot_ts = ts;
    request.deadline = gateway_.DeadlineFor(FunctionKind::kQuery, absl::InfiniteFuture());
    gateway_.AdmitAndRun(std::move(request), [batch, i, finish](FunctionOutcome outcome) {
      bool last;
      {
        absl::MutexLock lock(&batch->mu);
        batch->outcomes[i] = std::move(outcome);
        last = --batch->left == 0;
      }
      if (last) finish();
    });
  }
}

void ConvexHttpApi::Serve(std::shared_ptr<Call> call, HttpServer::Reply reply) {
  auto answer = [cors = call->cors](HttpServer::Reply reply, HttpResponse response) {
    response.headers.insert(response.headers.end(), cors.begin(), cors.end());
    std::move(reply)(std::move(response));
  };
  if (std::optional<HttpResponse> refused = CheckAdminKey(*call); refused.has_value()) {
    return answer(std::move(reply), *std::move(refused));
  }
  if (call->timestamp_only) {
    absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(call->request.deployment);
    if (!live.ok()) {
      return answer(std::move(reply), OutcomeResponse(FunctionOutcome::Failure(live.status()), call->format,
                                                      call->request_id));
    }
    const storage::Timestamp ts = gateway_.tracker().Now(call->request.deployment, (*live)->db());
    return answer(std::move(reply), HttpResponse::Json(200, absl::StrCat("{\"ts\":", TimestampJson(ts), "}")));
  }
  if (call->kind_from_function) {
    // /api/run and /api/function run the function as what it is.
    absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(call->request.deployment);
    std::shared_ptr<const CodeVersion> code = live.ok() ? (*live)->code() : nullptr;
    absl::StatusOr<FunctionPath> path = ParseFunctionPath(call->request.path);
    const FunctionDef* function = code != nullptr && path.ok() ? code->Find(*path) : nullptr;
    if (function != nullptr) call->request.kind = function->kind;
  }
  call->request.deadline = gateway_.DeadlineFor(call->request.kind, absl::InfiniteFuture());
  const Format format = call->format;
  const std::string request_id = call->request_id;
  auto done = [answer, reply = std::move(reply), format, request_id](FunctionOutcome outcome) mutable {
    answer(std::move(reply), OutcomeResponse(outcome, format, request_id));
  };
  // A query at a timestamp of the client's (/api/query_at_ts) runs there, past the cache.
  if (call->request.snapshot_ts.has_value() && call->request.kind == FunctionKind::kQuery) {
    return gateway_.AdmitAndRun(std::move(call->request), std::move(done));
  }
  gateway_.Call(std::move(call->request), std::move(done));
}

}  // namespace isobar::supervisor
