#include "tests/module_bundle.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/preloaded_files.h"
#include "worker/module_hash.h"

namespace isobar::testing {

namespace {

// Every entry of the bundle, in order: (path, bytes).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadEntries(const std::string& path) {
  std::string text;
  if (std::optional<std::string> preloaded = PreloadedFile(path)) {
    text = std::move(*preloaded);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  std::vector<std::pair<std::string, std::string>> entries;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t newline = text.find('\n', pos);
    size_t space = text.rfind(' ', newline);
    size_t length = 0;
    if (newline == std::string::npos || space == std::string::npos || space < pos ||
        !absl::SimpleAtoi(text.substr(space + 1, newline - space - 1), &length) || newline + 1 + length > text.size()) {
      return absl::DataLossError(absl::StrCat("malformed module bundle ", path, " at byte ", pos));
    }
    entries.emplace_back(text.substr(pos, space - pos), text.substr(newline + 1, length));
    pos = newline + 1 + length;
  }
  return entries;
}

}  // namespace

absl::StatusOr<std::vector<isobar::worker::v1::Module>> ReadModuleBundle(const std::string& path) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> entries = ReadEntries(path);
  if (!entries.ok()) return entries.status();
  std::vector<isobar::worker::v1::Module> modules;
  for (const auto& [name, bytes] : *entries) {
    if (!absl::EndsWith(name, ".map")) modules.push_back(worker::ModuleFromSource(name, bytes));
  }
  return modules;
}

absl::StatusOr<std::map<std::string, std::string>> ReadModuleBundleSourceMaps(const std::string& path) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> entries = ReadEntries(path);
  if (!entries.ok()) return entries.status();
  std::map<std::string, std::string> maps;
  for (const auto& [name, bytes] : *entries) {
    if (absl::EndsWith(name, ".map")) maps[name.substr(0, name.size() - 4)] = bytes;
  }
  return maps;
}

}  // namespace isobar::testing
