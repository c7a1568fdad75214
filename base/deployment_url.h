// A deployment's URL, from the base URL the operator gives (--public-url, --site-url):
//
//   DeploymentUrl("http://127.0.0.1:7702", "chat")                  -> "http://127.0.0.1:7702/d/chat"
//   DeploymentUrl("https://{deployment}.site.example.com", "chat")  -> "https://chat.site.example.com"
//
// The first kind puts every deployment on one origin, told apart by path; the second gives each its
// own origin (a browser keeps cookies and storage apart by origin, so a tenant's page cannot read
// another's), told apart by the request's Host. The placeholder must be the whole first label of the
// host.
#ifndef ISOBAR_BASE_DEPLOYMENT_URL_H_
#define ISOBAR_BASE_DEPLOYMENT_URL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace isobar {

inline constexpr char kDeploymentPlaceholder[] = "{deployment}";

// OK for a base of either kind; INVALID_ARGUMENT (naming `flag`) for a placeholder anywhere but the
// first label of the host, or more than one.
absl::Status CheckDeploymentBaseUrl(absl::string_view flag, absl::string_view base);
// Whether the base gives each deployment its own origin.
bool IsOriginPerDeployment(absl::string_view base);
std::string DeploymentUrl(absl::string_view base, absl::string_view deployment);
// For a base with an origin per deployment: the name in the first label of `host` (a Host header;
// its port is ignored, its case folded) if the rest of it is the base's host, else nullopt. The name
// is not checked to be a deployment's.
std::optional<std::string> DeploymentFromHost(absl::string_view base, absl::string_view host);

}  // namespace isobar

#endif  // ISOBAR_BASE_DEPLOYMENT_URL_H_
