#include "supervisor/auth/jwt.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

absl::Status Refused(absl::string_view why) { return absl::UnauthenticatedError(absl::StrCat("Invalid token: ", why)); }

std::optional<std::string> Base64Url(absl::string_view text) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(text, &out)) return std::nullopt;
  return out;
}

std::string Text(const Value& object, absl::string_view name) { return StringField(object, name); }

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An EVP_PKEY from OSSL_PARAMs built by `add`.
template <typename Add>
Pkey FromParams(const char* type, Add add) {
  OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
  if (build == nullptr) return nullptr;
  Pkey key;
  if (add(build)) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(build);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    EVP_PKEY* made = nullptr;
    if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &made, EVP_PKEY_PUBLIC_KEY, params) == 1) {
      key.reset(made);
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
  }
  OSSL_PARAM_BLD_free(build);
  return key;
}

Pkey RsaKey(const std::string& n, const std::string& e) {
  BIGNUM* modulus = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* exponent = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  Pkey key;
  // At least 2048 bits: shorter RSA keys are not to be trusted with identities.
  if (modulus != nullptr && exponent != nullptr && BN_num_bits(modulus) >= 2048) {
    key = FromParams("RSA", [&](OSSL_PARAM_BLD* build) {
      return OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, modulus) == 1 &&
             OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, exponent) == 1;
    });
  }
  BN_free(modulus);
  BN_free(exponent);
  return key;
}

Pkey P256Key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  const std::string point = absl::StrCat("\x04", x, y);
  return FromParams("EC", [&](OSSL_PARAM_BLD* build) {
    return OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
           OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1;
  });
}

// ES256's signature is r || s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> EcdsaDer(absl::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  std::optional<std::string> der;
  if (sig != nullptr && r != nullptr && s != nullptr && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = nullptr;  // owned by sig now
    unsigned char* out = nullptr;
    const int length = i2d_ECDSA_SIG(sig, &out);
    if (length > 0) der = std::string(reinterpret_cast<char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return der;
}

bool Verified(EVP_PKEY* key, absl::string_view signed_text, absl::string_view signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                   reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// A NumericDate claim, if present: seconds since the epoch.
absl::StatusOr<std::optional<absl::Time>> Date(const Value& claims, absl::string_view name) {
  const Value& v = claims.Get(name);
  if (v.type() == Value::Type::kUndefined || v.type() == Value::Type::kNull) return std::nullopt;
  // Seconds since the epoch, within a range a clock can mean (and a cast can hold).
  if (v.type() != Value::Type::kFloat64 || !(v.float64() >= 0 && v.float64() < 1e11)) {
    return Refused(absl::StrCat("`", name, "` is not a date"));
  }
  return absl::FromUnixMillis(static_cast<int64_t>(v.float64() * 1000));
}

}  // namespace

Jwk::~Jwk() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }
Jwk::Jwk(Jwk&& other) noexcept : kid_(std::move(other.kid_)), type_(other.type_), key_(std::exchange(other.key_, nullptr)) {}
Jwk& Jwk::operator=(Jwk&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
    kid_ = std::move(other.kid_);
    type_ = other.type_;
    key_ = std::exchange(other.key_, nullptr);
  }
  return *this;
}

absl::StatusOr<JwkSet> ParseJwks(absl::string_view json) {
  absl::StatusOr<Value> document = JsonObject(json);
  if (!document.ok() || document->Get("keys").type() != Value::Type::kArray) {
    return absl::InvalidArgumentError("not a JWKS document: {\"keys\": [...]} expected");
  }
  JwkSet keys;
  for (const Value& entry : document->Get("keys").array()) {
    if (entry.type() != Value::Type::kObject) continue;
    const std::string use = Text(entry, "use");
    if (!use.empty() && use != "sig") continue;
    Pkey key;
    Jwk::Type type = Jwk::Type::kRsa;
    if (Text(entry, "kty") == "RSA") {
      std::optional<std::string> n = Base64Url(Text(entry, "n"));
      std::optional<std::string> e = Base64Url(Text(entry, "e"));
      if (n.has_value() && e.has_value()) key = RsaKey(*n, *e);
    } else if (Text(entry, "kty") == "EC" && Text(entry, "crv") == "P-256") {
      std::optional<std::string> x = Base64Url(Text(entry, "x"));
      std::optional<std::string> y = Base64Url(Text(entry, "y"));
      if (x.has_value() && y.has_value()) key = P256Key(*x, *y);
      type = Jwk::Type::kEc;
    }
    if (key == nullptr) continue;
    Jwk jwk;
    jwk.kid_ = Text(entry, "kid");
    jwk.type_ = type;
    jwk.key_ = key.release();
    keys.push_back(std::move(jwk));
  }
  return keys;
}

absl::StatusOr<Value> JsonObject(absl::string_view json) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Value> value = storage::ParseConvexJson(json, plain);
  if (!value.ok() || value->type() != Value::Type::kObject) return absl::InvalidArgumentError("not a JSON object");
  return value;
}

std::string StringField(const Value& object, absl::string_view name) {
  const Value& v = object.Get(name);
  return v.type() == Value::Type::kString ? v.string() : std::string();
}

absl::StatusOr<Value> VerifyJwt(absl::string_view token, const JwkSet& keys, const JwtCheck& check) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Refused("a JWT has three parts");
  std::optional<std::string> header_json = Base64Url(parts[0]);
  std::optional<std::string> payload_json = Base64Url(parts[1]);
  std::optional<std::string> signature = Base64Url(parts[2]);
  if (!header_json || !payload_json || !signature) return Refused("its parts are not base64url");
  absl::StatusOr<Value> header = JsonObject(*header_json);
  if (!header.ok()) return Refused("its header is not a JSON object");
  const std::string alg = Text(*header, "alg");
  Jwk::Type wanted;
  if (alg == "RS256") {
    wanted = Jwk::Type::kRsa;
  } else if (alg == "ES256") {
    wanted = Jwk::Type::kEc;
  } else {
    return Refused(absl::StrCat("the algorithm \"", alg.substr(0, 20), "\" is not accepted (RS256 or ES256)"));
  }
  if (check.algorithm.has_value() && alg != *check.algorithm) {
    return Refused(absl::StrCat("the algorithm \"", alg, "\" is not the provider's (", *check.algorithm, ")"));
  }
  const std::string kid = Text(*header, "kid");
  const Jwk* key = nullptr;
  for (const Jwk& candidate : keys) {
    if (candidate.type() == wanted && (kid.empty() || candidate.kid() == kid)) {
      key = &candidate;
      break;
    }
  }
  if (key == nullptr) return absl::NotFoundError(absl::StrCat("no key \"", kid.substr(0, 100), "\" for ", alg));
  std::string raw_signature = *signature;
  if (wanted == Jwk::Type::kEc) {
    std::optional<std::string> der = EcdsaDer(raw_signature);
    if (!der.has_value()) return Refused("its ES256 signature is not 64 bytes");
    raw_signature = *der;
  }
  const absl::string_view signed_text = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!Verified(static_cast<EVP_PKEY*>(key->key_), signed_text, raw_signature)) return Refused("the signature does not match");
  absl::StatusOr<Value> claims = JsonObject(*payload_json);
  if (!claims.ok()) return Refused("its payload is not a JSON object");
  if (Text(*claims, "iss") != check.issuer) return Refused("it is from another issuer");
  if (check.audience.has_value()) {
    const Value& aud = claims->Get("aud");
    bool ours = aud.type() == Value::Type::kString && aud.string() == *check.audience;
    if (aud.type() == Value::Type::kArray) {
      for (const Value& one : aud.array()) ours = ours || (one.type() == Value::Type::kString && one.string() == *check.audience);
    }
    if (!ours) return Refused("it is for another audience");
  }
  ASSIGN_OR_RETURN(std::optional<absl::Time> expires, Date(*claims, "exp"));
  ASSIGN_OR_RETURN(std::optional<absl::Time> not_before, Date(*claims, "nbf"));
  ASSIGN_OR_RETURN(std::optional<absl::Time> issued, Date(*claims, "iat"));
  if (!expires.has_value()) return Refused("it has no expiry (`exp`)");
  // No skew for the expiry (as Convex's OIDC check): a session ends its identity at `exp` too.
  if (*expires <= check.now) return Refused("it has expired");
  if (not_before.has_value() && *not_before - check.skew > check.now) return Refused("it is not valid yet (`nbf`)");
  if (issued.has_value() && *issued - check.skew > check.now) return Refused("it was issued in the future (`iat`)");
  return claims;
}

}  // namespace isobar::supervisor
