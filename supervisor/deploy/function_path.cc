#include "supervisor/deploy/function_path.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/catalog.h"

namespace isobar::supervisor {
namespace {

bool IsIdentifier(absl::string_view name) {
  if (name.empty() || name.size() > 256 || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '$') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<FunctionPath> ParseFunctionPath(absl::string_view path) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid function path \"", absl::CHexEscape(path.substr(0, 300)), "\": ", why));
  };
  if (path.empty()) return refuse("it is empty");
  FunctionPath out;
  absl::string_view module = path;
  out.name = "default";
  if (size_t colon = path.rfind(':'); colon != absl::string_view::npos) {
    module = path.substr(0, colon);
    out.name = std::string(path.substr(colon + 1));
    if (!IsIdentifier(out.name)) return refuse("the export name is not an identifier");
  }
  std::string stem(module);
  if (absl::EndsWith(stem, ".js")) {
    stem.resize(stem.size() - 3);
  } else if (size_t dot = stem.rfind('.'); dot != std::string::npos && stem.find('/', dot) == std::string::npos) {
    return refuse("only .js modules hold functions");
  }
  if (stem.empty() || stem.back() == '/') return refuse("the module name is empty");
  out.module = absl::StrCat(stem, ".js");
  if (absl::Status valid = storage::ValidateModulePath(out.module); !valid.ok()) return refuse(valid.message());
  if (absl::StartsWith(out.module, "_deps/")) return refuse("_deps/ modules hold no functions");
  out.canonical = absl::StrCat(stem, ":", out.name);
  return out;
}

}  // namespace isobar::supervisor
