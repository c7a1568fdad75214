// An issuer of our own for tests: an RSA and a P-256 key made at construction, their JWKS, and
// tokens signed with them (testonly).
#ifndef ISOBAR_SUPERVISOR_AUTH_TEST_ISSUER_TESTING_H_
#define ISOBAR_SUPERVISOR_AUTH_TEST_ISSUER_TESTING_H_

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {

inline std::string B64(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

inline std::string Bn(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1) << name;
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

// An issuer of our own: an RSA and a P-256 key, their JWKS, and tokens signed with them.
class TestIssuer {
 public:
  TestIssuer() : rsa_(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))),
                 ec_(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")) {}
  ~TestIssuer() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
  }

  std::string Jwks() const {
    unsigned char point[65];
    size_t length = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(ec_, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &length), 1);
    const std::string xy(reinterpret_cast<char*>(point) + 1, 64);
    return absl::StrCat(R"({"keys":[{"kty":"RSA","kid":"rsa-1","use":"sig","alg":"RS256","n":")",
                        B64(Bn(rsa_, OSSL_PKEY_PARAM_RSA_N)), R"(","e":")", B64(Bn(rsa_, OSSL_PKEY_PARAM_RSA_E)),
                        R"("},{"kty":"EC","kid":"ec-1","crv":"P-256","x":")", B64(xy.substr(0, 32)), R"(","y":")",
                        B64(xy.substr(32)), R"("},{"kty":"oct","kid":"secret","k":"c2VjcmV0"}]})");
  }

  // A token with `header` and `payload` (JSON), signed as the header's alg says.
  std::string Sign(const std::string& header, const std::string& payload) const {
    const std::string text = absl::StrCat(B64(header), ".", B64(payload));
    const bool ec = header.find("ES256") != std::string::npos;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, ec ? ec_ : rsa_), 1);
    size_t length = 0;
    EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    std::string signature(length, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                             reinterpret_cast<const unsigned char*>(text.data()), text.size()),
              1);
    signature.resize(length);
    EVP_MD_CTX_free(ctx);
    if (ec) {
      // DER to JWS's r || s.
      const unsigned char* der = reinterpret_cast<const unsigned char*>(signature.data());
      ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(sig);
      signature = raw;
    }
    return absl::StrCat(text, ".", B64(signature));
  }

  EVP_PKEY* rsa_;
  EVP_PKEY* ec_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_AUTH_TEST_ISSUER_TESTING_H_
