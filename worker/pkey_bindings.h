// The native side of crypto.subtle's asymmetric algorithms (runtime-js/src/subtle_keys.js), over
// OpenSSL: RSA (RSASSA-PKCS1-v1_5, RSA-PSS, RSA-OAEP), ECDSA and ECDH on P-256/P-384/P-521, Ed25519
// and X25519. The prelude keeps a key as DER bytes: PKCS#8 for a private key, SubjectPublicKeyInfo for
// a public one. Kinds are "rsa", "ec", "ed25519", "x25519".
//
//   native.pkeyGenerate(kind, bitsOrCurve, exponent) -> [pkcs8, spki]
//   native.pkeyDescribe(format, der) -> [kind or "", curve or modulus bits, der, spki, exponent]
//       format "spki" or "pkcs8"; throws when `der` is not one; `spki` is the public half
//   native.pkeyFromRaw(kind, curve, bytes) -> spki             an EC point or a 32-byte OKP key
//   native.pkeyFromComponents(kind, curve, parts) -> der       JWK numbers, private when d is given
//       parts: rsa [n, e, d, p, q, dp, dq, qi]; ec [x, y, d]; ed25519/x25519 [x, d]
//   native.pkeyComponents(der, isPrivate) -> parts             the same arrays, big-endian bytes
//   native.pkeySign(scheme, pkcs8, hash, data, saltLength) -> signature
//   native.pkeyVerify(scheme, spki, hash, signature, data, saltLength) -> boolean
//       scheme "pkcs1" | "pss" | "ecdsa" | "ed25519"; ECDSA signatures are r || s (IEEE P1363)
//   native.rsaOaep(encrypt, der, hash, label, data) -> bytes
//   native.pkeyDerive(pkcs8, spki) -> shared secret (ECDH, X25519)
//
// Byte arguments are Uint8Arrays, results ArrayBuffers; a refused input throws an Error whose
// message the prelude replaces with Convex's.
#ifndef ISOBAR_WORKER_PKEY_BINDINGS_H_
#define ISOBAR_WORKER_PKEY_BINDINGS_H_

#include "v8-context.h"
#include "absl/types/span.h"
#include "v8-object.h"
#include "worker/js_util.h"

namespace isobar::worker {

// RSA keys generated here are at most this large: generation runs in one native call, where the
// watchdog cannot stop it (4096 bits takes about a second).
inline constexpr int kMaxGeneratedRsaBits = 4096;

// The key functions, for the prelude's `native` object.
absl::Span<const NativeFunction> PkeyBindings();

// Runs each algorithm once, before the sandbox: OpenSSL loads its implementations on first use.
void WarmUpPkeyBindings();

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_PKEY_BINDINGS_H_
