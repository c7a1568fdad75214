// The native side of crypto.subtle's symmetric algorithms (runtime-js/src/crypto.js), over OpenSSL.
// Each takes and returns bytes only (keys are bytes the prelude keeps inside CryptoKeys):
//
//   native.hmac(hash, key, data) -> ArrayBuffer                         HMAC
//   native.pbkdf2(hash, password, salt, iterations, bytes) -> ArrayBuffer
//   native.hkdf(hash, ikm, salt, info, bytes) -> ArrayBuffer
//   native.aes(mode, encrypt, key, iv, data, additionalData, tagBytes) -> ArrayBuffer
//       mode "gcm" | "cbc" | "ctr"; a failed decryption throws an Error with the message "decrypt"
//
// `hash` is "SHA-1", "SHA-256", "SHA-384" or "SHA-512"; byte arguments are Uint8Arrays.
#ifndef ISOBAR_WORKER_CRYPTO_BINDINGS_H_
#define ISOBAR_WORKER_CRYPTO_BINDINGS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "openssl/evp.h"
#include "v8-context.h"
#include "v8-function-callback.h"
#include "v8-object.h"
#include "worker/js_util.h"

namespace isobar::worker {

// nullptr for a name that is none of the four.
const EVP_MD* DigestByName(absl::string_view name);

void Hmac(const v8::FunctionCallbackInfo<v8::Value>& info);
void Pbkdf2(const v8::FunctionCallbackInfo<v8::Value>& info);
void Hkdf(const v8::FunctionCallbackInfo<v8::Value>& info);
void Aes(const v8::FunctionCallbackInfo<v8::Value>& info);

// The four functions, for the prelude's `native` object.
absl::Span<const NativeFunction> CryptoBindings();

// Runs each algorithm once, before the sandbox: OpenSSL looks up its implementations on first use.
void WarmUpCryptoBindings();

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_CRYPTO_BINDINGS_H_
