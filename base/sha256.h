// SHA-256, HMAC-SHA256 and constant-time comparison (OpenSSL's libcrypto), for the supervisor's
// stored digests (API keys, code versions, cursors) and the worker's module checks alike.
//
//   const std::string digest = Sha256(source);          // 32 raw bytes
//   if (!Sha256Matches(source, module.sha256())) ...    // constant time in the comparison
#ifndef ISOBAR_BASE_SHA256_H_
#define ISOBAR_BASE_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace isobar {

// 32 raw bytes.
std::string Sha256(absl::string_view data);
std::string HmacSha256(absl::string_view key, absl::string_view message);
// SHA-256 of data given a part at a time.
//   Sha256Stream hash;
//   hash.Update(part); ...
//   const std::string digest = std::move(hash).Finish();   // 32 raw bytes
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(absl::string_view data);
  std::string Finish() &&;

 private:
  struct Context;
  Context* context_;
};

// Constant-time equality of two byte strings of the same length (false if the lengths differ).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);
// Whether `expected_digest` is the SHA-256 of `data`, compared in constant time.
bool Sha256Matches(absl::string_view data, absl::string_view expected_digest);

}  // namespace isobar

#endif  // ISOBAR_BASE_SHA256_H_
