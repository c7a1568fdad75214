// A deployment's auth.config.ts (CONVEX_ABI.md): the identity providers whose tokens its functions
// accept, read from the module's default export at push (worker/analyze.cc records it as the
// analysis's "authConfig", the JSON of that export).
//
//   export default { providers: [
//     { domain: "https://issuer.example", applicationID: "my-app" },              // OIDC
//     { type: "customJwt", issuer: "https://auth.example", jwks: "https://auth.example/jwks.json",
//       algorithm: "RS256", applicationID: "my-app" /* optional */ },
//   ] };
//
// Refusals carry Convex's words (INVALID_ARGUMENT).
#ifndef ISOBAR_SUPERVISOR_AUTH_AUTH_CONFIG_H_
#define ISOBAR_SUPERVISOR_AUTH_AUTH_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/value.h"

namespace isobar::supervisor {

struct AuthProvider {
  enum class Kind { kOidc, kCustomJwt };
  Kind kind = Kind::kOidc;
  std::string issuer;  // the OIDC domain or the customJwt issuer, with a scheme ("https://" if none)
  std::optional<std::string> application_id;  // required for OIDC
  std::string jwks;       // customJwt: a URL, or a data: URL holding the JWKS
  std::string algorithm;  // customJwt: "RS256" or "ES256"

  std::string Describe() const;  // "OIDC(domain=..., app_id=...)", as Convex lists them
};

// The providers of an auth config's JSON (the default export). `json` null or absent: none.
absl::StatusOr<std::vector<AuthProvider>> ParseAuthConfig(const storage::Value& config);

// "https://x.example" for "x.example"; the issuer as given when it has a scheme. Trailing slashes
// are not part of the comparison (IssuersMatch).
std::string NormalizeIssuer(absl::string_view issuer);
bool IssuersMatch(absl::string_view a, absl::string_view b);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_AUTH_AUTH_CONFIG_H_
