#include "worker/module_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace isobar::worker {

std::string Sha256(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

bool Sha256Matches(absl::string_view data, absl::string_view expected_digest) {
  const std::string actual = Sha256(data);
  return expected_digest.size() == actual.size() &&
         CRYPTO_memcmp(actual.data(), expected_digest.data(), actual.size()) == 0;
}

isobar::worker::v1::Module ModuleFromSource(std::string path, std::string source) {
  isobar::worker::v1::Module module;
  module.set_sha256(Sha256(source));
  module.set_path(std::move(path));
  module.set_source(std::move(source));
  return module;
}

}  // namespace isobar::worker
