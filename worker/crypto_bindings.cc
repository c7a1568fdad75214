#include "worker/crypto_bindings.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "openssl/hmac.h"
#include "openssl/kdf.h"
#include "v8-array-buffer.h"
#include "v8-exception.h"
#include "v8-primitive.h"
#include "v8-typed-array.h"
#include "worker/crypto_bytes.h"
#include "worker/js_util.h"

namespace isobar::worker {
namespace {

const EVP_MD* HashArgument(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return info.Length() > 0 && info[0]->IsString() ? DigestByName(ToUtf8(info.GetIsolate(), info[0])) : nullptr;
}

void Invalid(v8::Isolate* isolate, const char* what) { ThrowError(isolate, v8::Exception::TypeError, what); }

// At most 64 KiB of derived key material per call.
constexpr uint32_t kMaxDerivedBytes = 65536;
// PBKDF2 runs in one native call, where the watchdog cannot stop it: at most this many hash rounds
// (iterations x output blocks; about a second of CPU). 600,000 iterations of one block, as OWASP
// recommends for SHA-256, fit.
constexpr uint64_t kMaxPbkdf2Rounds = 2'000'000;

const EVP_CIPHER* AesCipher(absl::string_view mode, size_t key_bytes) {
  if (mode == "gcm") {
    return key_bytes == 16 ? EVP_aes_128_gcm() : key_bytes == 24 ? EVP_aes_192_gcm() : key_bytes == 32 ? EVP_aes_256_gcm() : nullptr;
  }
  if (mode == "cbc") {
    return key_bytes == 16 ? EVP_aes_128_cbc() : key_bytes == 24 ? EVP_aes_192_cbc() : key_bytes == 32 ? EVP_aes_256_cbc() : nullptr;
  }
  if (mode == "ctr") {
    return key_bytes == 16 ? EVP_aes_128_ctr() : key_bytes == 24 ? EVP_aes_192_ctr() : key_bytes == 32 ? EVP_aes_256_ctr() : nullptr;
  }
  return nullptr;
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// The result, or nullopt when OpenSSL refused (for a decryption: the data or its tag is wrong).
std::optional<std::string> RunAes(absl::string_view mode, bool encrypt, Bytes key, Bytes iv, Bytes data, Bytes aad,
                                  size_t tag_bytes) {
  const EVP_CIPHER* cipher = AesCipher(mode, key.size);
  if (cipher == nullptr) return std::nullopt;
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (ctx == nullptr || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
    return std::nullopt;
  }
  const bool gcm = mode == "gcm";
  if (gcm && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size), nullptr) != 1) {
    return std::nullopt;
  }
  if (!gcm && iv.size != 16) return std::nullopt;
  if (EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data, iv.data, encrypt ? 1 : 0) != 1) return std::nullopt;
  Bytes input = data;
  if (gcm && !encrypt) {
    if (input.size < tag_bytes) return std::nullopt;
    input.size -= tag_bytes;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_bytes),
                            const_cast<unsigned char*>(data.data + input.size)) != 1) {
      return std::nullopt;
    }
  }
  int length = 0;
  if (gcm && aad.size > 0 && EVP_CipherUpdate(ctx.get(), nullptr, &length, aad.data, static_cast<int>(aad.size)) != 1) {
    return std::nullopt;
  }
  std::string out(input.size + 32 + tag_bytes, '\0');
  auto* cursor = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  if (input.size > 0 && EVP_CipherUpdate(ctx.get(), cursor, &written, input.data, static_cast<int>(input.size)) != 1) {
    return std::nullopt;
  }
  int final_written = 0;
  if (EVP_CipherFinal_ex(ctx.get(), cursor + written, &final_written) != 1) return std::nullopt;
  size_t total = static_cast<size_t>(written + final_written);
  if (gcm && encrypt) {
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes), cursor + total) != 1) {
      return std::nullopt;
    }
    total += tag_bytes;
  }
  out.resize(total);
  return out;
}

}  // namespace

const EVP_MD* DigestByName(absl::string_view name) {
  if (name == "SHA-1") return EVP_sha1();
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  return nullptr;
}

void Hmac(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const EVP_MD* md = HashArgument(info);
  Bytes key, data;
  if (md == nullptr || info.Length() < 3 || !BytesOf(info[1], &key) || !BytesOf(info[2], &data)) {
    return Invalid(isolate, "hmac takes (hash, Uint8Array key, Uint8Array data)");
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  static const unsigned char kEmpty = 0;
  if (HMAC(md, key.size > 0 ? key.data : &kEmpty, static_cast<int>(key.size), data.data, data.size, mac, &length) ==
      nullptr) {
    return ThrowError(isolate, v8::Exception::Error, "HMAC failed");
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, mac, length));
}

void Pbkdf2(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const EVP_MD* md = HashArgument(info);
  Bytes password, salt;
  if (md == nullptr || info.Length() < 5 || !BytesOf(info[1], &password) || !BytesOf(info[2], &salt) ||
      !info[3]->IsUint32() || !info[4]->IsUint32() || info[4].As<v8::Uint32>()->Value() > kMaxDerivedBytes) {
    return Invalid(isolate, "pbkdf2 takes (hash, password, salt, iterations, bytes)");
  }
  const uint64_t iterations = info[3].As<v8::Uint32>()->Value();
  const uint64_t blocks = (info[4].As<v8::Uint32>()->Value() + EVP_MD_size(md) - 1) / EVP_MD_size(md);
  if (iterations * std::max<uint64_t>(blocks, 1) > kMaxPbkdf2Rounds) {
    return ThrowError(isolate, v8::Exception::RangeError,
                      "PBKDF2 work is too large: iterations x output blocks must be at most 2000000");
  }
  std::string out(info[4].As<v8::Uint32>()->Value(), '\0');
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data), static_cast<int>(password.size), salt.data,
                        static_cast<int>(salt.size), static_cast<int>(info[3].As<v8::Uint32>()->Value()), md,
                        static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data())) != 1) {
    return ThrowError(isolate, v8::Exception::Error, "PBKDF2 failed");
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, reinterpret_cast<const unsigned char*>(out.data()), out.size()));
}

void Hkdf(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const EVP_MD* md = HashArgument(info);
  Bytes ikm, salt, context_info;
  if (md == nullptr || info.Length() < 5 || !BytesOf(info[1], &ikm) || !BytesOf(info[2], &salt) ||
      !BytesOf(info[3], &context_info) || !info[4]->IsUint32() || info[4].As<v8::Uint32>()->Value() > kMaxDerivedBytes) {
    return Invalid(isolate, "hkdf takes (hash, ikm, salt, info, bytes)");
  }
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  std::string out(info[4].As<v8::Uint32>()->Value(), '\0');
  size_t length = out.size();
  static const unsigned char kEmpty = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.size > 0 ? salt.data : &kEmpty, static_cast<int>(salt.size)) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.size > 0 ? ikm.data : &kEmpty, static_cast<int>(ikm.size)) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), context_info.size > 0 ? context_info.data : &kEmpty,
                                  static_cast<int>(context_info.size)) != 1 ||
      (length > 0 && EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length) != 1)) {
    return ThrowError(isolate, v8::Exception::Error, "HKDF failed");
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, reinterpret_cast<const unsigned char*>(out.data()), length));
}

void Aes(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Bytes key, iv, data, aad;
  if (info.Length() < 7 || !info[0]->IsString() || !info[1]->IsBoolean() || !BytesOf(info[2], &key) ||
      !BytesOf(info[3], &iv) || !BytesOf(info[4], &data) || !BytesOf(info[5], &aad) || !info[6]->IsUint32() ||
      info[6].As<v8::Uint32>()->Value() > 16) {
    return Invalid(isolate, "aes takes (mode, encrypt, key, iv, data, additionalData, tagBytes)");
  }
  std::optional<std::string> out = RunAes(ToUtf8(isolate, info[0]), info[1]->IsTrue(), key, iv, data, aad,
                                          info[6].As<v8::Uint32>()->Value());
  if (!out.has_value()) return ThrowError(isolate, v8::Exception::Error, "decrypt");
  info.GetReturnValue().Set(NewArrayBuffer(isolate, reinterpret_cast<const unsigned char*>(out->data()), out->size()));
}

absl::Span<const NativeFunction> CryptoBindings() {
  static constexpr NativeFunction kFunctions[] = {{"hmac", Hmac}, {"pbkdf2", Pbkdf2}, {"hkdf", Hkdf}, {"aes", Aes}};
  return kFunctions;
}

void WarmUpCryptoBindings() {
  static const unsigned char kZeros[32] = {};
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (const char* name : {"SHA-1", "SHA-256", "SHA-384", "SHA-512"}) {
    HMAC(DigestByName(name), kZeros, 16, kZeros, 16, out, &length);
    PKCS5_PBKDF2_HMAC("x", 1, kZeros, 8, 1, DigestByName(name), 16, out);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr),
                                                                    &EVP_PKEY_CTX_free);
    size_t derived = 16;
    if (ctx != nullptr && EVP_PKEY_derive_init(ctx.get()) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx.get(), DigestByName(name)) == 1 &&
        EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), kZeros, 16) == 1) {
      EVP_PKEY_derive(ctx.get(), out, &derived);
    }
  }
  for (const char* mode : {"gcm", "cbc", "ctr"}) {
    for (size_t key_bytes : {16, 24, 32}) {
      RunAes(mode, true, Bytes{kZeros, key_bytes}, Bytes{kZeros, 16}, Bytes{kZeros, 16}, Bytes{kZeros, 0}, 16);
    }
  }
}

}  // namespace isobar::worker
