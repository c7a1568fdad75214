// Deploy-time analysis (CONVEX_ABI.md §3.1, §3.3, §3.4): evaluates every module of a deployment (except
// the `_deps/` chunks, which they import) and describes what they export. The result is JSON:
//
//   {"functions": [{"path": "messages:send", "module": "messages.js", "name": "send",
//                   "kind": "mutation", "visibility": "public",
//                   "args": <exportArgs() parsed>, "returns": <exportReturns() parsed>}, ...],
//    "httpActions": [{"path": "http:handler", ...}],           // isHttp exports (no args/returns)
//    "schema": <schema.js default .export() parsed> | null,
//    "crons": <crons.js default .export() parsed> | null,
//    "httpRoutes": [{"path": "/hello", "method": "GET"}, ...] | null}   // http.js default getRoutes()
//
// An export with none or several of isQuery/isMutation/isAction is skipped, as Convex does.
#ifndef ISOBAR_WORKER_ANALYZE_H_
#define ISOBAR_WORKER_ANALYZE_H_

#include "worker/invocation.h"

namespace isobar::worker {

// Appends the steps of an Analyze invocation (its modules are in invocation.sources).
void AnalyzeSteps(Invocation& invocation);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_ANALYZE_H_
