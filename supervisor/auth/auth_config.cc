#include "supervisor/auth/auth_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr char kSchemaError[] = "auth config file must include a list of provider credentials: ";

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

std::optional<std::string> StringField(const Value& object, absl::string_view name) {
  const Value& v = object.Get(name);
  if (v.type() != Value::Type::kString) return std::nullopt;
  return v.string();
}

bool HasField(const Value& object, absl::string_view name) {
  const Value& v = object.Get(name);
  return !v.is_undefined() && v.type() != Value::Type::kNull;
}

absl::StatusOr<std::string> IssuerUrl(absl::string_view text) {
  if (absl::StartsWith(text, "\"")) {
    return Invalid(absl::StrCat("Invalid provider domain URL \"", text.substr(0, 200), "\": starts with a double quote (\")"));
  }
  std::string url = NormalizeIssuer(text);
  const std::string lower = absl::AsciiStrToLower(url);
  if (!absl::StartsWith(lower, "https://") && !absl::StartsWith(lower, "http://")) {
    return Invalid(absl::StrCat("Invalid provider domain URL \"", text.substr(0, 200), "\": scheme should be http or https"));
  }
  absl::string_view host = absl::string_view(url).substr(url.find("://") + 3);
  host = host.substr(0, host.find_first_of("/:?#"));
  if (host.empty() || (host != "localhost" && !absl::StrContains(host, '.'))) {
    return Invalid(absl::StrCat("Invalid provider domain URL \"", text.substr(0, 200),
                                "\": Does not look like a URL (must have a scheme or end with a top-level domain)"));
  }
  return url;
}

}  // namespace

std::string NormalizeIssuer(absl::string_view issuer) {
  if (absl::StrContains(issuer, "://")) return std::string(issuer);
  return absl::StrCat("https://", issuer);
}

bool IssuersMatch(absl::string_view a, absl::string_view b) {
  std::string left = NormalizeIssuer(a), right = NormalizeIssuer(b);
  absl::string_view l = left, r = right;
  while (absl::ConsumeSuffix(&l, "/")) {
  }
  while (absl::ConsumeSuffix(&r, "/")) {
  }
  return l == r;
}

std::string AuthProvider::Describe() const {
  if (kind == Kind::kOidc) {
    return absl::StrCat("OIDC(domain=", issuer, ", app_id=", application_id.value_or("none"), ")");
  }
  return absl::StrCat("CustomJWT(issuer=", issuer, ", app_id=", application_id.value_or("none"), ")");
}

absl::StatusOr<std::vector<AuthProvider>> ParseAuthConfig(const Value& config) {
  std::vector<AuthProvider> out;
  if (config.is_undefined() || config.type() == Value::Type::kNull) {
    return Invalid("auth config file is missing default export. To learn more, see the auth documentation at "
                   "https://docs.convex.dev/auth.");
  }
  if (config.type() != Value::Type::kObject) return Invalid(absl::StrCat(kSchemaError, "expected an object"));
  const Value& providers = config.Get("providers");
  if (providers.type() != Value::Type::kArray) {
    return Invalid(absl::StrCat(kSchemaError, "missing field `providers`"));
  }
  if (providers.array().size() > 64) return Invalid(absl::StrCat(kSchemaError, "at most 64 providers"));
  for (size_t i = 0; i < providers.array().size(); ++i) {
    const Value& p = providers.array()[i];
    if (p.type() != Value::Type::kObject) return Invalid(absl::StrCat(kSchemaError, "provider at index ", i, " is not an object"));
    if (HasField(p, "applicationId") || HasField(p, "applicationid")) {
      return Invalid(absl::StrCat(kSchemaError, "Provider at index ", i,
                                  " must have applicationID property spelled lowercase 'application', capital I, capital D."));
    }
    AuthProvider provider;
    provider.application_id = StringField(p, "applicationID");
    const std::optional<std::string> type = StringField(p, "type");
    if (type.has_value() && *type != "customJwt" && *type != "oidc") {
      return Invalid(absl::StrCat(kSchemaError, "Provider at index ", i, " has unexpected 'type' value '", type->substr(0, 50), "'"));
    }
    if (type == "customJwt") {
      if (HasField(p, "domain")) {
        return Invalid(absl::StrCat(kSchemaError, "Provider at index ", i, " is a customJwt so cannot have a 'domain' specified"));
      }
      provider.kind = AuthProvider::Kind::kCustomJwt;
      const std::optional<std::string> issuer = StringField(p, "issuer");
      const std::optional<std::string> jwks = StringField(p, "jwks");
      const std::optional<std::string> algorithm = StringField(p, "algorithm");
      if (!issuer || !jwks || !algorithm) {
        return Invalid(absl::StrCat(kSchemaError, "a customJwt provider needs `issuer`, `jwks` and `algorithm` (index ", i, ")"));
      }
      if (*algorithm != "RS256" && *algorithm != "ES256") {
        return Invalid(absl::StrCat("Invalid signature algorithm (only RS256 and ES256 are supported): ", algorithm->substr(0, 50)));
      }
      absl::StatusOr<std::string> url = IssuerUrl(*issuer);
      if (!url.ok()) return url.status();
      provider.issuer = *url;
      provider.jwks = *jwks;
      provider.algorithm = *algorithm;
    } else {
      if (HasField(p, "issuer")) {
        return Invalid(absl::StrCat(kSchemaError, "Provider at index ", i, " is oidc so cannot have an 'issuer' specified."));
      }
      const std::optional<std::string> domain = StringField(p, "domain");
      if (!domain || !provider.application_id) {
        return Invalid(absl::StrCat(kSchemaError, "an OIDC provider needs `domain` and `applicationID` (index ", i, ")"));
      }
      absl::StatusOr<std::string> url = IssuerUrl(*domain);
      if (!url.ok()) return url.status();
      provider.issuer = *url;
    }
    out.push_back(std::move(provider));
  }
  return out;
}

}  // namespace isobar::supervisor
