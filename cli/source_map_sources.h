// The "sources" of an esbuild source map, rewritten: esbuild writes each source relative to the
// folder of the map it writes, which for isobarctl is a temporary folder; Convex's CLI bundles into
// "out/" beside convex/, so its stack traces read "../convex/messages.ts". isobarctl rewrites the
// paths to what they would be from there.
//
//   ASSIGN_OR_RETURN(std::string map, RewriteSources(esbuild_map, [&](std::string_view source) {
//     return DisplayPath(source, ...);
//   }));
#ifndef ISOBAR_CLI_SOURCE_MAP_SOURCES_H_
#define ISOBAR_CLI_SOURCE_MAP_SOURCES_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace isobar::cli {

// `map` with each string of its top-level "sources" array replaced by rewrite(string). The rest of
// the text is kept as it is. INVALID_ARGUMENT when the map has no "sources" array of strings.
absl::StatusOr<std::string> RewriteSources(absl::string_view map,
                                           const std::function<std::string(const std::string&)>& rewrite);

// The path a source has from `display_dir` (the module's folder under a virtual out/ beside convex/),
// given its path relative to `map_dir` (where esbuild wrote the map). Both folders are absolute.
std::string DisplayPath(const std::string& source, const std::string& map_dir, const std::string& display_dir);

}  // namespace isobar::cli

#endif  // ISOBAR_CLI_SOURCE_MAP_SOURCES_H_
