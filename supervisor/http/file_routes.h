// File storage on the Convex client listener (supervisor/http/notes/http_actions_and_storage.md §B):
//
//   POST     /d/<deployment>/api/storage/upload?token=<token>    the body is the file; 200 {"storageId"}
//   GET|HEAD /d/<deployment>/api/storage/<id>?expires=&signature= the file, or one byte range of it
//
// Served files carry `X-Content-Type-Options: nosniff` and `Content-Security-Policy: sandbox`: every
// deployment shares this origin, so an uploaded HTML page must not run as a page of it.
// Both URLs come from the deployment's functions (ctx.storage.generateUploadUrl, getUrl) and are
// signed for this deployment (runner/file_storage.h). Uploads: Content-Type is stored; `Digest:
// sha-256=<base64>` is checked (400 Sha256Mismatch, nothing stored); at most kMaxUploadBytes, written
// to the database a chunk at a time as the body arrives. Serving, read a chunk at a time as the client
// takes it: Content-Type, Content-Length, Cache-Control, Accept-Ranges and Digest as Convex
// sends them; one range gives 206 with Content-Range, several 416 (as Convex), one past the end 416
// with `Content-Range: bytes */<size>`.
#ifndef ISOBAR_SUPERVISOR_HTTP_FILE_ROUTES_H_
#define ISOBAR_SUPERVISOR_HTTP_FILE_ROUTES_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/executor.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

class FileRoutes {
 public:
  // Not owned; both must outlive this.
  FileRoutes(Gateway& gateway, Executor& executor) : gateway_(gateway), executor_(executor) {}

  // `rest` is the path after ".../api/storage/" ("upload" or an id); the answer goes to `reply`
  // from the executor.
  void Handle(HttpRequest request, std::string deployment, std::string rest, HttpServer::Reply reply);

  // Whether a request is an upload, whose body the listener streams (HttpServerOptions::stream_body).
  static bool StreamsBody(absl::string_view method, absl::string_view target);

  // Transfers at once, each holding at most a chunk or two (2 MiB) of its file: in all, and for one
  // deployment (so that one deployment's clients, slow or many, cannot take every place); more are
  // told to retry (503).
  static constexpr int kMaxConcurrent = 64;
  static constexpr int kMaxConcurrentPerDeployment = 8;

 private:
  class FileSource;
  class Upload;

  void StartUpload(const HttpRequest& request, const std::string& deployment, HttpServer::Reply reply,
                   std::shared_ptr<void> slot);
  HttpResponse Serve(const HttpRequest& request, const std::string& deployment, const std::string& id,
                     std::shared_ptr<void> slot);

  Gateway& gateway_;
  Executor& executor_;
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> running_for_ ABSL_GUARDED_BY(mu_);
};

// A Range header's one range within a file of `size` bytes: [first, last] inclusive. nullopt: serve
// the whole file (no header, or one that does not parse, as Convex does); an error status: 416.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};
absl::StatusOr<std::optional<ByteRange>> ParseRange(absl::string_view header, uint64_t size);

// The value of `name` in the target's query string, or empty.
std::string QueryParameter(absl::string_view target, absl::string_view name);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_FILE_ROUTES_H_
