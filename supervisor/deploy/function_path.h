// Function paths as clients and user code name them (CONVEX_ABI.md §2.8): "dir/mod:fn" is export `fn`
// of module "dir/mod.js"; "dir/mod" is its default export; a missing ".js" is added and any other
// extension is refused.
//
//   ASSIGN_OR_RETURN(FunctionPath path, ParseFunctionPath("messages:send"));
//   path.module == "messages.js", path.name == "send", path.canonical == "messages:send"
#ifndef ISOBAR_SUPERVISOR_DEPLOY_FUNCTION_PATH_H_
#define ISOBAR_SUPERVISOR_DEPLOY_FUNCTION_PATH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {

struct FunctionPath {
  std::string module;     // "dir/mod.js"
  std::string name;       // "fn" or "default"
  std::string canonical;  // "dir/mod:fn" (":default" kept), as analysis and logs name it

  // "dir/mod.js:fn", as Convex names a function in its messages and in scheduled jobs.
  std::string ConvexName() const { return module + ":" + name; }
};

// INVALID_ARGUMENT naming what is wrong. Module paths follow storage::ValidateModulePath; `_deps/` is
// never a function module; export names are JS identifiers of at most 256 characters.
absl::StatusOr<FunctionPath> ParseFunctionPath(absl::string_view path);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_FUNCTION_PATH_H_
