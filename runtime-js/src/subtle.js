// Prelude fragment: crypto.subtle, as Convex's runtime offers it (udf-runtime 00_crypto.ts over
// ops/subtle_crypto/mod.rs): each method reads its arguments in order, checks the key's usage, then
// dispatches on the algorithm and the key's family. Symmetric algorithms run over
// worker/crypto_bindings.h, asymmetric ones over worker/pkey_bindings.h. Methods are async: an error
// rejects the promise, except Convex's uncatchable "Not implemented" ones.

const importAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (kRsaNames[name]) return keyParams.rsaImport(algorithm, name);
  if (name === "ecdsa" || name === "ecdh") return keyParams.ec(algorithm, name);
  if (name === "hmac") return keyParams.hmac(algorithm);
  if (kAesNames[name]) return { family: "aes", name: kAesNames[name] };
  if (name === "aes-kw") return { family: "aes-kw" };
  if (name === "pbkdf2" || name === "hkdf") return { family: "kdf", name: name.toUpperCase() };
  if (name === "ed25519" || name === "x25519") return { family: "okp", name: name === "ed25519" ? "Ed25519" : "X25519" };
  throw unrecognized(name);
};

const generateAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (kRsaNames[name]) return keyParams.rsaGenerate(algorithm, name);
  if (name === "ecdsa" || name === "ecdh") return keyParams.ec(algorithm, name);
  if (name === "hmac") return keyParams.hmac(algorithm);
  if (kAesNames[name]) return keyParams.aes(algorithm, name);
  if (name === "aes-kw") return { family: "aes-kw" };
  if (name === "ed25519" || name === "x25519") return { family: "okp", name: name === "ed25519" ? "Ed25519" : "X25519" };
  throw unrecognized(name);
};

const signAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (name === "rsassa-pkcs1-v1_5") return { scheme: "pkcs1" };
  if (name === "rsa-pss") {
    return { scheme: "pss", saltLength: unsigned(member(dictionaryOf(algorithm, "RsaPssParams"), "saltLength"), 32) };
  }
  if (name === "ecdsa") return { scheme: "ecdsa", hash: hashOf(member(dictionaryOf(algorithm, "EcdsaParams"), "hash")) };
  if (name === "hmac" || name === "ed25519") return { scheme: name };
  throw wrongAlgorithm();
};

const cipherAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (name === "rsa-oaep") return { name: "RSA-OAEP", label: optionalBuffer(dictionaryOf(algorithm, "RsaOaepParams").label) };
  if (name === "aes-ctr") {
    const dict = dictionaryOf(algorithm, "AesCtrParams");
    return { name: "AES-CTR", counter: bufferOf(member(dict, "counter")), length: unsigned(member(dict, "length"), 8) };
  }
  if (name === "aes-cbc") return { name: "AES-CBC", iv: bufferOf(member(dictionaryOf(algorithm, "AesCbcParams"), "iv")) };
  if (name === "aes-gcm") {
    const dict = dictionaryOf(algorithm, "AesGcmParams");
    return { name: "AES-GCM", iv: bufferOf(member(dict, "iv")), additionalData: optionalBuffer(dict.additionalData),
      tagLength: optionalUnsigned(dict.tagLength, 8) };
  }
  throw wrongAlgorithm();
};

const deriveAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (name === "pbkdf2") {
    const dict = dictionaryOf(algorithm, "Pbkdf2Params");
    return { name: "PBKDF2", hash: hashOf(member(dict, "hash")), iterations: unsigned(member(dict, "iterations"), 32),
      salt: bufferOf(member(dict, "salt")) };
  }
  if (name === "ecdh") {
    const dict = dictionaryOf(algorithm, "EcdhKeyDeriveParams");
    if (dict.public === undefined) throw new TypeError("ECDH algorithm requires 'public' parameter");
    return { name: "ECDH", public: dict.public, publicMaterial: keyMaterial(dict.public) };
  }
  if (name === "hkdf") {
    const dict = dictionaryOf(algorithm, "HkdfParams");
    return { name: "HKDF", hash: hashOf(member(dict, "hash")), salt: bufferOf(member(dict, "salt")),
      info: bufferOf(member(dict, "info")) };
  }
  if (name === "x25519") return { name: "X25519" };
  throw wrongAlgorithm();
};

const derivedKeyAlgorithmOf = (algorithm) => {
  const name = algorithmNameOf(algorithm);
  if (name === "hmac") return keyParams.hmac(algorithm);
  if (kAesNames[name]) return keyParams.aes(algorithm, name);
  if (name === "aes-kw") return { family: "aes-kw" };
  throw unrecognized(name);
};

const lengthOf = (length) => (length === undefined || length === null ? undefined : unsigned(length, 53));

function checkUsage(key, usage) {
  if (!keyMaterial(key).usages.includes(usage)) throw domException(`CryptoKey does not have "${usage}" usage`, "InvalidAccessError");
}

function deriveSecret(operation, params, key, material, length) {
  if (params.name === "X25519") notImplementedIn(operation, "X25519");
  if (params.name === "ECDH") return deriveEcdh(params, key, material, length);
  if (params.name === "PBKDF2" && params.iterations === 0) throw domException("iterations cannot be zero", "OperationError");
  if (length === undefined) throw domException("length cannot be null", "OperationError");
  if (length % 8 !== 0) throw domException("length must be a multiple of 8", "OperationError");
  if (params.name === "PBKDF2" && length > 8 * 65536) {
    throw domException("cannot generate more than 524288 bits", "OperationError");
  }
  if (material.family !== params.name.toLowerCase()) throw domException("Key algorithm mismatch", "InvalidAccessError");
  if (params.name === "HKDF") {
    if (length / 8 > 255 * kHashBytes[params.hash]) {
      throw domException("requested length exceeds the maximum for HKDF", "OperationError");
    }
    return native.hkdf(params.hash, material.bytes, params.salt, params.info, length / 8);
  }
  try {
    return native.pbkdf2(params.hash, material.bytes, params.salt, params.iterations, length / 8);
  } catch (e) {
    throw domException(e.message, "OperationError");  // more work than one call may do (crypto_bindings.h)
  }
}

function deriveEcdh(params, key, material, length) {
  const peer = params.publicMaterial;
  if (material.family !== "ec" || material.type !== "private") {
    throw domException("Base key must be an EC private key", "InvalidAccessError");
  }
  if (material.algorithm.name !== "ECDH") throw domException("Base key algorithm must be ECDH", "InvalidAccessError");
  if (params.publicMaterial.family !== "ec" || peer.type !== "public") {
    throw domException("Public key must be an EC public key", "InvalidAccessError");
  }
  if (peer.algorithm.name !== "ECDH") throw domException("Public key algorithm must be ECDH", "InvalidAccessError");
  if (peer.algorithm.namedCurve !== material.algorithm.namedCurve) {
    throw domException("Private and public keys must use the same curve", "InvalidAccessError");
  }
  const secret = u8(nativeOr(() => domException("ECDH key derivation failed", "OperationError"), () =>
    native.pkeyDerive(material.bytes, params.publicMaterial.bytes)));
  if (length === undefined) return secret.buffer;
  if (length % 8 !== 0) throw domException("length must be a multiple of 8", "OperationError");
  if (length > secret.length * 8) {
    throw domException(`requested length ${length} exceeds shared secret length ${secret.length * 8}`, "OperationError");
  }
  return secret.slice(0, length / 8).buffer;
}

// AES-CTR counts in the low `length` bits of the counter block and wraps there, as Convex's does.
function aesCtr(material, params, data) {
  if (params.counter.length !== 16) throw domException("counter must be 16 bytes", "OperationError");
  if (params.length === 0 || params.length > 128) throw domException("invalid counter length", "OperationError");
  if (params.length < 53 && data.length > 16 * 2 ** params.length) {
    throw domException("too much data for counter length", "OperationError");
  }
  const bit = 1n << BigInt(params.length);
  let counter = 0n;
  for (const byte of params.counter) counter = (counter << 8n) | BigInt(byte);
  const blocksBeforeWrap = bit - (counter & (bit - 1n));
  const run = (block, bytes) => {
    const iv = new Uint8Array(16);
    for (let i = 15, value = block; i >= 0; i--, value >>= 8n) iv[i] = Number(value & 0xffn);
    return u8(native.aes("ctr", true, material.bytes, iv, bytes, new Uint8Array(0), 0));
  };
  if (blocksBeforeWrap * 16n >= BigInt(data.length)) return run(counter, data).buffer;
  const split = Number(blocksBeforeWrap) * 16;
  const out = new Uint8Array(data.length);
  out.set(run(counter, data.subarray(0, split)));
  out.set(run(counter & ~(bit - 1n), data.subarray(split)), split);
  return out.buffer;
}

function aesCipher(encrypt, material, key, params, data) {
  if (material.family !== "aes" || material.algorithm.name !== params.name) throw wrongAlgorithm();
  if (params.name === "AES-CTR") return aesCtr(material, params, data);
  if (params.name === "AES-CBC") {
    if (params.iv.length !== 16) throw domException("iv must be 16 bytes", "OperationError");
    return nativeOr(() => domException("invalid ciphertext", "OperationError"), () =>
      native.aes("cbc", encrypt, material.bytes, params.iv, data, new Uint8Array(0), 0));
  }
  if (params.tagLength !== undefined && params.tagLength !== 128) {
    throw domException("tag length must be 128 bits", "NotSupportedError");
  }
  if (!encrypt && data.length < 16) throw domException("The provided data is too small.", "OperationError");
  if (params.iv.length !== 12) throw domException("AES-GCM IV must be 96 bits", "NotSupportedError");
  return nativeOr(() => domException("Decryption failed", "OperationError"), () =>
    native.aes("gcm", encrypt, material.bytes, params.iv, data, params.additionalData ?? new Uint8Array(0), 16));
}

function rsaOaep(encrypt, material, key, params, data) {
  if (material.family !== "rsa" || material.type !== (encrypt ? "public" : "private")) throw wrongAlgorithm();
  if (encrypt) requireRandomness();
  if (material.algorithm.name !== "RSA-OAEP") throw wrongAlgorithm();
  return nativeOr(() => domException(`OAEP ${encrypt ? "encryption" : "decryption"} failed`, "OperationError"), () =>
    native.rsaOaep(encrypt, material.bytes, material.algorithm.hash.name, params.label, data));
}

// encrypt() and decrypt(): arguments read in order, then the usage, then the algorithm's work.
function cipher(encrypt, algorithm, key, data) {
  const params = cipherAlgorithmOf(algorithm);
  const material = keyMaterial(key);
  const bytes = bufferOf(data);
  checkUsage(key, encrypt ? "encrypt" : "decrypt");
  if (params.name === "RSA-OAEP") return rsaOaep(encrypt, material, key, params, bytes);
  return aesCipher(encrypt, material, key, params, bytes);
}

// Which key family and type a signature scheme needs; the key's algorithm name for RSA.
const kSchemeKeys = {
  pkcs1: ["rsa", "RSASSA-PKCS1-v1_5"], pss: ["rsa", "RSA-PSS"], ecdsa: ["ec", "ECDSA"], ed25519: ["ed25519"],
};

function signature(sign, params, key, material, data, signatureBytes) {
  if (params.scheme === "hmac") {
    if (material.family !== "hmac") throw wrongAlgorithm();
    const mac = u8(native.hmac(material.algorithm.hash.name, material.bytes, data));
    if (sign) return mac.buffer;
    let difference = mac.length ^ signatureBytes.length;
    for (let i = 0; i < mac.length && i < signatureBytes.length; i++) difference |= mac[i] ^ signatureBytes[i];
    return difference === 0;
  }
  const [family, algorithmName] = kSchemeKeys[params.scheme];
  if (material.family !== family || material.type !== (sign ? "private" : "public")) throw wrongAlgorithm();
  if (sign && params.scheme === "ecdsa") requireRandomness();
  if (algorithmName !== undefined && material.algorithm.name !== algorithmName) throw wrongAlgorithm();
  if (sign && params.scheme === "pss") requireRandomness();
  if (params.saltLength > 0x7fffffff) throw domException("invalid saltLength", "OperationError");
  const hash = params.scheme === "ecdsa" ? params.hash : material.algorithm.hash?.name ?? "SHA-256";
  const what = params.scheme === "ecdsa" ? "ECDSA" : "RSA";
  if (sign) {
    return nativeOr(() => domException(`${what} signing failed`, "OperationError"), () =>
      native.pkeySign(params.scheme, material.bytes, hash, data, params.saltLength ?? 0));
  }
  return nativeOr(() => domException(`${what} verification failed`, "OperationError"), () =>
    native.pkeyVerify(params.scheme, material.bytes, hash, signatureBytes, data, params.saltLength ?? 0));
}

function importWith(params, format, data, extractable, usages) {
  switch (params.family) {
    case "rsa": return importRsa(format, data, params, extractable, usages);
    case "ec": return importEc(format, data, params, extractable, usages);
    case "hmac": return importHmac(format, data, params, extractable, usages);
    case "aes": return importAes(format, data, params.name, extractable, usages);
    case "aes-kw": return notImplementedIn("importKey", "AES-KW");
    case "kdf": return importKdf(format, data, params.name, extractable, usages);
    default: return importOkp(format, data, params.name, extractable, usages);
  }
}

const subtleMethods = {
  async digest(algorithm, data) {
    requireArgumentCount(arguments.length, 2, "digest", "SubtleCrypto");
    const hash = hashOf(algorithm);
    return native.digest(hash, bufferOf(data));
  },
  async importKey(format, keyData, algorithm, extractable, keyUsages) {
    requireArgumentCount(arguments.length, 5, "importKey", "SubtleCrypto");
    variantOf(format, kKeyFormats);
    const raw = keyData instanceof ArrayBuffer || ArrayBuffer.isView(keyData);
    const data = raw ? bufferOf(keyData) : jwkOf(keyData);
    const params = importAlgorithmOf(algorithm);
    const usages = usagesOf(keyUsages);
    if ((format === "jwk") === raw) {
      throw new TypeError(`wrong keyData for format ${format[0].toUpperCase()}${format.slice(1)}`);
    }
    return checkUseful(importWith(params, format, data, Boolean(extractable), usages));
  },
  async exportKey(format, key) {
    requireArgumentCount(arguments.length, 2, "exportKey", "SubtleCrypto");
    variantOf(format, kKeyFormats);
    const material = keyMaterial(key);
    if (!material.extractable) throw domException("key is not extractable", "InvalidAccessError");
    switch (material.family) {
      case "pbkdf2":
      case "hkdf":
        throw domException(`${material.family.toUpperCase()} keys are not exportable`, "NotSupportedError");
      case "hmac":
        return exportSecret(format, key, material, `HS${material.algorithm.hash.name.slice(4)}`);
      case "aes":
        return exportSecret(format, key, material, `A${material.algorithm.length}${material.algorithm.name.slice(4)}`);
      default:
        return exportAsymmetric(format, key, material);
    }
  },
  async generateKey(algorithm, extractable, keyUsages) {
    requireArgumentCount(arguments.length, 3, "generateKey", "SubtleCrypto");
    const params = generateAlgorithmOf(algorithm);
    const usages = usagesOf(keyUsages);
    requireRandomness();
    const exportable = Boolean(extractable);
    switch (params.family) {
      case "aes-kw": return notImplementedIn("generateKey", "AES-KW");
      case "rsa": return checkUsefulPair(generateRsa(params, exportable, usages));
      case "ec": return checkUsefulPair(generateEc(params, exportable, usages));
      case "okp": return checkUsefulPair(generateOkp(params.name, exportable, usages));
      default: return checkUseful(generateSecret(params, exportable, usages));
    }
  },
  async sign(algorithm, key, data) {
    requireArgumentCount(arguments.length, 3, "sign", "SubtleCrypto");
    const params = signAlgorithmOf(algorithm);
    const material = keyMaterial(key);
    const bytes = bufferOf(data);
    checkUsage(key, "sign");
    return signature(true, params, key, material, bytes);
  },
  async verify(algorithm, key, signatureData, data) {
    requireArgumentCount(arguments.length, 4, "verify", "SubtleCrypto");
    const params = signAlgorithmOf(algorithm);
    const material = keyMaterial(key);
    const signatureBytes = bufferOf(signatureData);
    const bytes = bufferOf(data);
    checkUsage(key, "verify");
    return signature(false, params, key, material, bytes, signatureBytes);
  },
  async encrypt(algorithm, key, data) {
    requireArgumentCount(arguments.length, 3, "encrypt", "SubtleCrypto");
    return cipher(true, algorithm, key, data);
  },
  async decrypt(algorithm, key, data) {
    requireArgumentCount(arguments.length, 3, "decrypt", "SubtleCrypto");
    return cipher(false, algorithm, key, data);
  },
  async deriveBits(algorithm, baseKey, length) {
    requireArgumentCount(arguments.length, 3, "deriveBits", "SubtleCrypto");
    const params = deriveAlgorithmOf(algorithm);
    const material = keyMaterial(baseKey);
    const bits = lengthOf(length);
    checkUsage(baseKey, "deriveBits");
    const out = deriveSecret("deriveBits", params, baseKey, material, bits);
    return out instanceof ArrayBuffer ? out : u8(out).buffer;
  },
  async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
    requireArgumentCount(arguments.length, 5, "deriveKey", "SubtleCrypto");
    const params = deriveAlgorithmOf(algorithm);
    const material = keyMaterial(baseKey);
    const derived = derivedKeyAlgorithmOf(derivedKeyType);
    const usages = usagesOf(keyUsages);
    checkUsage(baseKey, "deriveKey");
    if (derived.family === "aes-kw") notImplementedIn("deriveKey", "AES-KW");
    const length = derived.family === "hmac" ? hmacLength(derived) : aesLength(derived);
    const bits = u8(deriveSecret("deriveKey", params, baseKey, material, length));
    const key = derived.family === "hmac"
      ? importHmac("raw", bits, { ...derived, length }, Boolean(extractable), usages)
      : importAes("raw", bits, derived.name, Boolean(extractable), usages);
    return checkUseful(key);
  },
  async wrapKey() {
    notImplemented("wrapKey", "SubtleCrypto");
  },
  async unwrapKey() {
    notImplemented("unwrapKey", "SubtleCrypto");
  },
};

function checkUsefulPair(pair) {
  checkUseful(pair.privateKey);
  return pair;
}

const webCrypto = once(() => {
  class SubtleCrypto {
    constructor(secret) {
      if (secret !== kCryptoSecret) uncatchable("Illegal constructor: SubtleCrypto");
    }
    get [Symbol.toStringTag]() { return "SubtleCrypto"; }
  }
  for (const [name, method] of Object.entries(subtleMethods)) {
    Object.defineProperty(SubtleCrypto.prototype, name, { value: method, writable: true, enumerable: true, configurable: true });
  }
  return { CryptoKey: makeCryptoKeyClass(), SubtleCrypto, subtle: new SubtleCrypto(kCryptoSecret) };
});
