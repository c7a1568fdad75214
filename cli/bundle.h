// Bundling a convex/ folder as the official Convex CLI does (CONVEX_ABI.md §9.1), with the pinned
// esbuild that deploy/bootstrap installs: one ES module per entry point plus shared chunks under
// _deps/, relative imports between them; and, made from those modules, the same code as one classic
// script at kClassicBundlePath (base/classic_bundle.h) for the worker's per-version snapshot, unless
// esbuild cannot make one (top-level await).
//
//   ASSIGN_OR_RETURN(std::vector<BundledModule> modules, BundleConvexDir("app/convex", esbuild, node_path));
//
// Entry points: .js .mjs .cjs .ts .tsx .mts .cts .jsx files anywhere under the folder, except
// _generated/, dotfiles, files with more than one "." in their name and paths with spaces; schema.*
// is bundled too (the supervisor reads its export at deploy time).
#ifndef ISOBAR_CLI_BUNDLE_H_
#define ISOBAR_CLI_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace isobar::cli {

struct BundledModule {
  std::string path;  // relative to the output: "messages.js", "_deps/ABCD1234.js"
  std::string source;
  // Its source map (JSON), sources relative to out/<folder of path>/ beside convex/, as Convex's CLI
  // writes them ("../convex/messages.ts"); empty when esbuild wrote none.
  std::string source_map;
};

// The entry points of `convex_dir`, relative to it, sorted.
absl::StatusOr<std::vector<std::string>> ConvexEntryPoints(const std::string& convex_dir);

// Runs `esbuild` (with NODE_PATH=`node_path` when not empty, for resolving `convex/...`) and returns
// every output module. INVALID_ARGUMENT with esbuild's own message when the code does not build.
absl::StatusOr<std::vector<BundledModule>> BundleConvexDir(const std::string& convex_dir, const std::string& esbuild,
                                                           const std::string& node_path);

}  // namespace isobar::cli

#endif  // ISOBAR_CLI_BUNDLE_H_
