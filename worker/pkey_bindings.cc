#include "worker/pkey_bindings.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "openssl/bn.h"
#include "openssl/core_names.h"
#include "openssl/ec.h"
#include "openssl/evp.h"
#include "openssl/param_build.h"
#include "openssl/rsa.h"
#include "openssl/x509.h"
#include "v8-array-buffer.h"
#include "v8-container.h"
#include "v8-exception.h"
#include "v8-isolate.h"
#include "v8-primitive.h"
#include "worker/crypto_bindings.h"
#include "worker/crypto_bytes.h"
#include "worker/js_util.h"

namespace isobar::worker {
namespace {

// Keys are at most this much DER (an 8192-bit RSA private key is about 4.8 KB).
constexpr size_t kMaxKeyDerBytes = 64 * 1024;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, PkeyFree>;
using Bignum = std::unique_ptr<BIGNUM, PkeyFree>;

enum class Kind { kOther, kRsa, kEc, kEd25519, kX25519 };

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kRsa: return "rsa";
    case Kind::kEc: return "ec";
    case Kind::kEd25519: return "ed25519";
    case Kind::kX25519: return "x25519";
    case Kind::kOther: break;
  }
  return "";
}

Kind KindOf(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return Kind::kRsa;
    case EVP_PKEY_EC: return Kind::kEc;
    case EVP_PKEY_ED25519: return Kind::kEd25519;
    case EVP_PKEY_X25519: return Kind::kX25519;
    default: return Kind::kOther;
  }
}

// WebCrypto's curve names and OpenSSL's; the byte size of a coordinate and of a private key.
struct Curve {
  const char* web;
  const char* openssl;
  size_t bytes;
};
constexpr std::array<Curve, 3> kCurves = {{{"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}}};

const Curve* CurveByWebName(absl::string_view name) {
  for (const Curve& curve : kCurves) {
    if (name == curve.web) return &curve;
  }
  return nullptr;
}

const Curve* CurveOf(const EVP_PKEY* key) {
  char name[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &length) != 1) return nullptr;
  for (const Curve& curve : kCurves) {
    if (absl::string_view(name, length) == curve.openssl) return &curve;
  }
  return nullptr;
}

std::optional<std::string> PublicDer(const EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int length = i2d_PUBKEY(key, &out);
  if (length <= 0) return std::nullopt;
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(length));
  OPENSSL_free(out);
  return der;
}

std::optional<std::string> PrivateDer(const EVP_PKEY* key) {
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, PkeyFree> info(EVP_PKEY2PKCS8(key));
  if (info == nullptr) return std::nullopt;
  unsigned char* out = nullptr;
  int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &out);
  if (length <= 0) return std::nullopt;
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(length));
  OPENSSL_free(out);
  return der;
}

// The whole of `der` must be the one structure.
Pkey ParsePublic(Bytes der) {
  if (der.size > kMaxKeyDerBytes) return nullptr;
  const unsigned char* cursor = der.data;
  Pkey key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size)));
  if (key != nullptr && cursor != der.data + der.size) key.reset();
  return key;
}

// The algorithms keys may be of. Others are not decoded at all: decoding some (a DSA private key
// computes g^x mod p) costs what an untrusted size makes it cost.
bool AllowedAlgorithm(int nid) {
  return nid == NID_rsaEncryption || nid == NID_X9_62_id_ecPublicKey || nid == NID_ED25519 || nid == NID_X25519;
}

// *other_algorithm is set when `der` is a PKCS#8 structure of an algorithm not allowed here.
Pkey ParsePrivate(Bytes der, bool* other_algorithm = nullptr) {
  if (der.size > kMaxKeyDerBytes) return nullptr;
  const unsigned char* cursor = der.data;
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, PkeyFree> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(der.size)));
  if (info == nullptr || cursor != der.data + der.size) return nullptr;
  const ASN1_OBJECT* algorithm = nullptr;
  if (PKCS8_pkey_get0(&algorithm, nullptr, nullptr, nullptr, info.get()) != 1 ||
      !AllowedAlgorithm(OBJ_obj2nid(algorithm))) {
    if (other_algorithm != nullptr) *other_algorithm = true;
    return nullptr;
  }
  return Pkey(EVP_PKCS82PKEY(info.get()));
}

// Sizes that keep every operation on a key short: RSA moduli up to 8192 bits (Convex's largest),
// public exponents up to 64 bits.
constexpr int kMaxRsaBits = 8192;
constexpr int kMaxRsaExponentBits = 64;

bool SizeAllowed(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return true;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bits(key) > kMaxRsaBits || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(e);
    return false;
  }
  const bool small = BN_num_bits(e) <= kMaxRsaExponentBits;
  BN_free(e);
  return small;
}

v8::Local<v8::Value> Buffer(v8::Isolate* isolate, const std::optional<std::string>& bytes) {
  if (!bytes.has_value()) return v8::Undefined(isolate);
  return NewArrayBuffer(isolate, *bytes);
}

// Made in one step: assigning elements would run setters user code put on Array.prototype.
v8::Local<v8::Array> NewArray(v8::Local<v8::Context> context, std::vector<v8::Local<v8::Value>> items) {
  return v8::Array::New(context->GetIsolate(), items.data(), items.size());
}

void Refuse(v8::Isolate* isolate, absl::string_view why) { ThrowError(isolate, v8::Exception::Error, why); }

// A big-endian number, at least `width` bytes (0: its minimal length).
std::optional<std::string> BignumParam(const EVP_PKEY* key, const char* name, size_t width = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) return std::nullopt;
  Bignum number(raw);
  size_t size = std::max<size_t>(width, static_cast<size_t>(BN_num_bytes(number.get())));
  std::string out(size, '\0');
  if (BN_bn2binpad(number.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size)) < 0) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> RawKey(const EVP_PKEY* key, bool private_part) {
  size_t length = 0;
  auto get = private_part ? EVP_PKEY_get_raw_private_key : EVP_PKEY_get_raw_public_key;
  if (get(key, nullptr, &length) != 1) return std::nullopt;
  std::string out(length, '\0');
  if (get(key, reinterpret_cast<unsigned char*>(out.data()), &length) != 1) return std::nullopt;
  out.resize(length);
  return out;
}

Pkey Generate(v8::Isolate* isolate, const v8::FunctionCallbackInfo<v8::Value>& info, absl::string_view kind) {
  const char* type = kind == "rsa" ? "RSA" : kind == "ec" ? "EC" : kind == "ed25519" ? "ED25519" : kind == "x25519" ? "X25519" : nullptr;
  if (type == nullptr) return nullptr;
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1) return nullptr;
  if (kind == "rsa") {
    Bytes exponent;
    if (!info[1]->IsUint32() || !BytesOf(info[2], &exponent) || exponent.size > kMaxRsaExponentBits / 8) return nullptr;
    uint32_t bits = info[1].As<v8::Uint32>()->Value();
    Bignum e(BN_bin2bn(exponent.data, static_cast<int>(exponent.size), nullptr));
    if (bits > kMaxGeneratedRsaBits || e == nullptr ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1) {
      return nullptr;
    }
  } else if (kind == "ec") {
    const Curve* curve = CurveByWebName(ToUtf8(isolate, info[1]));
    if (curve == nullptr || EVP_PKEY_CTX_set_group_name(ctx.get(), curve->openssl) != 1) return nullptr;
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) != 1) return nullptr;
  return Pkey(key);
}

void PkeyGenerate(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  Pkey key = Generate(isolate, info, ToUtf8(isolate, info[0]));
  std::optional<std::string> private_der = key ? PrivateDer(key.get()) : std::nullopt;
  std::optional<std::string> public_der = key ? PublicDer(key.get()) : std::nullopt;
  if (!private_der || !public_der) return Refuse(isolate, "generate");
  info.GetReturnValue().Set(NewArray(context, {Buffer(isolate, private_der), Buffer(isolate, public_der)}));
}

void PkeyDescribe(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  Bytes der;
  if (!BytesOf(info[1], &der)) return Refuse(isolate, "parse");
  const bool private_key = info[0]->IsString() && ToUtf8(isolate, info[0]) == "pkcs8";
  bool other_algorithm = false;
  Pkey key = private_key ? ParsePrivate(der, &other_algorithm) : ParsePublic(der);
  if (other_algorithm) {
    v8::Local<v8::Value> undefined = v8::Undefined(isolate);
    return info.GetReturnValue().Set(NewArray(context, {NewString(isolate, ""), undefined, undefined, undefined, undefined}));
  }
  if (key == nullptr) return Refuse(isolate, "parse");
  const Kind kind = KindOf(key.get());
  if (!SizeAllowed(key.get())) return Refuse(isolate, "size");
  if (kind == Kind::kEc) {
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (check == nullptr || (private_key ? EVP_PKEY_check(check.get()) : EVP_PKEY_public_check(check.get())) != 1) {
      return Refuse(isolate, "check");
    }
  }
  v8::Local<v8::Value> detail = v8::Undefined(isolate);
  v8::Local<v8::Value> exponent = v8::Undefined(isolate);
  if (kind == Kind::kEc) {
    const Curve* curve = CurveOf(key.get());
    detail = NewString(isolate, curve == nullptr ? "" : curve->web);
  } else if (kind == Kind::kRsa) {
    detail = v8::Integer::New(isolate, EVP_PKEY_get_bits(key.get()));
    exponent = Buffer(isolate, BignumParam(key.get(), OSSL_PKEY_PARAM_RSA_E));
  }
  if (kind == Kind::kOther) {
    v8::Local<v8::Value> undefined = v8::Undefined(isolate);
    return info.GetReturnValue().Set(NewArray(context, {NewString(isolate, ""), undefined, undefined, undefined, undefined}));
  }
  std::optional<std::string> normal = private_key ? PrivateDer(key.get()) : PublicDer(key.get());
  std::optional<std::string> public_der = PublicDer(key.get());
  if (!normal || !public_der) return Refuse(isolate, "encode");
  info.GetReturnValue().Set(NewArray(context, {NewString(isolate, KindName(kind)), detail, Buffer(isolate, normal),
                                               Buffer(isolate, public_der), exponent}));
}

void PkeyFromRaw(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const std::string kind = ToUtf8(isolate, info[0]);
  Bytes raw;
  if (!BytesOf(info[2], &raw)) return Refuse(isolate, "raw");
  Pkey key;
  if (kind == "ed25519" || kind == "x25519") {
    key.reset(EVP_PKEY_new_raw_public_key(kind == "ed25519" ? EVP_PKEY_ED25519 : EVP_PKEY_X25519, nullptr, raw.data,
                                          raw.size));
  } else if (const Curve* curve = CurveByWebName(ToUtf8(isolate, info[1])); kind == "ec" && curve != nullptr) {
    std::unique_ptr<OSSL_PARAM_BLD, PkeyFree> build(OSSL_PARAM_BLD_new());
    std::unique_ptr<OSSL_PARAM, PkeyFree> params;
    if (build != nullptr &&
        OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, raw.data, raw.size) == 1) {
      params.reset(OSSL_PARAM_BLD_to_param(build.get()));
    }
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* made = nullptr;
    if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
        EVP_PKEY_fromdata(ctx.get(), &made, EVP_PKEY_PUBLIC_KEY, params.get()) == 1) {
      key.reset(made);
    }
  }
  if (key != nullptr && kind == "ec") {  // on the curve, not the point at infinity
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) key.reset();
  }
  std::optional<std::string> der = key ? PublicDer(key.get()) : std::nullopt;
  if (!der) return Refuse(isolate, "raw");
  info.GetReturnValue().Set(Buffer(isolate, der));
}

// parts[i] as bytes, or nullopt when it is undefined.
std::optional<std::string> Part(v8::Local<v8::Context> context, v8::Local<v8::Array> parts, uint32_t i) {
  v8::Local<v8::Value> value;
  Bytes bytes;
  if (!parts->Get(context, i).ToLocal(&value) || !BytesOf(value, &bytes)) return std::nullopt;
  return std::string(bytes.view());
}

bool PushNumber(OSSL_PARAM_BLD* build, std::vector<Bignum>* keep, const char* name, const std::optional<std::string>& bytes) {
  if (!bytes.has_value()) return true;
  Bignum number(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()), static_cast<int>(bytes->size()), nullptr));
  if (number == nullptr || OSSL_PARAM_BLD_push_BN(build, name, number.get()) != 1) return false;
  keep->push_back(std::move(number));
  return true;
}

// The key the parts make; *private_key says whether they hold its private half.
Pkey FromComponents(v8::Isolate* isolate, absl::string_view kind, v8::Local<v8::Value> curve_name,
                    v8::Local<v8::Array> parts, bool* private_key) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (kind == "ed25519" || kind == "x25519") {
    const int type = kind == "ed25519" ? EVP_PKEY_ED25519 : EVP_PKEY_X25519;
    std::optional<std::string> x = Part(context, parts, 0), d = Part(context, parts, 1);
    if (!x) return nullptr;
    *private_key = d.has_value();
    auto bytes = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
    if (!d) return Pkey(EVP_PKEY_new_raw_public_key(type, nullptr, bytes(*x), x->size()));
    Pkey key(EVP_PKEY_new_raw_private_key(type, nullptr, bytes(*d), d->size()));
    if (key == nullptr || RawKey(key.get(), false) != x) return nullptr;
    return key;
  }
  std::unique_ptr<OSSL_PARAM_BLD, PkeyFree> build(OSSL_PARAM_BLD_new());
  std::vector<Bignum> keep;  // the builder refers to these until OSSL_PARAM_BLD_to_param
  std::string point;
  const char* type = nullptr;
  if (build == nullptr) return nullptr;
  if (kind == "rsa") {
    type = "RSA";
    static constexpr std::array<const char*, 8> kNames = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    std::array<std::optional<std::string>, 8> values;
    for (uint32_t i = 0; i < kNames.size(); ++i) values[i] = Part(context, parts, i);
    if (!values[0] || !values[1] || values[0]->size() > kMaxRsaBits / 8 || values[1]->size() > kMaxRsaExponentBits / 8) {
      return nullptr;
    }
    *private_key = values[2].has_value();
    // A private key needs its factors and CRT values here: PKCS#8, in which keys are kept, cannot
    // hold one without them (Convex keeps such keys in memory; here they are refused).
    const bool factors = *private_key && values[3] && values[4];
    const bool crt = factors && values[5] && values[6] && values[7];
    if (*private_key && !crt) return nullptr;
    for (uint32_t i = 0; i < kNames.size(); ++i) {
      if ((i == 3 || i == 4) && !factors) continue;
      if (i >= 5 && !crt) continue;
      if (!PushNumber(build.get(), &keep, kNames[i], values[i])) return nullptr;
    }
  } else if (kind == "ec") {
    type = "EC";
    const Curve* curve = CurveByWebName(ToUtf8(isolate, curve_name));
    std::optional<std::string> x = Part(context, parts, 0), y = Part(context, parts, 1), d = Part(context, parts, 2);
    if (curve == nullptr || !x || !y || x->size() != curve->bytes || y->size() != curve->bytes) return nullptr;
    point = "\x04" + *x + *y;
    if (OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->openssl, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
      return nullptr;
    }
    *private_key = d.has_value();
    if (*private_key && (d->size() != curve->bytes || !PushNumber(build.get(), &keep, OSSL_PKEY_PARAM_PRIV_KEY, d))) {
      return nullptr;
    }
  } else {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, PkeyFree> params(OSSL_PARAM_BLD_to_param(build.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, *private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  Pkey made(key);
  if (kind == "ec") {  // the point on the curve and, with d, the pair consistent (fromdata checks neither)
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, made.get(), nullptr));
    if (check == nullptr || (*private_key ? EVP_PKEY_check(check.get()) : EVP_PKEY_public_check(check.get())) != 1) {
      return nullptr;
    }
  }
  return made;
}

void PkeyFromComponents(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!info[2]->IsArray()) return Refuse(isolate, "components");
  const std::string kind = ToUtf8(isolate, info[0]);
  bool private_key = false;
  Pkey key = FromComponents(isolate, kind, info[1], info[2].As<v8::Array>(), &private_key);
  if (key == nullptr) return Refuse(isolate, "components");
  std::optional<std::string> der = private_key ? PrivateDer(key.get()) : PublicDer(key.get());
  if (!der) return Refuse(isolate, "components");
  info.GetReturnValue().Set(Buffer(isolate, der));
}

void PkeyComponents(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  Bytes der;
  if (!BytesOf(info[0], &der)) return Refuse(isolate, "components");
  const bool private_key = info[1]->IsTrue();
  Pkey key = private_key ? ParsePrivate(der) : ParsePublic(der);
  if (key == nullptr) return Refuse(isolate, "components");
  std::vector<v8::Local<v8::Value>> parts;
  auto add = [&](const std::optional<std::string>& bytes) { parts.push_back(Buffer(isolate, bytes)); };
  switch (KindOf(key.get())) {
    case Kind::kRsa:
      for (const char* name : {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E}) add(BignumParam(key.get(), name));
      if (private_key) {
        for (const char* name : {OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
                                 OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
                                 OSSL_PKEY_PARAM_RSA_COEFFICIENT1}) {
          add(BignumParam(key.get(), name));
        }
      }
      break;
    case Kind::kEc: {
      const Curve* curve = CurveOf(key.get());
      if (curve == nullptr) return Refuse(isolate, "components");
      add(BignumParam(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, curve->bytes));
      add(BignumParam(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, curve->bytes));
      if (private_key) add(BignumParam(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, curve->bytes));
      break;
    }
    case Kind::kEd25519:
    case Kind::kX25519:
      add(RawKey(key.get(), false));
      if (private_key) add(RawKey(key.get(), true));
      break;
    case Kind::kOther:
      return Refuse(isolate, "components");
  }
  info.GetReturnValue().Set(NewArray(context, parts));
}

// Sets up a one-shot signature or verification for `scheme` on ctx.
bool InitSignature(EVP_MD_CTX* ctx, bool sign, absl::string_view scheme, EVP_PKEY* key, const EVP_MD* md,
                   uint32_t salt_length) {
  const bool ed25519 = scheme == "ed25519";
  if (!ed25519 && md == nullptr) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* digest = ed25519 ? nullptr : md;
  if ((sign ? EVP_DigestSignInit(ctx, &pctx, digest, nullptr, key) : EVP_DigestVerifyInit(ctx, &pctx, digest, nullptr, key)) != 1) {
    return false;
  }
  if (scheme == "pkcs1") return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  if (scheme == "pss") {
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(salt_length)) == 1;
  }
  return true;
}

bool SchemeFits(absl::string_view scheme, Kind kind) {
  return ((scheme == "pkcs1" || scheme == "pss") && kind == Kind::kRsa) || (scheme == "ecdsa" && kind == Kind::kEc) ||
         (scheme == "ed25519" && kind == Kind::kEd25519);
}

void PkeySign(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const std::string scheme = ToUtf8(isolate, info[0]);
  Bytes der, data;
  if (!info[0]->IsString() || !info[2]->IsString() || !BytesOf(info[1], &der) || !BytesOf(info[3], &data) ||
      !info[4]->IsUint32() || info[4].As<v8::Uint32>()->Value() > INT32_MAX) {
    return Refuse(isolate, "sign");
  }
  Pkey key = ParsePrivate(der);
  MdCtx ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (key == nullptr || !SchemeFits(scheme, KindOf(key.get())) || ctx == nullptr ||
      !InitSignature(ctx.get(), true, scheme, key.get(), DigestByName(ToUtf8(isolate, info[2])),
                     info[4].As<v8::Uint32>()->Value()) ||
      EVP_DigestSign(ctx.get(), nullptr, &length, data.data, data.size) != 1) {
    return Refuse(isolate, "sign");
  }
  std::string signature(length, '\0');
  auto* out = reinterpret_cast<unsigned char*>(signature.data());
  if (EVP_DigestSign(ctx.get(), out, &length, data.data, data.size) != 1) return Refuse(isolate, "sign");
  signature.resize(length);
  if (scheme == "ecdsa") {  // DER to r || s, each as wide as the curve's order
    const Curve* curve = CurveOf(key.get());
    const unsigned char* cursor = out;
    std::unique_ptr<ECDSA_SIG, PkeyFree> parsed(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(length)));
    if (curve == nullptr || parsed == nullptr) return Refuse(isolate, "sign");
    std::string fixed(2 * curve->bytes, '\0');
    auto* fixed_out = reinterpret_cast<unsigned char*>(fixed.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), fixed_out, static_cast<int>(curve->bytes)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), fixed_out + curve->bytes, static_cast<int>(curve->bytes)) < 0) {
      return Refuse(isolate, "sign");
    }
    signature = std::move(fixed);
  }
  info.GetReturnValue().Set(NewArrayBuffer(isolate, signature));
}

void PkeyVerify(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const std::string scheme = ToUtf8(isolate, info[0]);
  Bytes der, signature, data;
  if (!info[0]->IsString() || !info[2]->IsString() || !BytesOf(info[1], &der) || !BytesOf(info[3], &signature) ||
      !BytesOf(info[4], &data) || !info[5]->IsUint32() || info[5].As<v8::Uint32>()->Value() > INT32_MAX) {
    return Refuse(isolate, "verify");
  }
  Pkey key = ParsePublic(der);
  if (key == nullptr || !SchemeFits(scheme, KindOf(key.get()))) return Refuse(isolate, "verify");
  std::string der_signature;
  if (scheme == "ecdsa") {  // r || s to DER; a signature of the wrong length verifies nothing
    const Curve* curve = CurveOf(key.get());
    if (curve == nullptr) return Refuse(isolate, "verify");
    if (signature.size != 2 * curve->bytes) return info.GetReturnValue().Set(false);
    std::unique_ptr<ECDSA_SIG, PkeyFree> parsed(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(signature.data, static_cast<int>(curve->bytes), nullptr);
    BIGNUM* s = BN_bin2bn(signature.data + curve->bytes, static_cast<int>(curve->bytes), nullptr);
    if (parsed == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(parsed.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return Refuse(isolate, "verify");
    }
    unsigned char* out = nullptr;
    int length = i2d_ECDSA_SIG(parsed.get(), &out);
    if (length <= 0) return Refuse(isolate, "verify");
    der_signature.assign(reinterpret_cast<char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    signature = Bytes{reinterpret_cast<const unsigned char*>(der_signature.data()), der_signature.size()};
  }
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || !InitSignature(ctx.get(), false, scheme, key.get(), DigestByName(ToUtf8(isolate, info[2])),
                                       info[5].As<v8::Uint32>()->Value())) {
    return Refuse(isolate, "verify");
  }
  info.GetReturnValue().Set(EVP_DigestVerify(ctx.get(), signature.data, signature.size, data.data, data.size) == 1);
}

void RsaOaep(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const bool encrypt = info[0]->IsTrue();
  const EVP_MD* md = info[2]->IsString() ? DigestByName(ToUtf8(isolate, info[2])) : nullptr;
  Bytes der, label, data;
  const bool has_label = BytesOf(info[3], &label);
  if (md == nullptr || !BytesOf(info[1], &der) || !BytesOf(info[4], &data)) return Refuse(isolate, "oaep");
  Pkey key = encrypt ? ParsePublic(der) : ParsePrivate(der);
  if (key == nullptr || KindOf(key.get()) != Kind::kRsa) return Refuse(isolate, "oaep");
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (ctx == nullptr || (encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1) {
    return Refuse(isolate, "oaep");
  }
  if (has_label && label.size > 0) {
    void* copy = OPENSSL_memdup(label.data, label.size);
    if (copy == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, static_cast<int>(label.size)) != 1) {
      OPENSSL_free(copy);
      return Refuse(isolate, "oaep");
    }
  }
  auto run = encrypt ? EVP_PKEY_encrypt : EVP_PKEY_decrypt;
  size_t length = 0;
  if (run(ctx.get(), nullptr, &length, data.data, data.size) != 1) return Refuse(isolate, "oaep");
  std::string out(length, '\0');
  if (run(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length, data.data, data.size) != 1) {
    return Refuse(isolate, "oaep");
  }
  out.resize(length);
  info.GetReturnValue().Set(NewArrayBuffer(isolate, out));
}

void PkeyDerive(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  Bytes private_der, public_der;
  if (!BytesOf(info[0], &private_der) || !BytesOf(info[1], &public_der)) return Refuse(isolate, "derive");
  Pkey mine = ParsePrivate(private_der);
  Pkey theirs = ParsePublic(public_der);
  if (mine == nullptr || theirs == nullptr) return Refuse(isolate, "derive");
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.get(), nullptr));
  size_t length = 0;
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &length) != 1) {
    return Refuse(isolate, "derive");
  }
  std::string secret(length, '\0');
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &length) != 1) {
    return Refuse(isolate, "derive");
  }
  secret.resize(length);
  info.GetReturnValue().Set(NewArrayBuffer(isolate, secret));
}

}  // namespace

absl::Span<const NativeFunction> PkeyBindings() {
  static constexpr NativeFunction kFunctions[] = {
      {"pkeyGenerate", PkeyGenerate},   {"pkeyDescribe", PkeyDescribe},     {"pkeyFromRaw", PkeyFromRaw},
      {"pkeyFromComponents", PkeyFromComponents}, {"pkeyComponents", PkeyComponents}, {"pkeySign", PkeySign},
      {"pkeyVerify", PkeyVerify},       {"rsaOaep", RsaOaep},               {"pkeyDerive", PkeyDerive}};
  return kFunctions;
}

void WarmUpPkeyBindings() {
  // Generating, encoding, parsing, signing and deriving once per kind loads every implementation
  // (and seeds OpenSSL's random generator) while files can still be opened.
  auto generate = [](const char* type, const char* group, int rsa_bits) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1) return Pkey();
    if (group != nullptr) EVP_PKEY_CTX_set_group_name(ctx.get(), group);
    if (rsa_bits > 0) EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits);
    EVP_PKEY_generate(ctx.get(), &key);
    return Pkey(key);
  };
  std::vector<Pkey> keys;
  keys.push_back(generate("RSA", nullptr, 1024));
  for (const Curve& curve : kCurves) keys.push_back(generate("EC", curve.openssl, 0));
  keys.push_back(generate("ED25519", nullptr, 0));
  keys.push_back(generate("X25519", nullptr, 0));
  static const unsigned char kData[16] = {};
  for (const Pkey& key : keys) {
    if (key == nullptr) continue;
    std::optional<std::string> private_der = PrivateDer(key.get());
    std::optional<std::string> public_der = PublicDer(key.get());
    if (private_der) ParsePrivate(Bytes{reinterpret_cast<const unsigned char*>(private_der->data()), private_der->size()});
    if (public_der) ParsePublic(Bytes{reinterpret_cast<const unsigned char*>(public_der->data()), public_der->size()});
    const Kind kind = KindOf(key.get());
    for (const char* scheme : {"pkcs1", "pss", "ecdsa", "ed25519"}) {
      if (!SchemeFits(scheme, kind)) continue;
      MdCtx ctx(EVP_MD_CTX_new());
      size_t length = 0;
      if (ctx != nullptr && InitSignature(ctx.get(), true, scheme, key.get(), EVP_sha256(), 32)) {
        EVP_DigestSign(ctx.get(), nullptr, &length, kData, sizeof(kData));
        std::string signature(length, '\0');
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, kData, sizeof(kData));
      }
    }
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    size_t length = 0;
    if (ctx == nullptr) continue;
    if (kind == Kind::kRsa && EVP_PKEY_encrypt_init(ctx.get()) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1) {
      EVP_PKEY_encrypt(ctx.get(), nullptr, &length, kData, sizeof(kData));
    }
    if ((kind == Kind::kEc || kind == Kind::kX25519) && EVP_PKEY_derive_init(ctx.get()) == 1 &&
        EVP_PKEY_derive_set_peer(ctx.get(), key.get()) == 1) {
      EVP_PKEY_derive(ctx.get(), nullptr, &length);
    }
    EVP_PKEY_check(ctx.get());
  }
}

}  // namespace isobar::worker
