// Tokens of an issuer made in the test, against auth.config providers: the identities Convex derives,
// the refusal matrix, key rotation, and caching by Cache-Control. Documents come from a map (the
// end-to-end tests fetch them from a real issuer over the egress client).
#include "supervisor/auth/identity_verifier.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "supervisor/auth/test_issuer_testing.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'800'000'000;
constexpr char kIssuer[] = "https://issuer.test";
constexpr char kRs[] = R"({"alg":"RS256","kid":"rsa-1"})";
constexpr char kEs[] = R"({"alg":"ES256","kid":"ec-1"})";

std::string Claims(absl::string_view extra = "", absl::string_view iss = kIssuer, int64_t exp = kNow + 3600) {
  return absl::StrCat(R"({"iss":")", iss, R"(","aud":"app","sub":"user-1","exp":)", exp, R"(,"iat":)", kNow - 10, extra, "}");
}

class IdentityVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    documents_[absl::StrCat(kIssuer, "/.well-known/openid-configuration")] =
        absl::StrCat(R"({"issuer":")", kIssuer, R"(","jwks_uri":")", kIssuer, R"(/jwks"})");
    documents_[absl::StrCat(kIssuer, "/jwks")] = issuer_.Jwks();
    AuthProvider oidc;
    oidc.issuer = kIssuer;
    oidc.application_id = "app";
    providers_ = {oidc};
  }
  absl::StatusOr<std::string> Verify(const std::string& token, absl::Time now = absl::FromUnixSeconds(kNow)) {
    return verifier_.Verify("dep", providers_, token, [this](const std::string& url) -> absl::StatusOr<FetchedDocument> {
      ++fetched_[url];
      auto it = documents_.find(url);
      if (it == documents_.end()) return FetchedDocument{404, "text/plain", "", "not found"};
      return FetchedDocument{200, "application/json", cache_control_, it->second};
    }, now);
  }

  TestIssuer issuer_;
  IdentityVerifier verifier_;
  std::vector<AuthProvider> providers_;
  std::map<std::string, std::string> documents_;
  std::map<std::string, int> fetched_;
  std::string cache_control_ = "public, max-age=600";
};

TEST_F(IdentityVerifierTest, OidcTokensBecomeConvexIdentities) {
  for (const char* header : {kRs, kEs}) {
    absl::StatusOr<std::string> identity = Verify(issuer_.Sign(
        header, Claims(R"(,"email":"ann@example.com","email_verified":true,"given_name":"Ann","updated_at":1700000000,)"
                       R"("picture":"https://p/1.png","org":{"id":7,"role":"admin"},"nonce":"x","jti":"j")")));
    ASSERT_TRUE(identity.ok()) << header << ": " << identity.status();
    EXPECT_EQ(*identity,
              R"({"email":"ann@example.com","emailVerified":true,"givenName":"Ann","issuer":"https://issuer.test",)"
              R"("org":{"id":7,"role":"admin"},"pictureUrl":"https://p/1.png","subject":"user-1",)"
              R"("tokenIdentifier":"https://issuer.test|user-1","updatedAt":"2023-11-14T22:13:20+00:00"})");
  }
  // The discovery document and the keys were fetched once each: cached for their max-age.
  EXPECT_EQ(verifier_.fetches(), 2);
}

TEST_F(IdentityVerifierTest, TheRefusalMatrix) {
  struct Case {
    std::string name;
    std::string token;
    std::string message;
  };
  const std::string good = issuer_.Sign(kRs, Claims());
  std::string tampered = good;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  const std::vector<Case> cases = {
      {"bad signature", tampered, "Could not verify OIDC token claim"},
      {"wrong aud", issuer_.Sign(kRs, absl::StrCat(R"({"iss":"https://issuer.test","aud":"other","sub":"u","exp":)", kNow + 60, "}")),
       "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your "
       "configured providers: [OIDC(domain=https://issuer.test, app_id=app)]"},
      {"wrong iss", issuer_.Sign(kRs, Claims("", "https://evil.test")), "No auth provider found matching the given token"},
      {"expired", issuer_.Sign(kRs, Claims("", kIssuer, kNow - 3600)), "Could not verify OIDC token claim"},
      {"not yet valid", issuer_.Sign(kRs, Claims(absl::StrCat(R"(,"nbf":)", kNow + 3600))), "Could not verify OIDC token claim"},
      {"alg none", absl::StrCat(B64(R"({"alg":"none"})"), ".", B64(Claims()), "."), "Could not verify OIDC token claim"},
      {"no iss", issuer_.Sign(kRs, R"({"sub":"u","aud":"app","exp":1900000000})"), "Missing issuer claim ('iss')"},
      {"garbage", "not.a-token", "Could not parse JWT payload"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> identity = Verify(c.token);
    EXPECT_EQ(identity.status().code(), absl::StatusCode::kUnauthenticated) << c.name;
    EXPECT_THAT(identity.status().message(), HasSubstr(c.message)) << c.name;
  }
  // HS256 keyed with the RSA public key's JWKS text: refused for its algorithm.
  absl::StatusOr<std::string> swapped = Verify(absl::StrCat(B64(R"({"alg":"HS256","kid":"rsa-1"})"), ".", B64(Claims()), ".c2ln"));
  EXPECT_THAT(swapped.status().message(), HasSubstr("HS256"));
}

TEST_F(IdentityVerifierTest, AnUnknownKidFetchesTheKeysAgainOnce) {
  ASSERT_TRUE(Verify(issuer_.Sign(kRs, Claims())).ok());
  TestIssuer rotated;
  std::string jwks = rotated.Jwks();
  jwks.replace(jwks.find("rsa-1"), 5, "rsa-2");
  documents_[absl::StrCat(kIssuer, "/jwks")] = jwks;  // the issuer rotated its keys
  const std::string rotated_token = rotated.Sign(R"({"alg":"RS256","kid":"rsa-2"})", Claims());
  ASSERT_TRUE(Verify(rotated_token).ok());
  EXPECT_EQ(fetched_[absl::StrCat(kIssuer, "/jwks")], 2);
  // A made-up kid fetches again once; the same kid again does not.
  EXPECT_FALSE(Verify(rotated.Sign(R"({"alg":"RS256","kid":"made-up"})", Claims())).ok());
  EXPECT_FALSE(Verify(rotated.Sign(R"({"alg":"RS256","kid":"made-up"})", Claims())).ok());
  EXPECT_EQ(fetched_[absl::StrCat(kIssuer, "/jwks")], 3);
  // A stream of made-up kids: at most 6 fetches a minute.
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(Verify(rotated.Sign(absl::StrCat(R"({"alg":"RS256","kid":"made-up-)", i, R"("})"), Claims())).ok());
  }
  EXPECT_EQ(fetched_[absl::StrCat(kIssuer, "/jwks")], 7);
}

TEST_F(IdentityVerifierTest, CacheControlSaysHowLong) {
  cache_control_ = "no-store";
  ASSERT_TRUE(Verify(issuer_.Sign(kRs, Claims())).ok());
  ASSERT_TRUE(Verify(issuer_.Sign(kRs, Claims())).ok());
  EXPECT_EQ(verifier_.fetches(), 4);
  EXPECT_EQ(CacheLifetime("max-age=60"), absl::Seconds(60));
  EXPECT_EQ(CacheLifetime(""), absl::Minutes(5));
  EXPECT_EQ(CacheLifetime("max-age=99999999"), absl::Hours(24));
}

TEST_F(IdentityVerifierTest, AFailingIssuerIsRememberedAndSlashesDoNotDodgeTheCache) {
  documents_.clear();  // the issuer answers 404 to everything
  EXPECT_THAT(Verify(issuer_.Sign(kRs, Claims())).status().message(), HasSubstr("Auth provider discovery of"));
  EXPECT_THAT(Verify(issuer_.Sign(kRs, Claims("", "https://issuer.test/"))).status().message(),
              HasSubstr("Auth provider discovery of"));
  EXPECT_THAT(Verify(issuer_.Sign(kRs, Claims("", "https://issuer.test///"))).status().message(),
              HasSubstr("Auth provider discovery of"));
  EXPECT_EQ(verifier_.fetches(), 1);
  // 30 s later it is asked again.
  EXPECT_FALSE(Verify(issuer_.Sign(kRs, Claims()), absl::FromUnixSeconds(kNow + 31)).ok());
  EXPECT_EQ(verifier_.fetches(), 2);
}

TEST_F(IdentityVerifierTest, DiscoveryMustNameTheTokensIssuer) {
  documents_[absl::StrCat(kIssuer, "/.well-known/openid-configuration")] = R"({"issuer":"https://elsewhere.test","jwks_uri":"x"})";
  EXPECT_THAT(Verify(issuer_.Sign(kRs, Claims())).status().message(),
              HasSubstr("Auth provider discovery of https://issuer.test failed: unexpected issuer URI"));
}

TEST_F(IdentityVerifierTest, CustomJwtProviders) {
  AuthProvider custom;
  custom.kind = AuthProvider::Kind::kCustomJwt;
  custom.issuer = "https://custom.test";
  custom.jwks = absl::StrCat("data:application/json;base64,", absl::Base64Escape(issuer_.Jwks()));
  custom.algorithm = "ES256";
  providers_ = {custom};  // no applicationID: aud is not checked
  absl::StatusOr<std::string> identity =
      Verify(issuer_.Sign(kEs, Claims(R"(,"email":"a@b.c","org":{"id":7,"team":{"name":"x"}})", "https://custom.test")));
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, R"({"email":"a@b.c","issuer":"https://custom.test","org.id":7,"org.team.name":"x",)"
                       R"("subject":"user-1","tokenIdentifier":"https://custom.test|user-1"})");
  // Only the provider's algorithm.
  EXPECT_THAT(Verify(issuer_.Sign(kRs, Claims("", "https://custom.test"))).status().message(),
              HasSubstr("Could not verify token claim"));
  EXPECT_THAT(Verify(issuer_.Sign(R"({"alg":"ES256","kid":"nope"})", Claims("", "https://custom.test"))).status().message(),
              HasSubstr("The JWT's 'kid' (key ID) header is 'nope'"));
}

TEST(AuthConfigTest, ProvidersAndConvexsRefusals) {
  auto parse = [](const std::string& json) {
    absl::StatusOr<storage::Value> value = storage::ParseConvexJson(json, {.plain = true});
    EXPECT_TRUE(value.ok()) << json;
    return ParseAuthConfig(*value);
  };
  absl::StatusOr<std::vector<AuthProvider>> providers = parse(
      R"({"providers":[{"domain":"issuer.example","applicationID":"a"},)"
      R"({"type":"customJwt","issuer":"https://c.example","jwks":"https://c.example/jwks","algorithm":"ES256"}]})");
  ASSERT_TRUE(providers.ok()) << providers.status();
  ASSERT_EQ(providers->size(), 2u);
  EXPECT_EQ((*providers)[0].issuer, "https://issuer.example");
  EXPECT_EQ((*providers)[1].kind, AuthProvider::Kind::kCustomJwt);
  EXPECT_THAT(parse(R"({"providers":[{"domain":"https://x.example","applicationId":"a"}]})").status().message(),
              HasSubstr("must have applicationID property spelled lowercase 'application', capital I, capital D."));
  EXPECT_THAT(parse(R"({"providers":[{"type":"saml","domain":"x.example","applicationID":"a"}]})").status().message(),
              HasSubstr("has unexpected 'type' value 'saml'"));
  EXPECT_THAT(parse(R"({"providers":[{"type":"customJwt","issuer":"https://x.example","jwks":"j","algorithm":"HS256"}]})")
                  .status().message(),
              HasSubstr("Invalid signature algorithm (only RS256 and ES256 are supported): HS256"));
  EXPECT_THAT(parse(R"({"providers":[{"domain":"ftp://x.example","applicationID":"a"}]})").status().message(),
              HasSubstr("scheme should be http or https"));
  EXPECT_THAT(parse("null").status().message(), HasSubstr("auth config file is missing default export"));
}

}  // namespace
}  // namespace isobar::supervisor
