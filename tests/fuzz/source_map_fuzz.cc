// Source maps come from the client that pushes (isobarctl, or anyone with a deployment's admin key),
// and the stacks they map come from user code: any map either is refused or looks positions up
// inside itself, and any stack text maps without growing a line or losing the text around frames.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "supervisor/deploy/source_map.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // The input as a whole map, and as the mappings of a map with two sources.
  const std::string wrapped = R"({"version":3,"sources":["a.ts","b.ts"],"mappings":")" +
                              input.substr(0, std::min(input.find_first_of("\"\\"), input.size())) + R"("})";
  for (const std::string& json : {input, wrapped}) {
    absl::StatusOr<isobar::supervisor::SourceMap> map = isobar::supervisor::SourceMap::Parse(json);
    if (!map.ok()) continue;
    for (int line = 0; line < 8; ++line) {
      for (int column : {0, 1, 2, 7, 100, 1 << 20}) {
        std::optional<isobar::supervisor::SourcePosition> found = map->Find(line, column);
        if (found.has_value()) FUZZ_CHECK(found->line >= 1 && found->column >= 1);
      }
    }
  }
  // The input as a stack, mapped through the wrapped map.
  isobar::supervisor::SourceMaps maps(std::map<std::string, std::string>{{"m.js", wrapped}});
  const std::string mapped = maps.MapFrames(input);
  FUZZ_CHECK(mapped.size() <= input.size() + 64 * (1 + std::count(input.begin(), input.end(), '\n')));
  const std::string again = maps.MapFrames(mapped);
  (void)again;
  return 0;
}
