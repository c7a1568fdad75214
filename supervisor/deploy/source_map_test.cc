#include "supervisor/deploy/source_map.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

// A base64 VLQ, as source maps write numbers (the model the decoder is checked against).
std::string Vlq(int32_t value) {
  uint32_t v = value < 0 ? (static_cast<uint32_t>(-static_cast<int64_t>(value)) << 1) | 1 : static_cast<uint32_t>(value) << 1;
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  do {
    uint32_t digit = v & 31;
    v >>= 5;
    if (v != 0) digit |= 32;
    out.push_back(kDigits[digit]);
  } while (v != 0);
  return out;
}

struct Mapping {
  int generated_line;  // 0-based
  int generated_column;
  int source;
  int line;
  int column;
};

// Encodes mappings sorted by generated position (deltas as the format defines them).
std::string Encode(const std::vector<Mapping>& mappings, int lines) {
  std::string out;
  int source = 0, line = 0, column = 0;
  size_t i = 0;
  for (int g = 0; g < lines; ++g) {
    if (g > 0) out.push_back(';');
    int generated_column = 0;
    bool first = true;
    for (; i < mappings.size() && mappings[i].generated_line == g; ++i) {
      const Mapping& m = mappings[i];
      if (!first) out.push_back(',');
      first = false;
      absl::StrAppend(&out, Vlq(m.generated_column - generated_column), Vlq(m.source - source), Vlq(m.line - line),
                      Vlq(m.column - column));
      generated_column = m.generated_column;
      source = m.source;
      line = m.line;
      column = m.column;
    }
  }
  return out;
}

std::string MapJson(const std::vector<std::string>& sources, const std::string& mappings) {
  std::vector<std::string> quoted;
  for (const std::string& s : sources) quoted.push_back(absl::StrCat("\"", s, "\""));
  return absl::StrCat(R"({"version": 3, "sources": [)", absl::StrJoin(quoted, ", "), R"(], "mappings": ")", mappings,
                      R"(", "names": []})");
}

TEST(SourceMapTest, FindsTheMappingAtOrBeforeAColumn) {
  // Line 1: column 0 -> a.ts 1:0, column 10 -> a.ts 2:4. Line 2: none. Line 3: column 4 -> b.ts 7:2.
  absl::StatusOr<SourceMap> map = SourceMap::Parse(
      MapJson({"../convex/a.ts", "../convex/b.ts"}, Encode({{0, 0, 0, 0, 0}, {0, 10, 0, 1, 4}, {2, 4, 1, 6, 2}}, 3)));
  ASSERT_TRUE(map.ok()) << map.status();
  auto at = [&](int line, int column) {
    std::optional<SourcePosition> p = map->Find(line, column);
    return p ? absl::StrCat(p->source, ":", p->line, ":", p->column) : std::string("none");
  };
  EXPECT_EQ(at(1, 1), "../convex/a.ts:1:1");
  EXPECT_EQ(at(1, 10), "../convex/a.ts:1:1");
  EXPECT_EQ(at(1, 11), "../convex/a.ts:2:5");
  EXPECT_EQ(at(1, 500), "../convex/a.ts:2:5");
  EXPECT_EQ(at(2, 1), "none");
  EXPECT_EQ(at(3, 4), "none");
  EXPECT_EQ(at(3, 5), "../convex/b.ts:7:3");
  EXPECT_EQ(at(4, 1), "none");
  EXPECT_EQ(at(0, 1), "none");
}

TEST(SourceMapTest, RefusesWhatIsNotAVersion3Map) {
  for (const char* bad : {"", "{}", "[]", R"({"version": 2, "sources": [], "mappings": ""})",
                          R"({"version": 3, "sources": "a", "mappings": ""})", R"({"version": 3, "sources": []})",
                          R"({"version": 3, "sources": [], "mappings": "!"})",
                          R"({"version": 3, "sources": [], "mappings": "AA"})",
                          R"({"version": 3, "sources": [], "mappings": "AAAAAA"})",
                          R"({"version": 3, "sources": [], "mappings": "gggggggggB"})",
                          R"({"version": 3, "sections": []})"}) {
    EXPECT_FALSE(SourceMap::Parse(bad).ok()) << bad;
  }
}

TEST(SourceMapTest, RefusesSumsOutOfRangeAndRootBombs) {
  // Two generated-column deltas of 2^31 - 1 on one line overflow 32 bits.
  EXPECT_FALSE(SourceMap::Parse(MapJson({"a"}, absl::StrCat(Vlq(INT32_MAX), "AAA,", Vlq(INT32_MAX), "AAA"))).ok());
  EXPECT_FALSE(SourceMap::Parse(MapJson({"a"}, absl::StrCat("AA", Vlq(INT32_MAX), "A;AA", Vlq(INT32_MAX), "A"))).ok());
  // A long sourceRoot joined to many sources would take more memory than the map's size allows.
  std::string sources;
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&sources, i == 0 ? "" : ",", "\"\"");
  const std::string bomb = absl::StrCat(R"({"version":3,"sourceRoot":")", std::string(1000, 'r'), R"(","sources":[)",
                                        sources, R"(],"mappings":""})");
  EXPECT_FALSE(SourceMap::Parse(bomb).ok());
}

// Property: random mappings, encoded by the model above, decode to exactly themselves (seeded,
// replayable: the seed is in the failure message).
TEST(SourceMapTest, DecodesWhatTheModelEncodes) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 random(seed);
    const int lines = 1 + static_cast<int>(random() % 40);
    std::vector<Mapping> mappings;
    for (int g = 0; g < lines; ++g) {
      int column = 0;
      const int count = static_cast<int>(random() % 6);
      for (int k = 0; k < count; ++k) {
        column += 1 + static_cast<int>(random() % 50);
        mappings.push_back({g, column, static_cast<int>(random() % 3), static_cast<int>(random() % 5000),
                            static_cast<int>(random() % 200)});
      }
    }
    absl::StatusOr<SourceMap> map = SourceMap::Parse(MapJson({"s0", "s1", "s2"}, Encode(mappings, lines)));
    ASSERT_TRUE(map.ok()) << "seed " << seed << ": " << map.status();
    EXPECT_EQ(map->segment_count(), mappings.size()) << "seed " << seed;
    for (size_t i = 0; i < mappings.size(); ++i) {
      const Mapping& m = mappings[i];
      std::optional<SourcePosition> found = map->Find(m.generated_line + 1, m.generated_column + 1);
      ASSERT_TRUE(found.has_value()) << "seed " << seed << " mapping " << i;
      EXPECT_EQ(found->source, absl::StrCat("s", m.source)) << "seed " << seed;
      EXPECT_EQ(found->line, m.line + 1) << "seed " << seed;
      EXPECT_EQ(found->column, m.column + 1) << "seed " << seed;
      // One column further still maps there, unless the next mapping starts at it.
      const bool next_here = i + 1 < mappings.size() && mappings[i + 1].generated_line == m.generated_line &&
                             mappings[i + 1].generated_column == m.generated_column + 1;
      if (!next_here) {
        EXPECT_EQ(map->Find(m.generated_line + 1, m.generated_column + 2)->line, m.line + 1) << "seed " << seed;
      }
    }
  }
}

TEST(SourceMapsTest, MapsFramesOfModulesWithMaps) {
  const std::string map = MapJson({"../convex/messages.ts", "../node_modules/convex/src/server/impl/registration_impl.ts"},
                                  Encode({{0, 0, 0, 0, 0}, {2, 8, 0, 30, 8}, {4, 0, 1, 99, 2}}, 5));
  SourceMaps maps(std::map<std::string, std::string>{{"messages.js", map}});
  const std::string stack =
      "Uncaught Error: boom\n"
      "    at wrapper (convex:/messages.js:5:3)\n"
      "    at handler (convex:/messages.js:3:12)\n"
      "    at convex:/messages.js:3:9\n"
      "    at Array.map (<anonymous>)\n"
      "    at other (convex:/other.js:1:1)\n"
      "    at invoke (convex:/messages.js:5:1)\n"
      "after";
  EXPECT_EQ(maps.MapFrames(stack),
            "Uncaught Error: boom\n"
            "    at handler (../convex/messages.ts:31:9)\n"
            "    at ../convex/messages.ts:31:9\n"
            "    at Array.map (<anonymous>)\n"
            "    at other (convex:/other.js:1:1)\n"
            "after");
  // Text without frames, and maps that do not parse, leave the text as it is.
  EXPECT_EQ(maps.MapFrames("no frames here"), "no frames here");
  SourceMaps broken(std::map<std::string, std::string>{{"messages.js", "{not json"}});
  EXPECT_EQ(broken.MapFrames("\n    at f (convex:/messages.js:3:9)"), "\n    at f (convex:/messages.js:3:9)");
  EXPECT_EQ(SourceMaps().MapFrames("\n    at f (convex:/messages.js:3:9)"), "\n    at f (convex:/messages.js:3:9)");
}

TEST(SourceMapsTest, OddFrameTextIsLeftAlone) {
  SourceMaps maps(std::map<std::string, std::string>{{"m.js", MapJson({"m.ts"}, Encode({{0, 0, 0, 0, 0}}, 1))}});
  for (const char* text : {"    at (convex:/m.js)", "    at f (convex:/m.js:x:1)", "    at f (convex:/:1:1)",
                           "    at f (convex:/m.js:99999999999999:1)", "at", "    at f (", "convex:/", "convex:/m.js",
                           "    at f (convex:/m.js:-1:-1)"}) {
    EXPECT_EQ(maps.MapFrames(text), text);
  }
  EXPECT_EQ(maps.MapFrames("\n    at f (convex:/m.js:1:1)"), "\n    at f (m.ts:1:1)");
  // A logged error.stack: one line, its newlines escaped by console's formatting, quoted.
  EXPECT_EQ(maps.MapFrames(R"('Error: x\n    at f (convex:/m.js:1:1)\n    at convex:/m.js:1:2\n    at g (convex:/n.js:1:1)')"),
            R"('Error: x\n    at f (m.ts:1:1)\n    at m.ts:1:1\n    at g (convex:/n.js:1:1)')");
}

}  // namespace
}  // namespace isobar::supervisor
