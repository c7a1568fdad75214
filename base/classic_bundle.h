// The contract between the bundler (cli/bundle.cc, tests/apps/defs.bzl) and the worker
// (worker/version_snapshot.h) for a version's modules as one classic script: pushed as a module at
// kClassicBundlePath (under _deps/, so it holds no functions and is not analysed), it sets
// globalThis[kClassicModulesGlobal] = {"messages.js": <messages.js's exports>, ...} for every module
// outside _deps/.
#ifndef ISOBAR_BASE_CLASSIC_BUNDLE_H_
#define ISOBAR_BASE_CLASSIC_BUNDLE_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace isobar {

inline constexpr char kClassicBundlePath[] = "_deps/isobar-classic.js";
inline constexpr char kClassicModulesGlobal[] = "__isobarModules";

// What names a version's startup snapshot: its deployment (two deployments that push the same script
// never share a blob: one tenant's maker never makes another's), the script's SHA-256 (raw bytes)
// and whether WebAssembly is on (the worker binary, the prelude and V8's flags are the same for
// every process of a supervisor).
inline std::string VersionSnapshotKey(absl::string_view deployment, absl::string_view script_sha256, bool wasm) {
  return absl::StrCat(script_sha256, wasm ? "w" : "-", deployment);
}

}  // namespace isobar

#endif  // ISOBAR_BASE_CLASSIC_BUNDLE_H_
