// Checking a JSON Web Token (issue 19: identity from auth.config.ts): its signature with a key from a
// JWKS (RS256: RSA PKCS#1 v1.5 with SHA-256; ES256: ECDSA on P-256 with SHA-256), then its claims
// (iss, aud, exp, nbf, iat; a small clock skew for nbf and iat, none for exp). OpenSSL's libcrypto does
// the cryptography.
//
//   ASSIGN_OR_RETURN(JwkSet keys, ParseJwks(jwks_json));
//   ASSIGN_OR_RETURN(storage::Value claims, VerifyJwt(token, keys, {.issuer = "https://issuer.example",
//                                                                   .audience = "my-app", .now = absl::Now()}));
//
// Refused (UNAUTHENTICATED, saying why): a token that is not three base64url parts of JSON, an `alg`
// other than RS256 or ES256 (so "none", and HS256 with a public key taken for a secret), a key of
// the wrong type for its `alg`, an unknown `kid` (NOT_FOUND instead, so that the caller can fetch
// the keys again), a bad signature, another issuer or audience, expired, not yet valid, or issued in
// the future.
#ifndef ISOBAR_SUPERVISOR_AUTH_JWT_H_
#define ISOBAR_SUPERVISOR_AUTH_JWT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/value.h"

namespace isobar::supervisor {

struct JwtCheck;

// A public key from a JWKS.
class Jwk {
 public:
  enum class Type { kRsa, kEc };
  ~Jwk();
  Jwk(Jwk&&) noexcept;
  Jwk& operator=(Jwk&&) noexcept;

  const std::string& kid() const { return kid_; }
  Type type() const { return type_; }

 private:
  friend absl::StatusOr<std::vector<Jwk>> ParseJwks(absl::string_view json);
  friend absl::StatusOr<storage::Value> VerifyJwt(absl::string_view token, const std::vector<Jwk>& keys,
                                                  const JwtCheck& check);
  Jwk() = default;

  std::string kid_;
  Type type_ = Type::kRsa;
  void* key_ = nullptr;  // EVP_PKEY, owned
};
using JwkSet = std::vector<Jwk>;

// The keys of a JWKS document ({"keys": [...]}) that can verify RS256 or ES256; others (symmetric,
// other curves, private parts aside) are skipped. INVALID_ARGUMENT when it is no JWKS at all.
absl::StatusOr<JwkSet> ParseJwks(absl::string_view json);

struct JwtCheck {
  std::string issuer;                  // the `iss` the token must have
  std::optional<std::string> audience;  // one of `aud` (a string or an array) must be this, if set
  std::optional<std::string> algorithm;  // "RS256" or "ES256": only this one, if set
  absl::Time now = absl::Now();
  absl::Duration skew = absl::Seconds(60);  // for nbf and iat (a token from a clock ahead of ours)
};

// A JSON object (a JWT's header or payload, a JWKS, a discovery document) as a plain value;
// INVALID_ARGUMENT for anything else.
absl::StatusOr<storage::Value> JsonObject(absl::string_view json);
// `object[name]` when it is a string; "" otherwise.
std::string StringField(const storage::Value& object, absl::string_view name);

// The token's claims (its payload, as a JSON object) once its signature and claims hold.
absl::StatusOr<storage::Value> VerifyJwt(absl::string_view token, const JwkSet& keys, const JwtCheck& check);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_AUTH_JWT_H_
