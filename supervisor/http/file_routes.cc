#include "supervisor/http/file_routes.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "supervisor/http/convex_wire.h"
#include "supervisor/runner/file_storage.h"

namespace isobar::supervisor {
namespace {

// A failure the system had (not the request's): 503 when a retry may do, else 500.
HttpResponse SystemFailure(const absl::Status& status) {
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) return ErrorResponse(503, "Unavailable", status.message());
  return ErrorResponse(500, "InternalServerError", "Your request couldn't be completed. Try again later.");
}

}  // namespace

std::string QueryParameter(absl::string_view target, absl::string_view name) {
  const size_t question = target.find('?');
  if (question == absl::string_view::npos) return "";
  for (absl::string_view pair : absl::StrSplit(target.substr(question + 1), '&')) {
    const size_t equals = pair.find('=');
    if (pair.substr(0, equals) == name) return equals == absl::string_view::npos ? "" : std::string(pair.substr(equals + 1));
  }
  return "";
}

absl::StatusOr<std::optional<ByteRange>> ParseRange(absl::string_view header, uint64_t size) {
  header = absl::StripAsciiWhitespace(header);
  if (header.empty() || !absl::ConsumePrefix(&header, "bytes=")) return std::nullopt;
  if (absl::StrContains(header, ',')) return absl::OutOfRangeError("only one range is served");
  const size_t dash = header.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  const absl::string_view from = absl::StripAsciiWhitespace(header.substr(0, dash));
  const absl::string_view to = absl::StripAsciiWhitespace(header.substr(dash + 1));
  uint64_t first = 0;
  uint64_t last = 0;
  if (from.empty()) {
    // The last N bytes.
    uint64_t suffix = 0;
    if (!absl::SimpleAtoi(to, &suffix)) return std::nullopt;
    if (suffix == 0 || size == 0) return absl::OutOfRangeError("the range is empty");
    first = suffix >= size ? 0 : size - suffix;
    last = size - 1;
  } else {
    if (!absl::SimpleAtoi(from, &first) || (!to.empty() && !absl::SimpleAtoi(to, &last))) return std::nullopt;
    if (to.empty()) last = size == 0 ? 0 : size - 1;
    if (!to.empty() && last < first) return std::nullopt;  // not a valid range: ignored (RFC 9110 §14.2)
    if (first >= size) return absl::OutOfRangeError("the range starts past the end");
    if (last >= size) last = size - 1;
  }
  return ByteRange{first, last};
}

void FileRoutes::Handle(HttpRequest request, std::string deployment, std::string rest, HttpServer::Reply reply) {
  {
    // Up to kMaxConcurrent at once, counted from here (the executor's queue holds no more than that).
    absl::MutexLock lock(&mu_);
    if (running_ >= kMaxConcurrent) {
      HttpResponse busy = HttpResponse::Json(
          503, R"({"code":"Overloaded","message":"Too many file uploads and downloads at once; retry shortly"})");
      busy.headers.emplace_back("retry-after", "1");
      return std::move(reply)(std::move(busy));
    }
    ++running_;
  }
  executor_.Run([this, request = std::move(request), deployment = std::move(deployment), rest = std::move(rest),
                 reply = std::move(reply)]() mutable {
    HttpResponse response = Route(request, deployment, rest);
    {
      absl::MutexLock lock(&mu_);
      --running_;
    }
    std::move(reply)(std::move(response));
  });
}

HttpResponse FileRoutes::Route(const HttpRequest& request, const std::string& deployment, const std::string& rest) {
  if (rest == "upload") return request.method == "POST" ? Upload(request, deployment) : MethodNotAllowed("POST");
  if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET, HEAD");
  return Serve(request, deployment, rest);
}

HttpResponse FileRoutes::Upload(const HttpRequest& request, const std::string& deployment) {
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(deployment);
  // An unknown deployment and a bad token look the same.
  if (!live.ok() && !absl::IsNotFound(live.status())) return SystemFailure(live.status());
  const std::string token = QueryParameter(request.target, "token");
  if (token.empty()) return ErrorResponse(400, "BadQueryArgs", "Failed to deserialize query string: missing field `token`");
  absl::Status valid = live.ok() ? CheckUploadToken((*live)->info(), token, absl::Now())
                                 : absl::UnauthenticatedError("the URL's signature is not valid for this deployment");
  if (!valid.ok()) {
    return absl::StrContains(valid.message(), "expired")
               ? ErrorResponse(401, "StorageTokenExpired", "Store File Authorization expired")
               : ErrorResponse(401, "StorageTokenInvalid", "Couldn't decode the StoreFileAuthorization token");
  }
  std::optional<std::string> sha256;
  if (absl::string_view digest = request.Header("digest"); !digest.empty()) {
    // "sha-256=<base64>" (RFC 3230), the only digest Convex reads.
    absl::string_view value = absl::StripAsciiWhitespace(digest);
    std::string raw;
    if (!absl::ConsumePrefix(&value, "sha-256=") || !absl::Base64Unescape(value, &raw) || raw.size() != 32) {
      return ErrorResponse(400, "BadHeader", "Bad header for digest: expected sha-256=<base64 of 32 bytes>");
    }
    sha256 = absl::Base64Escape(raw);
  }
  std::optional<std::string> content_type;
  if (absl::string_view type = request.Header("content-type"); !type.empty()) content_type = std::string(type);
  absl::StatusOr<std::string> id = StoreFileNow((*live)->db(), request.body, std::move(content_type), sha256);
  if (!id.ok()) {
    if (absl::StartsWith(id.status().message(), "Sha256 mismatch")) return ErrorResponse(400, "Sha256Mismatch", id.status().message());
    if (absl::IsInvalidArgument(id.status())) return ErrorResponse(413, "FileTooLarge", id.status().message());
    if (absl::IsResourceExhausted(id.status())) return ErrorResponse(507, "StorageQuotaExceeded", id.status().message());
    return SystemFailure(id.status());
  }
  return HttpResponse::Json(200, absl::StrCat("{\"storageId\":", JsonString(*id), "}"));
}

HttpResponse FileRoutes::Serve(const HttpRequest& request, const std::string& deployment, const std::string& id) {
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(deployment);
  if (!live.ok() && !absl::IsNotFound(live.status())) return SystemFailure(live.status());
  absl::Status valid = live.ok() ? CheckServingSignature((*live)->info(), id, QueryParameter(request.target, "expires"),
                                                         QueryParameter(request.target, "signature"), absl::Now())
                                 : absl::UnauthenticatedError("the URL's signature is not valid for this deployment");
  if (!valid.ok()) {
    return ErrorResponse(401, absl::StrContains(valid.message(), "expired") ? "StorageUrlExpired" : "StorageUrlInvalid",
                   absl::StrCat(valid.message(), ": get a new one from ctx.storage.getUrl"));
  }
  std::unique_ptr<storage::Transaction> txn = (*live)->db().Begin();
  absl::StatusOr<std::optional<StoredFile>> file = FindFile(*txn, "storage.getUrl", id);
  if (!file.ok()) return absl::IsInvalidArgument(file.status()) ? ErrorResponse(400, "InvalidStoragePath", file.status().message())
                                                               : SystemFailure(file.status());
  if (!file->has_value()) return ErrorResponse(404, "FileNotFound", absl::StrCat("File ", id, " not found"));
  const StoredFile& found = **file;
  HttpResponse response;
  if (found.content_type.has_value()) response.headers.emplace_back("content-type", *found.content_type);
  response.headers.emplace_back("cache-control", "private, max-age=2592000");
  response.headers.emplace_back("accept-ranges", "bytes");
  response.headers.emplace_back("x-content-type-options", "nosniff");
  response.headers.emplace_back("content-security-policy", "sandbox");
  absl::StatusOr<std::optional<ByteRange>> range = ParseRange(request.Header("range"), found.size);
  if (!range.ok()) {
    HttpResponse unsatisfiable;
    unsatisfiable.status = 416;
    unsatisfiable.headers.emplace_back("content-range", absl::StrCat("bytes */", found.size));
    return unsatisfiable;
  }
  uint64_t offset = 0;
  uint64_t length = found.size;
  if (range->has_value()) {
    offset = (*range)->first;
    length = (*range)->last - (*range)->first + 1;
    response.status = 206;
    response.headers.emplace_back("content-range", absl::StrCat("bytes ", (*range)->first, "-", (*range)->last, "/", found.size));
  } else {
    response.headers.emplace_back("digest", absl::StrCat("sha-256=", absl::Base64Escape(found.sha256)));
  }
  if (request.method == "HEAD") {
    // The headers of the GET, and no bytes read: the listener sends this length and no body.
    response.head_length = length;
    return response;
  }
  response.body.reserve(length);
  absl::Status read = (*live)->db().files().Read(found.id, offset, length, [&response](absl::string_view part) {
    response.body.append(part.data(), part.size());
    return absl::OkStatus();
  });
  if (!read.ok()) return SystemFailure(read);
  return response;
}

}  // namespace isobar::supervisor
