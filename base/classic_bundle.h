// The contract between the bundler (cli/bundle.cc, tests/apps/defs.bzl) and the worker
// (worker/version_snapshot.h) for a version's modules as one classic script: pushed as a module at
// kClassicBundlePath (under _deps/, so it holds no functions and is not analysed), it sets
// globalThis[kClassicModulesGlobal] = {"messages.js": <messages.js's exports>, ...} for every module
// outside _deps/.
#ifndef ISOBAR_BASE_CLASSIC_BUNDLE_H_
#define ISOBAR_BASE_CLASSIC_BUNDLE_H_

namespace isobar {

inline constexpr char kClassicBundlePath[] = "_deps/isobar-classic.js";
inline constexpr char kClassicModulesGlobal[] = "__isobarModules";

}  // namespace isobar

#endif  // ISOBAR_BASE_CLASSIC_BUNDLE_H_
