// The Convex HTTP API (what `ConvexHttpClient` and curl speak), for the deployment named in the URL:
//
//   POST /d/<deployment>/api/query | mutation | action   {"path", "args", "format"?}
//   POST /d/<deployment>/api/run/<dir>/<module>/<export> {"args", "format"?}
//   POST /d/<deployment>/api/function                    {"path", "args", "format"?}, admin only, any kind
//   POST /d/<deployment>/api/query_ts                    {"ts"}: the timestamp to run queries at
//   POST /d/<deployment>/api/query_at_ts                 {"path", "args", "ts", "format"?}
//   POST /d/<deployment>/api/query_batch                 {"queries": [{"path", "args", "format"?}, ...]}
//   POST /d/<deployment>/api/storage/upload, GET /d/<deployment>/api/storage/<id>: files (file_routes.h)
//   OPTIONS on any of them: the CORS preflight
//
// As Convex answers them (crates/local_backend/src/public_api.rs): HTTP 200 with
// {"status":"success","value","logLines"?} or, when the function failed, {"status":"error",
// "errorMessage","errorData"?,"logLines"?}; a request that cannot run gets a 4xx/5xx with
// {"code","message"}. `args` is Convex-encoded JSON, an object or a one-element array; `format` is
// "convex_encoded_json" (what the clients ask for) or "json" (the default: Int64 as a decimal
// string, bytes as base64). CORS: the request's Origin is echoed, with credentials.
//
// Who may call: anyone may call public functions (as on Convex: a public function is public, and
// it checks ctx.auth itself); `Authorization: Convex <admin key>[:<base64 identity JSON>]` with the
// server's or the deployment's admin key reaches internal functions too, optionally acting as a user.
// `Authorization: Bearer <JWT>` is refused (401) until user identities are checked (issue 19).
#ifndef ISOBAR_SUPERVISOR_HTTP_CONVEX_HTTP_API_H_
#define ISOBAR_SUPERVISOR_HTTP_CONVEX_HTTP_API_H_

#include <optional>
#include <string>
#include <vector>

#include "base/executor.h"
#include "storage/value.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/http/file_routes.h"
#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

class ConvexHttpApi {
 public:
  // Not owned; both must outlive the API.
  ConvexHttpApi(Gateway& gateway, Executor& executor) : gateway_(gateway), executor_(executor), files_(gateway, executor) {}

  // On the HTTP server's thread; anything that may wait runs on the executor.
  void Handle(HttpRequest request, HttpServer::Reply reply);

 private:
  struct Call;
  void Process(HttpRequest request, HttpServer::Reply reply);
  std::optional<HttpResponse> ParseCall(const storage::Value& body, bool run, Call& call);
  // The admin key's access (allow_internal set), or the refusal.
  std::optional<HttpResponse> CheckAdminKey(Call& call);
  void Serve(std::shared_ptr<Call> call, HttpServer::Reply reply);
  void ServeBatch(std::shared_ptr<Call> call, std::vector<Call> queries, HttpServer::Reply reply);

  Gateway& gateway_;
  Executor& executor_;
  FileRoutes files_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_CONVEX_HTTP_API_H_
