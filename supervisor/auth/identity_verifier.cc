#include "supervisor/auth/identity_verifier.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/convex_json.h"
#include "supervisor/auth/jwt.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

constexpr absl::Duration kDefaultLifetime = absl::Minutes(5);
constexpr absl::Duration kMaxLifetime = absl::Hours(24);
// A key set is fetched again for a kid it lacks at most this often a minute, and not again for a kid
// looked for within kMissedKidMemory (a stream of made-up kids must not become a stream of fetches).
constexpr size_t kMaxRefreshesPerMinute = 6;
constexpr absl::Duration kMissedKidMemory = absl::Minutes(1);
constexpr size_t kMaxMissedKids = 64;
constexpr size_t kMaxCached = 1024;
constexpr absl::Duration kFailureMemory = absl::Seconds(30);
constexpr int kMaxFetching = 16;
constexpr int kMaxFetchingPerDeployment = 4;
// How long a call waits for the same document another call is fetching.
constexpr absl::Duration kWaitForFetch = absl::Seconds(10);
constexpr char kBusy[] = "the identity provider's keys are being fetched for other calls; try again";

constexpr char kNotAJwt[] =
    "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts "
    "separated by dots.";
constexpr char kNoIssuer[] =
    "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your "
    "configured auth providers.";
constexpr char kOidcRefused[] =
    "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";
constexpr char kCustomRefused[] =
    "Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider "
    "configuration.";

absl::Status Refused(absl::string_view why) { return absl::UnauthenticatedError(why); }

std::string Text(const Value& object, absl::string_view name) { return StringField(object, name); }

bool AudienceHas(const Value& claims, const std::string& audience) {
  const Value& aud = claims.Get("aud");
  if (aud.type() == Value::Type::kString) return aud.string() == audience;
  if (aud.type() != Value::Type::kArray) return false;
  for (const Value& one : aud.array()) {
    if (one.type() == Value::Type::kString && one.string() == audience) return true;
  }
  return false;
}

// Dotted keys for nested objects (customJwt's custom claims).
void Flatten(const std::string& prefix, const Value& value, Value::Object& out, std::set<std::string>& taken) {
  if (value.type() == Value::Type::kObject) {
    for (const auto& [name, field] : value.object()) Flatten(absl::StrCat(prefix, ".", name), field, out, taken);
    return;
  }
  if (taken.insert(prefix).second) out.emplace_back(prefix, value);
}

// A JWKS in a data: URL ("data:application/json;base64,...", or its text after the comma).
absl::StatusOr<std::string> DataUrl(absl::string_view url) {
  const size_t comma = url.find(',');
  if (comma == absl::string_view::npos) return absl::InvalidArgumentError("no comma");
  const absl::string_view head = url.substr(0, comma), data = url.substr(comma + 1);
  if (!absl::EndsWith(head, ";base64")) return std::string(data);
  std::string decoded;
  if (!absl::Base64Unescape(data, &decoded)) return absl::InvalidArgumentError("not base64");
  return decoded;
}

// The `kid` of a token's header ("" when it has none).
std::string KidOf(absl::string_view token) {
  std::string header_json;
  const size_t dot = token.find('.');
  if (dot == absl::string_view::npos || !absl::WebSafeBase64Unescape(token.substr(0, dot), &header_json)) return "";
  absl::StatusOr<Value> header = JsonObject(header_json);
  return header.ok() ? Text(*header, "kid") : "";
}

}  // namespace

absl::Duration CacheLifetime(absl::string_view cache_control) {
  absl::Duration lifetime = kDefaultLifetime;
  for (absl::string_view directive : absl::StrSplit(cache_control, ',')) {
    directive = absl::StripAsciiWhitespace(directive);
    const std::string lower = absl::AsciiStrToLower(directive);
    if (lower == "no-store" || lower == "no-cache") return absl::ZeroDuration();
    absl::string_view rest = lower;
    int64_t seconds = 0;
    if (absl::ConsumePrefix(&rest, "max-age=") && absl::SimpleAtoi(rest, &seconds) && seconds >= 0) {
      lifetime = absl::Seconds(seconds);
    }
  }
  return std::min(lifetime, kMaxLifetime);
}

absl::StatusOr<std::string> IdentityFromClaims(const Value& claims, AuthProvider::Kind kind) {
  const std::string issuer = Text(claims, "iss");
  const std::string subject = Text(claims, "sub");
  Value::Object fields;
  std::set<std::string> taken = {"tokenIdentifier", "issuer", "subject"};
  fields.emplace_back("tokenIdentifier", Value::String(absl::StrCat(issuer, "|", subject)));
  fields.emplace_back("issuer", Value::String(issuer));
  fields.emplace_back("subject", Value::String(subject));
  if (kind == AuthProvider::Kind::kOidc) {
    static const std::vector<std::pair<const char*, const char*>> kStandard = {
        {"name", "name"}, {"given_name", "givenName"}, {"family_name", "familyName"}, {"nickname", "nickname"},
        {"preferred_username", "preferredUsername"}, {"profile", "profileUrl"}, {"picture", "pictureUrl"},
        {"website", "websiteUrl"}, {"email", "email"}, {"email_verified", "emailVerified"}, {"gender", "gender"},
        {"birthdate", "birthday"}, {"zoneinfo", "timezone"}, {"locale", "language"}, {"phone_number", "phoneNumber"},
        {"phone_number_verified", "phoneNumberVerified"}, {"address", "address"}, {"updated_at", "updatedAt"}};
    static const std::set<std::string> kConsumed = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr",
                                                    "amr", "azp", "at_hash", "c_hash", "jti", "nbf", "fva"};
    std::set<std::string> standard;
    for (const auto& [claim, field] : kStandard) {
      standard.insert(claim);
      const Value& value = claims.Get(claim);
      if (value.is_undefined() || value.type() == Value::Type::kNull) continue;
      Value shown = value;
      if (std::string(claim) == "address" && value.type() == Value::Type::kObject) {
        const Value& formatted = value.Get("formatted");
        if (formatted.type() != Value::Type::kString) continue;
        shown = formatted;
      } else if (std::string(claim) == "updated_at" && value.type() == Value::Type::kFloat64) {
        // As Convex: an RFC 3339 time.
        shown = Value::String(absl::FormatTime("%Y-%m-%dT%H:%M:%S+00:00", absl::FromUnixSeconds(static_cast<int64_t>(value.float64())),
                                               absl::UTCTimeZone()));
      }
      fields.emplace_back(field, shown);
      taken.insert(field);
    }
    for (const auto& [name, value] : claims.object()) {
      if (kConsumed.count(name) || standard.count(name) || taken.count(name) || absl::StartsWith(name, "$")) continue;
      fields.emplace_back(name, value);
      taken.insert(name);
    }
  } else {
    static const std::set<std::string> kConsumed = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "fva"};
    for (const auto& [name, value] : claims.object()) {
      if (kConsumed.count(name) || absl::StartsWith(name, "$")) continue;
      Flatten(name, value, fields, taken);
    }
  }
  absl::StatusOr<Value> identity = Value::MakeObject(std::move(fields));
  if (!identity.ok()) {
    return Refused(absl::StrCat("The token's claims cannot make a user identity: ", identity.status().message()));
  }
  return storage::ToConvexJson(*identity);
}

absl::StatusOr<std::string> IdentityVerifier::Document(absl::string_view deployment, const std::string& url,
                                                       const std::optional<std::string>& missing_kid,
                                                       const DocumentFetcher& fetch, absl::Time now) {
  const auto key = std::make_pair(std::string(deployment), url);
  const std::string deployment_name(deployment);
  {
    absl::MutexLock lock(&mu_);
    // One fetch per document at a time: the others wait for its answer (and then use the cache).
    auto not_fetching = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_progress_.count(key) == 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&not_fetching), kWaitForFetch)) return absl::ResourceExhaustedError(kBusy);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      Cached& cached = it->second;
      if (!cached.failure.ok() && cached.expires > now) return cached.failure;
      if (!missing_kid.has_value() && cached.expires > now) return cached.body;
      if (missing_kid.has_value() && cached.failure.ok()) {
        while (!cached.refreshes.empty() && now - cached.refreshes.front() > absl::Minutes(1)) cached.refreshes.pop_front();
        for (auto kid = cached.missed_kids.begin(); kid != cached.missed_kids.end();) {
          kid = now - kid->second > kMissedKidMemory ? cached.missed_kids.erase(kid) : std::next(kid);
        }
        const bool missed_lately = cached.missed_kids.count(*missing_kid) > 0;
        if (cached.missed_kids.size() < kMaxMissedKids) cached.missed_kids[*missing_kid] = now;
        if (missed_lately || cached.refreshes.size() >= kMaxRefreshesPerMinute) return cached.body;
        cached.refreshes.push_back(now);
      }
    }
    int& mine = fetching_by_deployment_[deployment_name];
    if (fetching_ >= kMaxFetching || mine >= kMaxFetchingPerDeployment) {
      if (mine == 0) fetching_by_deployment_.erase(deployment_name);
      return absl::ResourceExhaustedError(kBusy);
    }
    ++mine;
    ++fetching_;
    ++fetches_;
    in_progress_.insert(key);
  }
  absl::StatusOr<FetchedDocument> fetched = fetch(url);
  absl::StatusOr<std::string> body = absl::UnknownError("");
  if (!fetched.ok()) {
    body = fetched.status();
  } else if (fetched->status != 200) {
    body = absl::UnavailableError(absl::StrCat("HTTP ", fetched->status));
  } else if (!absl::StrContains(absl::AsciiStrToLower(fetched->content_type), "json")) {
    body = absl::UnavailableError(absl::StrCat("Invalid Content-Type '", fetched->content_type.substr(0, 100),
                                               "'; expected 'application/json' or 'application/jwk-set+json'"));
  } else {
    body = fetched->body;
  }
  absl::MutexLock lock(&mu_);
  in_progress_.erase(key);
  --fetching_;
  if (--fetching_by_deployment_[deployment_name] == 0) fetching_by_deployment_.erase(deployment_name);
  if (cache_.size() >= kMaxCached && cache_.find(key) == cache_.end()) {
    for (auto it = cache_.begin(); it != cache_.end();) it = it->second.expires <= now ? cache_.erase(it) : std::next(it);
    if (cache_.size() >= kMaxCached) cache_.erase(cache_.begin());
  }
  Cached& cached = cache_[key];
  if (body.ok()) {
    cached.body = *body;
    cached.failure = absl::OkStatus();
    cached.expires = now + CacheLifetime(fetched->cache_control);
  } else if (!cached.body.empty()) {
    // The issuer is failing but answered before: its last document serves a while longer (keys change
    // rarely, and sign-in should outlast a provider's blip), and it is not asked again meanwhile.
    cached.expires = now + kFailureMemory;
    return cached.body;
  } else {
    // Remembered for a while, so that a stream of tokens naming a failing issuer is not a stream of fetches.
    cached.failure = body.status();
    cached.expires = now + kFailureMemory;
  }
  return body;
}

absl::StatusOr<Value> IdentityVerifier::VerifyWithKeys(absl::string_view deployment, const std::string& jwks_url,
                                                       absl::string_view token, const JwtCheck& check,
                                                       const DocumentFetcher& fetch, absl::Time now) {
  absl::StatusOr<Value> claims = absl::NotFoundError("no keys yet");
  std::optional<std::string> missing_kid;
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<std::string> jwks = absl::StartsWith(jwks_url, "data:")
                                           ? DataUrl(jwks_url)
                                           : Document(deployment, jwks_url, missing_kid, fetch, now);
    if (absl::IsResourceExhausted(jwks.status())) return jwks.status();
    if (!jwks.ok()) {
      return absl::UnavailableError(absl::StrCat("Could not fetch JWKS from URL '", jwks_url.substr(0, 200), "': ",
                                                 jwks.status().message()));
    }
    absl::StatusOr<JwkSet> keys = ParseJwks(*jwks);
    if (!keys.ok()) return absl::UnavailableError(absl::StrCat("Invalid JWKS response body from '", jwks_url.substr(0, 200), "'"));
    claims = VerifyJwt(token, *keys, check);
    // A kid the keys lack: the issuer may have rotated them; they are wanted once more.
    if (!absl::IsNotFound(claims.status()) || absl::StartsWith(jwks_url, "data:")) break;
    missing_kid = KidOf(token);
  }
  return claims;
}

absl::StatusOr<std::string> IdentityVerifier::Verify(absl::string_view deployment, const std::vector<AuthProvider>& providers,
                                                     absl::string_view token, const DocumentFetcher& fetch, absl::Time now,
                                                     absl::Time* expires) {
  auto expiry_of = [expires](const Value& claims) {
    const Value& exp = claims.Get("exp");
    if (expires != nullptr && exp.type() == Value::Type::kFloat64) *expires = absl::FromUnixSeconds(static_cast<int64_t>(exp.float64()));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string payload_json;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload_json)) return Refused(kNotAJwt);
  absl::StatusOr<Value> payload = JsonObject(payload_json);
  if (!payload.ok()) return Refused(kNotAJwt);
  const std::string iss = Text(*payload, "iss");
  if (iss.empty()) return Refused(kNoIssuer);
  const AuthProvider* provider = nullptr;
  for (const AuthProvider& candidate : providers) {
    if (candidate.application_id.has_value() && !AudienceHas(*payload, *candidate.application_id)) continue;
    if (IssuersMatch(candidate.issuer, iss)) {
      provider = &candidate;
      break;
    }
  }
  if (provider == nullptr) {
    if (providers.empty()) {
      return Refused("No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts.");
    }
    std::vector<std::string> described;
    for (const AuthProvider& p : providers) described.push_back(p.Describe());
    return Refused(absl::StrCat("No auth provider found matching the given token. Check that your JWT's issuer and audience "
                                "match one of your configured providers: [", absl::StrJoin(described, ", "), "]"));
  }
  if (provider->kind == AuthProvider::Kind::kOidc) {
    // One URL however many slashes the issuer ends with (a token cannot dodge the cache that way).
    absl::string_view base = iss;
    while (absl::ConsumeSuffix(&base, "/")) {
    }
    const std::string discovery = absl::StrCat(base, "/.well-known/openid-configuration");
    absl::StatusOr<std::string> document = Document(deployment, discovery, std::nullopt, fetch, now);
    if (absl::IsResourceExhausted(document.status())) return absl::UnavailableError(kBusy);
    absl::StatusOr<Value> metadata = document.ok() ? JsonObject(*document) : absl::StatusOr<Value>(document.status());
    if (!metadata.ok()) {
      return Refused(absl::StrCat("Auth provider discovery of ", iss, " failed: ", metadata.status().message()));
    }
    if (Text(*metadata, "issuer") != iss) {
      return Refused(absl::StrCat("Auth provider discovery of ", iss, " failed: unexpected issuer URI `",
                                  Text(*metadata, "issuer").substr(0, 200), "` (expected `", iss, "`)"));
    }
    const std::string jwks_uri = Text(*metadata, "jwks_uri");
    if (jwks_uri.empty()) return Refused(absl::StrCat("Auth provider discovery of ", iss, " failed: no jwks_uri"));
    absl::StatusOr<Value> claims =
        VerifyWithKeys(deployment, jwks_uri, token, {.issuer = iss, .audience = provider->application_id, .now = now}, fetch, now);
    if (absl::IsResourceExhausted(claims.status())) return absl::UnavailableError(kBusy);
    if (!claims.ok()) return Refused(absl::StrCat(kOidcRefused, " (", claims.status().message(), ")"));
    if (Text(*claims, "sub").empty()) return Refused(absl::StrCat(kOidcRefused, " (no `sub`)"));
    expiry_of(*claims);
    return IdentityFromClaims(*claims, AuthProvider::Kind::kOidc);
  }
  absl::StatusOr<Value> claims = VerifyWithKeys(
      deployment, provider->jwks, token,
      {.issuer = iss, .audience = provider->application_id, .algorithm = provider->algorithm, .now = now}, fetch, now);
  if (absl::IsResourceExhausted(claims.status())) return absl::UnavailableError(kBusy);
  if (absl::IsNotFound(claims.status())) {
    const std::string kid = KidOf(token);
    return Refused(kid.empty() ? "Could not decode token. JWT may be missing a 'kid' (key ID) header."
                               : absl::StrCat("Could not decode token. The JWT's 'kid' (key ID) header is '", kid.substr(0, 100),
                                              "', does this key match any key in the provider's JWKS?"));
  }
  if (!claims.ok()) return Refused(absl::StrCat(kCustomRefused, " (", claims.status().message(), ")"));
  if (Text(*claims, "sub").empty()) return Refused(absl::StrCat(kCustomRefused, " (no `sub`)"));
  expiry_of(*claims);
  return IdentityFromClaims(*claims, AuthProvider::Kind::kCustomJwt);
}

int IdentityVerifier::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

}  // namespace isobar::supervisor
