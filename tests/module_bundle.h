// Reads the .modules files that //tests/apps:defs.bzl's convex_bundle writes: for each module and
// each source map ("<module path>.map") a line "<path> <byte length>", then exactly that many bytes.
#ifndef ISOBAR_TESTS_MODULE_BUNDLE_H_
#define ISOBAR_TESTS_MODULE_BUNDLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::testing {

// The modules with their SHA-256, ready for a FunctionCall.
absl::StatusOr<std::vector<isobar::worker::v1::Module>> ReadModuleBundle(const std::string& path);

// The source maps, by module path.
absl::StatusOr<std::map<std::string, std::string>> ReadModuleBundleSourceMaps(const std::string& path);

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_MODULE_BUNDLE_H_
