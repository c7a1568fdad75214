#include "supervisor/deploy/source_map.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/convex_json.h"
#include "storage/value.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// One base64 VLQ from text[*at]; false when malformed or out of int32 range.
bool ReadVlq(absl::string_view text, size_t* at, int32_t* out) {
  int64_t value = 0;
  int shift = 0;
  for (;;) {
    if (*at >= text.size() || shift > 30) return false;
    const int digit = Base64Digit(text[(*at)++]);
    if (digit < 0) return false;
    value |= static_cast<int64_t>(digit & 31) << shift;
    shift += 5;
    if ((digit & 32) == 0) break;
  }
  const int64_t magnitude = value >> 1;
  const int64_t signed_value = (value & 1) != 0 ? -magnitude : magnitude;
  if (signed_value > INT32_MAX || signed_value < INT32_MIN) return false;
  *out = static_cast<int32_t>(signed_value);
  return true;
}

bool IsFrameLine(absl::string_view line) {
  const size_t at = line.find_first_not_of(' ');
  return at != absl::string_view::npos && at > 0 && absl::StartsWith(line.substr(at), "at ");
}

// "convex:/messages.js:12:5" -> ("messages.js", 12, 5).
bool ParseLocation(absl::string_view location, std::string* module, int* line, int* column) {
  constexpr absl::string_view kScheme = "convex:/";
  if (!absl::StartsWith(location, kScheme)) return false;
  location.remove_prefix(kScheme.size());
  const size_t last = location.rfind(':');
  if (last == absl::string_view::npos) return false;
  const size_t middle = location.rfind(':', last - 1);
  if (middle == absl::string_view::npos || middle == 0) return false;
  if (!absl::SimpleAtoi(location.substr(middle + 1, last - middle - 1), line) ||
      !absl::SimpleAtoi(location.substr(last + 1), column)) {
    return false;
  }
  *module = std::string(location.substr(0, middle));
  return true;
}

// Frames in the convex package's function wrappers, which Convex leaves out at the ends of a stack.
bool IsWrapperFrame(absl::string_view line) {
  return absl::StrContains(line, "convex/src/server/impl") || absl::StrContains(line, "udf-runtime/src");
}

}  // namespace

absl::StatusOr<SourceMap> SourceMap::Parse(absl::string_view json) {
  if (json.size() > kMaxBytes) return absl::InvalidArgumentError("the source map is too large");
  storage::ConvexJsonOptions options;
  options.plain = true;
  options.limits.max_bytes = kMaxBytes;
  options.limits.max_array_items = 1u << 20;
  options.limits.max_values = 1u << 22;
  options.limits.max_field_name_length = 1u << 16;
  absl::StatusOr<Value> parsed = storage::ParseConvexJson(json, options);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("the source map is not JSON: ", parsed.status().message()));
  const Value& version = parsed->Get("version");
  const bool three = (version.type() == Value::Type::kFloat64 && version.float64() == 3) ||
                     (version.type() == Value::Type::kInt64 && version.int64() == 3);
  const Value& sources = parsed->Get("sources");
  const Value& mappings = parsed->Get("mappings");
  if (!three || sources.type() != Value::Type::kArray || mappings.type() != Value::Type::kString) {
    return absl::InvalidArgumentError("not a version 3 source map with sources and mappings");
  }
  SourceMap map;
  const std::string root =
      parsed->Get("sourceRoot").type() == Value::Type::kString ? parsed->Get("sourceRoot").string() : "";
  // The root joins every source: bounded by the size a map may have.
  if (root.size() * sources.array().size() > kMaxBytes) return absl::InvalidArgumentError("sourceRoot is too long");
  for (const Value& source : sources.array()) {
    map.sources_.push_back(source.type() == Value::Type::kString ? root + source.string() : "");
  }
  // Fields are deltas: the generated column within a line, the rest across the whole map.
  const absl::string_view text = mappings.string();
  int64_t source = 0, line = 0, column = 0;  // a fifth field, the name, is not used
  map.line_start_.push_back(0);
  size_t at = 0;
  while (at < text.size()) {
    int64_t generated_column = 0;
    size_t line_begin = map.segments_.size();
    while (at < text.size() && text[at] != ';') {
      if (text[at] == ',') {
        ++at;
        continue;
      }
      int32_t fields[5];
      int count = 0;
      while (at < text.size() && text[at] != ',' && text[at] != ';') {
        if (count == 5 || !ReadVlq(text, &at, &fields[count])) {
          return absl::InvalidArgumentError(absl::StrCat("malformed mappings at character ", at));
        }
        ++count;
      }
      if (count != 1 && count != 4 && count != 5) {
        return absl::InvalidArgumentError(absl::StrCat("a mapping with ", count, " fields"));
      }
      // Sums in 64 bits, each kept to what a position can be.
      constexpr int64_t kMaxPosition = INT32_MAX - 1;
      generated_column += fields[0];
      if (generated_column < 0 || generated_column > kMaxPosition) {
        return absl::InvalidArgumentError("a generated column out of range");
      }
      Segment segment{static_cast<int32_t>(generated_column), -1, 0, 0};
      if (count >= 4) {
        source += fields[1];
        line += fields[2];
        column += fields[3];
        if (std::abs(source) > kMaxPosition || std::abs(line) > kMaxPosition || std::abs(column) > kMaxPosition) {
          return absl::InvalidArgumentError("a mapping out of range");
        }
        if (source >= 0 && static_cast<size_t>(source) < map.sources_.size() && line >= 0 && column >= 0) {
          segment = Segment{segment.generated_column, static_cast<int32_t>(source), static_cast<int32_t>(line),
                            static_cast<int32_t>(column)};
        }
      }
      if (map.segments_.size() >= kMaxSegments) return absl::InvalidArgumentError("too many mappings");
      map.segments_.push_back(segment);
    }
    // esbuild writes each line's segments in column order; sort anyway, stably, for lookups.
    std::stable_sort(map.segments_.begin() + static_cast<std::ptrdiff_t>(line_begin), map.segments_.end(),
                     [](const Segment& a, const Segment& b) { return a.generated_column < b.generated_column; });
    if (map.line_start_.size() > kMaxLines) return absl::InvalidArgumentError("too many generated lines");
    map.line_start_.push_back(static_cast<uint32_t>(map.segments_.size()));
    if (at < text.size()) ++at;  // the ';'
  }
  return map;
}

std::optional<SourcePosition> SourceMap::Find(int line, int column) const {
  if (line < 1 || column < 1 || static_cast<size_t>(line) >= line_start_.size()) return std::nullopt;
  auto begin = segments_.begin() + line_start_[line - 1];
  auto end = segments_.begin() + line_start_[line];
  // The last segment starting at or before the column.
  auto after = std::upper_bound(begin, end, column - 1,
                                [](int32_t c, const Segment& segment) { return c < segment.generated_column; });
  if (after == begin) return std::nullopt;
  const Segment& found = *(after - 1);
  if (found.source < 0) return std::nullopt;
  return SourcePosition{sources_[found.source], found.line + 1, found.column + 1};
}

SourceMaps::SourceMaps(std::map<std::string, std::string> maps_by_module) : raw_(std::move(maps_by_module)) {}

const SourceMap* SourceMaps::Decoded(const std::string& module) const {
  auto raw = raw_.find(module);
  if (raw == raw_.end() || raw->second.empty()) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = decoded_.find(module);
  if (it == decoded_.end()) {
    absl::StatusOr<SourceMap> parsed = SourceMap::Parse(raw->second);
    it = decoded_.emplace(module, parsed.ok() ? std::make_unique<const SourceMap>(*std::move(parsed)) : nullptr).first;
  }
  return it->second.get();  // decoded maps live as long as this object and are never replaced
}

std::string SourceMaps::MapLocations(absl::string_view line) const {
  std::string out;
  size_t done = 0;
  int mapped = 0;
  for (size_t begin = line.find("convex:/"); begin != absl::string_view::npos && mapped < kMaxLocationsPerLine;
       begin = line.find("convex:/", begin + 1)) {
    // The location ends where a frame's text does: ")", a quote, white space, or an escape in a
    // logged string ("...:3:9)\n    at ...").
    size_t end = line.find_first_of(")'\" \t\\", begin);
    if (end == absl::string_view::npos) end = line.size();
    ++mapped;
    // The next location starts after this one ends: each character is looked at once.
    const size_t next = end;
    std::string module;
    int line_number = 0, column = 0;
    std::optional<SourcePosition> position;
    if (ParseLocation(line.substr(begin, end - begin), &module, &line_number, &column)) {
      const SourceMap* map = Decoded(module);
      if (map != nullptr) position = map->Find(line_number, column);
    }
    if (position.has_value()) {
      absl::StrAppend(&out, line.substr(done, begin - done), position->source, ":", position->line, ":", position->column);
      done = end;
    }
    begin = next - 1;  // the loop's find starts at next
  }
  absl::StrAppend(&out, line.substr(done));
  return out;
}

std::string SourceMaps::MapFrames(absl::string_view text) const {
  if (raw_.empty() || !absl::StrContains(text, "convex:/")) return std::string(text);
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::vector<bool> frame(lines.size(), false);
  for (size_t i = 0; i < lines.size(); ++i) {
    frame[i] = IsFrameLine(lines[i]);
    if (absl::StrContains(lines[i], "convex:/")) lines[i] = MapLocations(lines[i]);
  }
  // In each run of frames, wrapper frames at its start and end go.
  std::vector<bool> keep(lines.size(), true);
  for (size_t i = 0; i < lines.size();) {
    if (!frame[i]) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < lines.size() && frame[end]) ++end;
    size_t first = i, last = end;
    while (first < last && IsWrapperFrame(lines[first])) keep[first++] = false;
    while (last > first && IsWrapperFrame(lines[last - 1])) keep[--last] = false;
    i = end;
  }
  std::string out;
  bool any = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!keep[i]) continue;
    if (any) out.push_back('\n');
    absl::StrAppend(&out, lines[i]);
    any = true;
  }
  return out;
}

}  // namespace isobar::supervisor
