#include "cli/function_path.h"

namespace isobar::cli {

std::string NormalizeFunctionPath(absl::string_view typed) {
  std::string path(typed);
  size_t colon = path.find(':');
  if (colon == std::string::npos) {
    colon = path.size();
    path += ":default";
  }
  constexpr absl::string_view kExtension = ".js";
  if (colon >= kExtension.size() && absl::string_view(path).substr(colon - kExtension.size(), kExtension.size()) == kExtension) {
    path.erase(colon - kExtension.size(), kExtension.size());
  }
  return path;
}

}  // namespace isobar::cli
