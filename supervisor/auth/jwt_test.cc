// JWT checks against keys made here: valid RS256 and ES256 tokens, and the refusal matrix (a bad
// signature, another issuer or audience, expired, not yet valid, issued in the future, alg none, HS256
// keyed with the public key, an unknown kid, garbage).
#include "supervisor/auth/jwt.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "supervisor/auth/test_issuer_testing.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'800'000'000;

std::string Claims(absl::string_view extra = "", int64_t exp = kNow + 3600) {
  return absl::StrCat(R"({"iss":"https://issuer.test","aud":"app","sub":"user-1","exp":)", exp, R"(,"iat":)", kNow - 10,
                      extra, "}");
}

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<JwkSet> keys = ParseJwks(issuer_.Jwks());
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_EQ(keys->size(), 2u) << "the symmetric key is skipped";
    keys_ = std::move(*keys);
  }
  absl::StatusOr<storage::Value> Verify(const std::string& token) {
    return VerifyJwt(token, keys_, {.issuer = "https://issuer.test", .audience = "app", .now = absl::FromUnixSeconds(kNow)});
  }

  TestIssuer issuer_;
  JwkSet keys_;
};

TEST_F(JwtTest, ValidTokensOfBothAlgorithms) {
  for (const char* header : {R"({"alg":"RS256","kid":"rsa-1","typ":"JWT"})", R"({"alg":"ES256","kid":"ec-1"})"}) {
    absl::StatusOr<storage::Value> claims = Verify(issuer_.Sign(header, Claims(R"(,"email":"ann@example.com")")));
    ASSERT_TRUE(claims.ok()) << header << ": " << claims.status();
    EXPECT_EQ(claims->Get("sub").string(), "user-1");
    EXPECT_EQ(claims->Get("email").string(), "ann@example.com");
  }
  // An audience list holding ours; no kid: the first key of the algorithm's type.
  EXPECT_TRUE(Verify(issuer_.Sign(R"({"alg":"RS256"})",
                                  R"({"iss":"https://issuer.test","aud":["other","app"],"exp":1800003600})")).ok());
  // Not before (or issued) a little ahead of our clock: within the skew. Expired a second ago: refused.
  EXPECT_TRUE(Verify(issuer_.Sign(R"({"alg":"RS256","kid":"rsa-1"})", Claims(absl::StrCat(R"(,"nbf":)", kNow + 30)))).ok());
  EXPECT_FALSE(Verify(issuer_.Sign(R"({"alg":"RS256","kid":"rsa-1"})", Claims("", kNow - 1))).ok());
}

TEST_F(JwtTest, TheRefusalMatrix) {
  const std::string rs = R"({"alg":"RS256","kid":"rsa-1"})";
  const std::string good = issuer_.Sign(rs, Claims());
  struct Case {
    std::string name;
    std::string token;
    std::string why;
  };
  std::string tampered = good;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  const std::string other_payload =
      absl::StrCat(good.substr(0, good.find('.') + 1), B64(Claims(R"(,"admin":true)")), good.substr(good.rfind('.')));
  // HS256 keyed with the RSA public key's bytes, as a confused verifier would take it.
  const std::string hs_text = absl::StrCat(B64(R"({"alg":"HS256","kid":"rsa-1"})"), ".", B64(Claims()));
  const std::string hs = absl::StrCat(hs_text, ".", B64(HmacSha256(Bn(issuer_.rsa_, OSSL_PKEY_PARAM_RSA_N), hs_text)));
  const std::vector<Case> cases = {
      {"bad signature", tampered, "the signature does not match"},
      {"payload swapped", other_payload, "the signature does not match"},
      {"other issuer", issuer_.Sign(rs, R"({"iss":"https://evil.test","aud":"app","exp":1800003600})"), "another issuer"},
      {"other audience", issuer_.Sign(rs, R"({"iss":"https://issuer.test","aud":"else","exp":1800003600})"), "another audience"},
      {"no audience", issuer_.Sign(rs, R"({"iss":"https://issuer.test","exp":1800003600})"), "another audience"},
      {"expired", issuer_.Sign(rs, Claims("", kNow - 120)), "it has expired"},
      {"no expiry", issuer_.Sign(rs, R"({"iss":"https://issuer.test","aud":"app"})"), "no expiry"},
      {"not yet valid", issuer_.Sign(rs, Claims(absl::StrCat(R"(,"nbf":)", kNow + 600))), "not valid yet"},
      {"issued in the future", issuer_.Sign(rs, R"({"iss":"https://issuer.test","aud":"app","exp":1800003600,"iat":1800000600})"),
       "issued in the future"},
      {"alg none", absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(Claims()), "."), "\"none\" is not accepted"},
      {"HS256 with the public key", hs, "\"HS256\" is not accepted"},
      {"ES256 header on an RSA signature", absl::StrCat(B64(R"({"alg":"ES256","kid":"ec-1"})"), good.substr(good.find('.'))),
       "not 64 bytes"},
      {"a date past any clock", issuer_.Sign(rs, R"({"iss":"https://issuer.test","aud":"app","exp":1e300})"), "is not a date"},
      {"a date that is text", issuer_.Sign(rs, R"({"iss":"https://issuer.test","aud":"app","exp":"soon"})"), "is not a date"},
      {"two parts", good.substr(0, good.rfind('.')), "three parts"},
      {"garbage", "a.b.c", "not base64url"},
      {"not JSON", absl::StrCat(B64("not json"), ".", B64(Claims()), ".", B64("x")), "header is not a JSON object"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<storage::Value> verified = Verify(c.token);
    EXPECT_TRUE(absl::IsUnauthenticated(verified.status())) << c.name << ": " << verified.status();
    EXPECT_THAT(verified.status().message(), HasSubstr(c.why)) << c.name;
  }
  // An unknown kid is NOT_FOUND: the caller fetches the keys again (rotation) before refusing.
  absl::StatusOr<storage::Value> unknown = Verify(issuer_.Sign(R"({"alg":"RS256","kid":"rsa-2"})", Claims()));
  EXPECT_TRUE(absl::IsNotFound(unknown.status())) << unknown.status();
}

TEST_F(JwtTest, JwksDocumentsThatAreNone) {
  EXPECT_FALSE(ParseJwks("[]").ok());
  EXPECT_FALSE(ParseJwks(R"({"keys":{}})").ok());
  absl::StatusOr<JwkSet> weak = ParseJwks(R"({"keys":[{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"}]})");
  ASSERT_TRUE(weak.ok());
  EXPECT_TRUE(weak->empty()) << "an RSA key under 2048 bits is skipped";
}

}  // namespace
}  // namespace isobar::supervisor
