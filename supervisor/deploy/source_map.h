// Source maps (version 3, as esbuild writes them) and stack frames mapped through them, so an error
// in a pushed bundle points at the user's file: "at handler (convex:/messages.js:2178:11)" becomes
// "at handler (../convex/messages.ts:31:9)", as Convex shows it.
//
//   ASSIGN_OR_RETURN(SourceMap map, SourceMap::Parse(json));
//   std::optional<SourcePosition> p = map.Find(/*line=*/2178, /*column=*/11);   // 1-based, as V8's
//
//   SourceMaps maps(modules);                     // a code version's maps, decoded on first use
//   std::string text = maps.MapFrames(stack);     // every "    at ..." line of the text
#ifndef ISOBAR_SUPERVISOR_DEPLOY_SOURCE_MAP_H_
#define ISOBAR_SUPERVISOR_DEPLOY_SOURCE_MAP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace isobar::supervisor {

struct SourcePosition {
  absl::string_view source;  // as the map names it: "../convex/messages.ts"
  int line = 0;              // 1-based
  int column = 0;            // 1-based
};

class SourceMap {
 public:
  // At most this much JSON is decoded, into at most this many mappings and generated lines; larger
  // maps are treated as missing.
  static constexpr size_t kMaxBytes = 64u << 20;
  static constexpr size_t kMaxSegments = 4u << 20;
  static constexpr size_t kMaxLines = 4u << 20;

  // INVALID_ARGUMENT for anything but a version 3 map with "sources" and "mappings" (index maps with
  // "sections" are not supported).
  static absl::StatusOr<SourceMap> Parse(absl::string_view json);

  // The original position of generated `line`:`column` (1-based): the mapping at or before it on
  // that line. nullopt when the line has none there or it names no source.
  std::optional<SourcePosition> Find(int line, int column) const;

  size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    int32_t generated_column;  // 0-based
    int32_t source;            // index into sources_, -1 for none
    int32_t line;              // 0-based
    int32_t column;            // 0-based
  };
  std::vector<std::string> sources_;
  std::vector<Segment> segments_;     // by generated line, then column
  std::vector<uint32_t> line_start_;  // segments of generated line i: [line_start_[i], line_start_[i + 1])
};

// The source maps of one code version, by module path ("messages.js"), decoded on first use.
class SourceMaps {
 public:
  SourceMaps() = default;
  explicit SourceMaps(std::map<std::string, std::string> maps_by_module);

  // `text` with each bundle location ("convex:/m.js:L:C", in a frame line "    at fn (...)" or in a
  // logged error.stack) of a module with a map rewritten to the original position. As Convex does,
  // frame lines inside the convex package's own function wrappers that lead or end a run of frames
  // are left out. Locations in modules without a map are kept as they are.
  std::string MapFrames(absl::string_view text) const;

  bool empty() const { return raw_.empty(); }

 private:
  const SourceMap* Decoded(const std::string& module) const;
  std::string MapLocations(absl::string_view line) const;
  // Locations mapped in one line of text at most (the rest are left as they are).
  static constexpr int kMaxLocationsPerLine = 1000;

  std::map<std::string, std::string> raw_;
  mutable absl::Mutex mu_;
  // nullptr: the map did not parse.
  mutable std::map<std::string, std::unique_ptr<const SourceMap>> decoded_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_SOURCE_MAP_H_
