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

// A failure to store an upload, as Convex words it.
HttpResponse StoreFailure(const absl::Status& status) {
  if (absl::StartsWith(status.message(), "Sha256 mismatch")) return ErrorResponse(400, "Sha256Mismatch", status.message());
  if (absl::StartsWith(status.message(), "Invalid content type")) return ErrorResponse(400, "BadHeader", status.message());
  if (absl::IsInvalidArgument(status)) return ErrorResponse(413, "FileTooLarge", status.message());
  if (absl::IsResourceExhausted(status)) return ErrorResponse(507, "StorageQuotaExceeded", status.message());
  return SystemFailure(status);
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

// A file's bytes as the response body, read from the database a chunk at a time on the executor.
class FileRoutes::FileSource final : public BodySource {
 public:
  FileSource(Executor& executor, std::shared_ptr<LiveDeployment> live, std::string id, uint64_t offset, uint64_t length,
             std::shared_ptr<void> slot)
      : executor_(executor), live_(std::move(live)), id_(std::move(id)), offset_(offset), left_(length), slot_(std::move(slot)) {}

  void Next(Done done) override {
    if (left_ == 0) return std::move(done)(std::string());
    // Up to the end of the chunk the offset is in: one row read per part.
    const uint64_t take = std::min<uint64_t>(left_, storage::BlobStore::kChunkBytes - offset_ % storage::BlobStore::kChunkBytes);
    const uint64_t offset = offset_;
    offset_ += take;
    left_ -= take;
    executor_.Run([live = live_, id = id_, offset, take, done = std::move(done)]() mutable {
      std::move(done)(live->db().files().ReadString(id, offset, take));
    });
  }

 private:
  Executor& executor_;
  const std::shared_ptr<LiveDeployment> live_;
  const std::string id_;
  uint64_t offset_;
  uint64_t left_;
  const std::shared_ptr<void> slot_;  // a transfer's place among kMaxConcurrent, held to the end
};

// An upload: the body read a part at a time, each part given to a FileWriter on the executor (which
// writes whole chunks to the database), then the file committed and the answer sent.
class FileRoutes::Upload final : public std::enable_shared_from_this<Upload> {
 public:
  Upload(Executor& executor, std::shared_ptr<LiveDeployment> live, std::shared_ptr<BodyReader> body,
         std::optional<std::string> content_type, std::optional<std::string> sha256, HttpServer::Reply reply,
         std::shared_ptr<void> slot)
      : executor_(executor),
        live_(std::move(live)),
        body_(std::move(body)),
        content_type_(std::move(content_type)),
        sha256_(std::move(sha256)),
        reply_(std::move(reply)),
        slot_(std::move(slot)),
        writer_(live_->db(), kMaxUploadBytes) {}

  void Next() {
    body_->Read(kPartBytes, [self = shared_from_this()](absl::StatusOr<std::string> part) mutable {
      // On the server's thread, which must not wait for the database.
      self->executor_.Run([self, part = std::move(part)]() mutable { self->Take(std::move(part)); });
    });
  }

 private:
  static constexpr size_t kPartBytes = 256 << 10;

  void Take(absl::StatusOr<std::string> part) {
    if (!part.ok()) {
      writer_.Abandon();  // before the answer: once it is out, nothing of the upload is left
      if (absl::IsResourceExhausted(part.status())) return Answer(ErrorResponse(413, "FileTooLarge", part.status().message()));
      if (absl::IsInvalidArgument(part.status())) return Answer(ErrorResponse(400, "BadRequest", part.status().message()));
      return Answer(ErrorResponse(408, "RequestTimeout", part.status().message()));
    }
    if (part->empty()) {
      absl::StatusOr<std::string> id = writer_.Commit(content_type_, sha256_);
      if (!id.ok()) return Answer(StoreFailure(id.status()));
      return Answer(HttpResponse::Json(200, absl::StrCat("{\"storageId\":", JsonString(*id), "}")));
    }
    if (absl::Status appended = writer_.Append(*part); !appended.ok()) return Answer(StoreFailure(appended));
    Next();
  }

  void Answer(HttpResponse response) { std::move(reply_)(std::move(response)); }

  Executor& executor_;
  const std::shared_ptr<LiveDeployment> live_;
  const std::shared_ptr<BodyReader> body_;
  const std::optional<std::string> content_type_;
  const std::optional<std::string> sha256_;
  HttpServer::Reply reply_;
  const std::shared_ptr<void> slot_;
  FileWriter writer_;
};

bool FileRoutes::StreamsBody(absl::string_view method, absl::string_view target) {
  return method == "POST" && absl::EndsWith(target.substr(0, target.find('?')), "/api/storage/upload");
}

void FileRoutes::Handle(HttpRequest request, std::string deployment, std::string rest, HttpServer::Reply reply) {
  {
    // Up to kMaxConcurrent at once, counted from here to the transfer's end.
    absl::MutexLock lock(&mu_);
    auto mine = running_for_.find(deployment);
    if (running_ >= kMaxConcurrent || (mine != running_for_.end() && mine->second >= kMaxConcurrentPerDeployment)) {
      HttpResponse busy = HttpResponse::Json(
          503, R"({"code":"Overloaded","message":"Too many file uploads and downloads at once; retry shortly"})");
      busy.headers.emplace_back("retry-after", "1");
      return std::move(reply)(std::move(busy));
    }
    ++running_;
    ++running_for_[deployment];
  }
  std::shared_ptr<void> slot(nullptr, [this, deployment](void*) {
    absl::MutexLock lock(&mu_);
    --running_;
    if (--running_for_[deployment] == 0) running_for_.erase(deployment);
  });
  executor_.Run([this, request = std::move(request), deployment = std::move(deployment), rest = std::move(rest),
                 reply = std::move(reply), slot = std::move(slot)]() mutable {
    if (rest == "upload") {
      if (request.method != "POST" || request.body_reader == nullptr) return std::move(reply)(MethodNotAllowed("POST"));
      return StartUpload(request, deployment, std::move(reply), std::move(slot));
    }
    if (request.method != "GET" && request.method != "HEAD") return std::move(reply)(MethodNotAllowed("GET, HEAD"));
    std::move(reply)(Serve(request, deployment, rest, std::move(slot)));
  });
}

void FileRoutes::StartUpload(const HttpRequest& request, const std::string& deployment, HttpServer::Reply reply,
                             std::shared_ptr<void> slot) {
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = gateway_.deployments().Get(deployment);
  // An unknown deployment and a bad token look the same.
  if (!live.ok() && !absl::IsNotFound(live.status())) return std::move(reply)(SystemFailure(live.status()));
  const std::string token = QueryParameter(request.target, "token");
  if (token.empty()) {
    return std::move(reply)(ErrorResponse(400, "BadQueryArgs", "Failed to deserialize query string: missing field `token`"));
  }
  absl::Status valid = live.ok() ? CheckUploadToken((*live)->info(), token, absl::Now())
                                 : absl::UnauthenticatedError("the URL's signature is not valid for this deployment");
  if (!valid.ok()) {
    return std::move(reply)(absl::StrContains(valid.message(), "expired")
                                ? ErrorResponse(401, "StorageTokenExpired", "Store File Authorization expired")
                                : ErrorResponse(401, "StorageTokenInvalid", "Couldn't decode the StoreFileAuthorization token"));
  }
  std::optional<std::string> sha256;
  if (absl::string_view digest = request.Header("digest"); !digest.empty()) {
    // "sha-256=<base64>" (RFC 3230), the only digest Convex reads.
    absl::string_view value = absl::StripAsciiWhitespace(digest);
    std::string raw;
    if (!absl::ConsumePrefix(&value, "sha-256=") || !absl::Base64Unescape(value, &raw) || raw.size() != 32) {
      return std::move(reply)(ErrorResponse(400, "BadHeader", "Bad header for digest: expected sha-256=<base64 of 32 bytes>"));
    }
    sha256 = absl::Base64Escape(raw);
  }
  std::optional<std::string> content_type;
  if (absl::string_view type = request.Header("content-type"); !type.empty()) content_type = std::string(type);
  auto upload = std::make_shared<Upload>(executor_, *std::move(live), request.body_reader, std::move(content_type),
                                         std::move(sha256), std::move(reply), std::move(slot));
  upload->Next();
}

HttpResponse FileRoutes::Serve(const HttpRequest& request, const std::string& deployment, const std::string& id,
                               std::shared_ptr<void> slot) {
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
  // The listener sends this length; for a HEAD, no body (and nothing is read).
  response.length = length;
  if (request.method != "HEAD") {
    response.source = std::make_shared<FileSource>(executor_, *std::move(live), found.id, offset, length, std::move(slot));
  }
  return response;
}

}  // namespace isobar::supervisor
