#include "base/deployment_url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace isobar {
namespace {

// The host of a URL ("https://a.b:8443/x" -> "a.b"), lower case.
std::string HostOf(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme != absl::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const size_t at = url.rfind('@'); at != absl::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') return absl::AsciiStrToLower(url.substr(0, url.find(']') + 1));
  return absl::AsciiStrToLower(url.substr(0, url.find(':')));
}

}  // namespace

absl::Status CheckDeploymentBaseUrl(absl::string_view flag, absl::string_view base) {
  const size_t first = base.find(kDeploymentPlaceholder);
  if (first == absl::string_view::npos) return absl::OkStatus();
  const size_t scheme = base.find("://");
  const size_t host = scheme == absl::string_view::npos ? 0 : scheme + 3;
  if (first != host || base.find(kDeploymentPlaceholder, first + 1) != absl::string_view::npos ||
      !absl::StartsWith(base.substr(first + sizeof(kDeploymentPlaceholder) - 1), ".")) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", kDeploymentPlaceholder,
                                                   " must be the first label of the host, once (as in "
                                                   "https://{deployment}.site.example.com), not \"",
                                                   base, "\""));
  }
  return absl::OkStatus();
}

bool IsOriginPerDeployment(absl::string_view base) { return absl::StrContains(base, kDeploymentPlaceholder); }

std::string DeploymentUrl(absl::string_view base, absl::string_view deployment) {
  if (IsOriginPerDeployment(base)) return absl::StrReplaceAll(base, {{kDeploymentPlaceholder, deployment}});
  return absl::StrCat(base, "/d/", deployment);
}

std::optional<std::string> DeploymentFromHost(absl::string_view base, absl::string_view host) {
  const std::string pattern = HostOf(base);                         // "{deployment}.site.example.com"
  const absl::string_view suffix = absl::string_view(pattern).substr(sizeof(kDeploymentPlaceholder) - 1);
  if (!absl::StartsWith(pattern, kDeploymentPlaceholder) || suffix.empty()) return std::nullopt;
  const std::string given = HostOf(host);
  if (given.size() <= suffix.size() || !absl::EndsWith(given, suffix)) return std::nullopt;
  std::string name = given.substr(0, given.size() - suffix.size());
  if (absl::StrContains(name, '.')) return std::nullopt;
  return name;
}

}  // namespace isobar
