#include "cli/source_map_sources.h"

#include <filesystem>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace isobar::cli {
namespace {

void SkipSpace(absl::string_view text, size_t* at) {
  while (*at < text.size() && (text[*at] == ' ' || text[*at] == '\n' || text[*at] == '\r' || text[*at] == '\t')) ++*at;
}

// A JSON string starting at text[*at] (the opening quote), decoded; *at moves past it. nullopt when
// it is not one. Escapes of code points outside ASCII are kept as UTF-8.
std::optional<std::string> ReadString(absl::string_view text, size_t* at) {
  if (*at >= text.size() || text[*at] != '"') return std::nullopt;
  std::string out;
  for (size_t i = *at + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      *at = i + 1;
      return out;
    }
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= text.size()) return std::nullopt;
    switch (text[i]) {
      case '"': case '\\': case '/': out.push_back(text[i]); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        // Four hex digits; a surrogate pair is one code point.
        auto hex4 = [&](size_t from) -> std::optional<unsigned> {
          if (from + 4 > text.size()) return std::nullopt;
          unsigned code = 0;
          for (size_t k = from; k < from + 4; ++k) {
            const char h = text[k];
            const int digit = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (digit < 0) return std::nullopt;
            code = code * 16 + static_cast<unsigned>(digit);
          }
          return code;
        };
        std::optional<unsigned> code = hex4(i + 1);
        if (!code.has_value()) return std::nullopt;
        i += 4;
        if (*code >= 0xD800 && *code <= 0xDBFF) {
          std::optional<unsigned> low = i + 2 < text.size() && text[i + 1] == '\\' && text[i + 2] == 'u'
                                            ? hex4(i + 3) : std::nullopt;
          if (!low.has_value() || *low < 0xDC00 || *low > 0xDFFF) return std::nullopt;
          i += 6;
          *code = 0x10000 + ((*code - 0xD800) << 10) + (*low - 0xDC00);
        } else if (*code >= 0xDC00 && *code <= 0xDFFF) {
          return std::nullopt;
        }
        const unsigned c = *code;
        if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (c >> 6)));
          out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
          out.push_back(static_cast<char>(0xE0 | (c >> 12)));
          out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xF0 | (c >> 18)));
          out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
        break;
      }
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<std::string> RewriteSources(absl::string_view map,
                                           const std::function<std::string(const std::string&)>& rewrite) {
  // The top-level "sources" member: esbuild writes it at depth 1, before any nested value.
  size_t at = 0;
  SkipSpace(map, &at);
  if (at >= map.size() || map[at] != '{') return absl::InvalidArgumentError("a source map is a JSON object");
  ++at;
  for (;;) {
    SkipSpace(map, &at);
    std::optional<std::string> key = ReadString(map, &at);
    if (!key.has_value()) return absl::InvalidArgumentError("the source map has no \"sources\"");
    SkipSpace(map, &at);
    if (at >= map.size() || map[at] != ':') return absl::InvalidArgumentError("the source map is not JSON");
    ++at;
    SkipSpace(map, &at);
    if (*key == "sources") break;
    // Skip a scalar or string value (esbuild's members before "sources" are "version" and "file").
    if (at < map.size() && map[at] == '"') {
      if (!ReadString(map, &at).has_value()) return absl::InvalidArgumentError("the source map is not JSON");
    } else {
      while (at < map.size() && map[at] != ',' && map[at] != '}' && map[at] != '[' && map[at] != '{') ++at;
      if (at >= map.size() || map[at] != ',') return absl::InvalidArgumentError("the source map has no \"sources\"");
    }
    SkipSpace(map, &at);
    if (at >= map.size() || map[at] != ',') return absl::InvalidArgumentError("the source map has no \"sources\"");
    ++at;
  }
  if (at >= map.size() || map[at] != '[') return absl::InvalidArgumentError("\"sources\" is not an array");
  const size_t begin = at;
  std::string rewritten = "[";
  ++at;
  SkipSpace(map, &at);
  bool first = true;
  while (at < map.size() && map[at] != ']') {
    if (!first) {
      if (map[at] != ',') return absl::InvalidArgumentError("\"sources\" is not an array of strings");
      ++at;
      SkipSpace(map, &at);
    }
    std::optional<std::string> source = ReadString(map, &at);
    if (!source.has_value()) return absl::InvalidArgumentError("\"sources\" is not an array of strings");
    absl::StrAppend(&rewritten, first ? "" : ", ", Quote(rewrite(*source)));
    first = false;
    SkipSpace(map, &at);
  }
  if (at >= map.size()) return absl::InvalidArgumentError("\"sources\" is not closed");
  rewritten.push_back(']');
  return absl::StrCat(map.substr(0, begin), rewritten, map.substr(at + 1));
}

std::string DisplayPath(const std::string& source, const std::string& map_dir, const std::string& display_dir) {
  namespace fs = std::filesystem;
  const fs::path absolute = (fs::path(map_dir) / source).lexically_normal();
  const fs::path shown = absolute.lexically_relative(fs::path(display_dir).lexically_normal());
  return shown.empty() ? absolute.string() : shown.string();
}

}  // namespace isobar::cli
