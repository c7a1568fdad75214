#include "base/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace isobar {

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

struct Sha256Stream::Context {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
};

Sha256Stream::Sha256Stream() : context_(new Context) { EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr); }

Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(context_->md);
  delete context_;
}

void Sha256Stream::Update(absl::string_view data) { EVP_DigestUpdate(context_->md, data.data(), data.size()); }

std::string Sha256Stream::Finish() && {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_->md, digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string HmacSha256(absl::string_view key, absl::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool Sha256Matches(absl::string_view data, absl::string_view expected_digest) {
  return ConstantTimeEquals(Sha256(data), expected_digest);
}

}  // namespace isobar
