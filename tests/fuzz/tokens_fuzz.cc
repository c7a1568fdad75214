// What clients and workers hand the supervisor's identity and egress code: user tokens (checked
// against a fixed OIDC and customJwt provider with fixed documents), JWKS documents, auth configs,
// base64 bodies and fetch URLs. None may crash; every refusal is the documented code.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/base64.h"
#include "storage/convex_json.h"
#include "supervisor/auth/auth_config.h"
#include "supervisor/auth/identity_verifier.h"
#include "supervisor/auth/jwt.h"
#include "supervisor/egress/http_fetcher.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using isobar::supervisor::AuthProvider;

// A 2048-bit RSA key and a P-256 key (public parts only; made once for this file).
constexpr char kJwks[] =
    R"({"keys":[{"kty":"RSA","kid":"rsa-1","n":"sWBcqaUJDjjgOvBKzZpAxc1Bq0f2glF1MGiN5OmtGwB8v1IMXSdmwo0tdmpnVzsKPQ1FMVnCFxcQ2Kv9qGZyN0hw0eS0Kcbkn9mNzTpBi1BvSTYnnZ1I4mfJ6WTgIsIoGG0E5iq0jD5CmCImUdPH3HFwXx5o9sGb4vF3y6fYQbGkWJZz4v2x8KpjvN5k9W1eD1fMLxJb9P0ZbBzKkfIYt2V2mEB7uFqxV9HZzW8QfM8v6ACzsSkJ1rXc3m4v9O4h0Q2u8r3YqJ0xJqHcQn6eT6L9M4t0e6J5sQyKqk6uWq4t7pUzJ1mT9cQk0zXl3wT8uY8b7VvM2d9w0hJ6nN1kQ","e":"AQAB"},)"
    R"({"kty":"EC","kid":"ec-1","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]})";

const std::vector<AuthProvider>& Providers() {
  static const auto* providers = [] {
    auto* out = new std::vector<AuthProvider>(2);
    (*out)[0].issuer = "https://issuer.test";
    (*out)[0].application_id = "app";
    (*out)[1].kind = AuthProvider::Kind::kCustomJwt;
    (*out)[1].issuer = "https://custom.test";
    (*out)[1].jwks = "https://custom.test/jwks";
    (*out)[1].algorithm = "ES256";
    return out;
  }();
  return *providers;
}

isobar::supervisor::FetchedDocument Document(const std::string& url) {
  if (url == "https://issuer.test/.well-known/openid-configuration") {
    return {200, "application/json", "max-age=60", R"({"issuer":"https://issuer.test","jwks_uri":"https://issuer.test/jwks"})"};
  }
  return {200, "application/json", "max-age=60", kJwks};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  static isobar::supervisor::IdentityVerifier verifier;
  absl::StatusOr<std::string> identity =
      verifier.Verify("fuzz", Providers(), input, [](const std::string& url) { return Document(url); });
  FUZZ_CHECK(identity.ok() || identity.status().code() == absl::StatusCode::kUnauthenticated ||
             identity.status().code() == absl::StatusCode::kUnavailable);
  if (identity.ok()) FUZZ_CHECK(!identity->empty() && (*identity)[0] == '{');

  absl::StatusOr<isobar::supervisor::JwkSet> keys = isobar::supervisor::ParseJwks(input);
  FUZZ_CHECK(keys.ok() || keys.status().code() == absl::StatusCode::kInvalidArgument);

  absl::StatusOr<isobar::storage::Value> config = isobar::storage::ParseConvexJson(input, {.plain = true});
  if (config.ok()) {
    absl::StatusOr<std::vector<AuthProvider>> providers = isobar::supervisor::ParseAuthConfig(*config);
    FUZZ_CHECK(providers.ok() || providers.status().code() == absl::StatusCode::kInvalidArgument);
  }

  FUZZ_CHECK(isobar::Base64Decode(isobar::Base64Encode(input)) == input);
  if (std::optional<std::string> decoded = isobar::Base64Decode(input)) {
    FUZZ_CHECK(isobar::Base64Decode(isobar::Base64Encode(*decoded)) == *decoded);
  }

  absl::StatusOr<std::string> host = isobar::supervisor::FetchableHost(input);
  if (host.ok()) {
    for (char c : *host) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  } else {
    FUZZ_CHECK(host.status().code() == absl::StatusCode::kInvalidArgument ||
               host.status().code() == absl::StatusCode::kPermissionDenied);
  }
  return 0;
}
