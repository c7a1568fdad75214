// Prelude fragment: crypto.getRandomValues, crypto.randomUUID and crypto.subtle. Random bytes
// come from the kernel in actions and from the invocation's seeded generator in queries and mutations
// (determinism.js swaps `fillRandom`).

let fillRandom = (bytes) => bytes.set(new Uint8Array(native.randomBytes(bytes.length)));

const kIntegerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array];
const kDigests = { "SHA-1": "SHA-1", "SHA-256": "SHA-256", "SHA-384": "SHA-384", "SHA-512": "SHA-512" };

// crypto.subtle: digest, and the symmetric algorithms (HMAC, AES-GCM/CBC/CTR, PBKDF2, HKDF) over
// native bindings (worker/crypto_bindings.h). A CryptoKey keeps its bytes in a private field.
const webCrypto = once(() => {
  const kHashes = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const kBlockBits = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  const kAlgorithms = ["HMAC", "AES-GCM", "AES-CBC", "AES-CTR", "PBKDF2", "HKDF"];
  const kUsages = {
    HMAC: ["sign", "verify"],
    "AES-GCM": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    "AES-CBC": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    "AES-CTR": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    PBKDF2: ["deriveBits", "deriveKey"],
    HKDF: ["deriveBits", "deriveKey"],
  };
  const canonical = (name, known, what = "algorithm") => {
    const found = known.find((k) => k.toUpperCase() === String(name).toUpperCase());
    if (found === undefined) throw domException(`Unrecognized or invalid ${what} ${name}`, "NotSupportedError");
    return found;
  };
  const algorithmName = (algorithm) =>
    canonical(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm, kAlgorithms);
  const hashName = (hash) => canonical(typeof hash === "object" && hash !== null ? hash.name : hash, kHashes, "hash");
  const copy = (data, what) => bytesOf(data, what).slice();
  let keyBytes;
  class CryptoKey {
    #bytes;
    constructor(secret, type, extractable, algorithm, usages, bytes) {
      if (secret !== kCryptoSecret) throw new TypeError("Illegal constructor");
      Object.defineProperties(this, {
        type: { value: type, enumerable: true },
        extractable: { value: extractable, enumerable: true },
        algorithm: { value: Object.freeze(algorithm), enumerable: true },
        usages: { value: Object.freeze([...usages]), enumerable: true },
      });
      this.#bytes = bytes;
    }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
    static {
      keyBytes = (key) => key.#bytes;
    }
  }
  const makeKey = (algorithm, extractable, usages, bytes) => {
    const allowed = kUsages[algorithm.name];
    for (const usage of usages) {
      if (!allowed.includes(usage)) throw domException(`Unsupported key usage for a ${algorithm.name} key`, "SyntaxError");
    }
    if (usages.length === 0) throw domException("Usages cannot be empty when creating a key.", "SyntaxError");
    return new CryptoKey(kCryptoSecret, "secret", Boolean(extractable), algorithm, usages, bytes);
  };
  const keyAlgorithm = (name, algorithm, bytes) => {
    if (name === "HMAC") {
      const length = algorithm.length === undefined ? bytes.length * 8 : Number(algorithm.length);
      if (length === 0 || length > bytes.length * 8) throw domException("Invalid key length", "DataError");
      return { name, hash: { name: hashName(algorithm.hash) }, length };
    }
    if (name.startsWith("AES-")) {
      if (![16, 24, 32].includes(bytes.length)) {
        throw domException("Invalid key length", "DataError");
      }
      return { name, length: bytes.length * 8 };
    }
    return { name };
  };
  const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const fromBase64url = (text) =>
    Uint8Array.from(atob(String(text).replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const jwkAlg = (algorithm) =>
    algorithm.name === "HMAC" ? `HS${algorithm.hash.name.slice(4)}` : `A${algorithm.length}${algorithm.name.slice(4)}`;
  const checkUsage = (key, usage) => {
    if (!(key instanceof CryptoKey)) throw new TypeError("Argument 2 must be a CryptoKey");
    if (!key.usages.includes(usage)) throw domException(`CryptoKey does not have "${usage}" usage`, "InvalidAccessError");
  };
  const checkAlgorithm = (key, name) => {
    if (key.algorithm.name !== name) throw domException("invalid algorithm for key", "InvalidAccessError");
  };
  const aes = (algorithm, key, data, encrypt) => {
    const name = algorithmName(algorithm);
    checkAlgorithm(key, name);
    const mode = name.slice(4).toLowerCase();
    const iv = copy(mode === "ctr" ? algorithm.counter : algorithm.iv, mode === "ctr" ? "counter" : "iv");
    const additional = algorithm.additionalData === undefined ? new Uint8Array(0) : copy(algorithm.additionalData);
    const tagBits = mode === "gcm" ? (algorithm.tagLength === undefined ? 128 : Number(algorithm.tagLength)) : 0;
    if (mode === "gcm" && ![32, 64, 96, 104, 112, 120, 128].includes(tagBits)) {
      throw domException(`${tagBits} is not a valid AES-GCM tag length`, "OperationError");
    }
    if (mode === "gcm" && !encrypt && data.length < tagBits / 8) {
      throw domException("The provided data is too small.", "OperationError");
    }
    if (mode !== "gcm" && iv.length !== 16) throw domException(`The ${mode === "ctr" ? "counter" : "iv"} must be 16 bytes`, "OperationError");
    try {
      return native.aes(mode, encrypt, keyBytes(key), iv, data, additional, tagBits / 8);
    } catch {
      throw domException("Decryption failed", "OperationError");
    }
  };
  const deriveBits = (algorithm, key, length) => {
    const name = algorithmName(algorithm);
    checkAlgorithm(key, name);
    if (length === null || length === undefined) throw domException("length cannot be null", "OperationError");
    if (length % 8 !== 0) throw domException("length must be a multiple of 8", "OperationError");
    const hash = hashName(algorithm.hash);
    if (name === "PBKDF2") {
      if (Number(algorithm.iterations) === 0) throw domException("iterations cannot be zero", "OperationError");
      try {
        return native.pbkdf2(hash, keyBytes(key), copy(algorithm.salt, "salt"), Number(algorithm.iterations) >>> 0, length / 8);
      } catch (e) {
        throw domException(e.message, "OperationError");
      }
    }
    if (name === "HKDF") {
      return native.hkdf(hash, keyBytes(key), copy(algorithm.salt, "salt"), copy(algorithm.info, "info"), length / 8);
    }
    throw domException(`${name} cannot derive bits`, "NotSupportedError");
  };
  const generatedBytes = (count) => {
    if (deterministicCrypto) {
      throw new Error("Can't use cryptographic randomness in queries and mutations. Please consider using an action. " +
        "See https://docs.convex.dev/functions/actions for more details.");
    }
    return new Uint8Array(native.randomBytes(count));
  };
  const subtle = {
    async digest(algorithm, data) {
      const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
      if (!kHashes.includes(name)) throw domException(`Unrecognized algorithm name: ${name}`, "NotSupportedError");
      return native.digest(name, copy(data, "data"));
    },
    async importKey(format, keyData, algorithm, extractable, usages) {
      const name = algorithmName(algorithm);
      let bytes;
      if (format === "raw") {
        bytes = copy(keyData, "keyData");
      } else if (format === "jwk" && (name === "HMAC" || name.startsWith("AES-"))) {
        if (keyData === null || typeof keyData !== "object" || keyData.kty !== "oct") {
          throw domException("The JWK's kty must be oct", "DataError");
        }
        bytes = fromBase64url(keyData.k);
      } else {
        throw domException(`Unsupported key format ${format} for ${name}`, "NotSupportedError");
      }
      if ((name === "PBKDF2" || name === "HKDF") && extractable) {
        throw domException(`${name} keys cannot be extractable`, "SyntaxError");
      }
      return makeKey(keyAlgorithm(name, typeof algorithm === "object" ? algorithm : {}, bytes), extractable, usages, bytes);
    },
    async exportKey(format, key) {
      if (!(key instanceof CryptoKey)) throw new TypeError("Argument 2 must be a CryptoKey");
      if (!key.extractable) throw domException("key is not extractable", "InvalidAccessError");
      const bytes = keyBytes(key);
      if (format === "raw") return bytes.slice().buffer;
      if (format === "jwk") {
        return { kty: "oct", key_ops: [...key.usages], alg: jwkAlg(key.algorithm), ext: true, k: base64url(bytes) };
      }
      throw domException(`Unsupported export format ${format}`, "NotSupportedError");
    },
    async sign(algorithm, key, data) {
      checkUsage(key, "sign");
      checkAlgorithm(key, algorithmName(algorithm));
      return native.hmac(key.algorithm.hash.name, keyBytes(key), copy(data, "data"));
    },
    async verify(algorithm, key, signature, data) {
      checkUsage(key, "verify");
      checkAlgorithm(key, algorithmName(algorithm));
      const expected = new Uint8Array(native.hmac(key.algorithm.hash.name, keyBytes(key), copy(data, "data")));
      const given = copy(signature, "signature");
      if (given.length !== expected.length) return false;
      let difference = 0;
      for (let i = 0; i < given.length; i++) difference |= given[i] ^ expected[i];
      return difference === 0;
    },
    async encrypt(algorithm, key, data) {
      checkUsage(key, "encrypt");
      return aes(algorithm, key, copy(data, "data"), true);
    },
    async decrypt(algorithm, key, data) {
      checkUsage(key, "decrypt");
      return aes(algorithm, key, copy(data, "data"), false);
    },
    async deriveBits(algorithm, key, length) {
      checkUsage(key, "deriveBits");
      return deriveBits(algorithm, key, length);
    },
    async deriveKey(algorithm, key, derivedAlgorithm, extractable, usages) {
      checkUsage(key, "deriveKey");
      const name = algorithmName(derivedAlgorithm);
      const length = name === "HMAC"
        ? (derivedAlgorithm.length ?? kBlockBits[hashName(derivedAlgorithm.hash)])
        : Number(derivedAlgorithm.length);
      const bytes = new Uint8Array(deriveBits(algorithm, key, length));
      return makeKey(keyAlgorithm(name, derivedAlgorithm, bytes), extractable, usages, bytes);
    },
    async generateKey(algorithm, extractable, usages) {
      const name = algorithmName(algorithm);
      let bytes;
      if (name === "HMAC") {
        const bits = algorithm.length ?? kBlockBits[hashName(algorithm.hash)];
        bytes = generatedBytes(Math.ceil(bits / 8));
      } else if (name.startsWith("AES-")) {
        if (![128, 192, 256].includes(Number(algorithm.length))) {
          throw domException("AES key length must be 128, 192 or 256 bits", "OperationError");
        }
        bytes = generatedBytes(Number(algorithm.length) / 8);
      } else {
        throw domException(`${name} keys cannot be generated`, "NotSupportedError");
      }
      return makeKey(keyAlgorithm(name, algorithm, bytes), extractable, usages, bytes);
    },
  };
  class SubtleCrypto {
    constructor(secret) {
      if (secret !== kCryptoSecret) throw new TypeError("Illegal constructor: SubtleCrypto");
    }
    get [Symbol.toStringTag]() { return "SubtleCrypto"; }
  }
  for (const [name, method] of Object.entries(subtle)) define(SubtleCrypto.prototype, name, method);
  return { CryptoKey, SubtleCrypto, subtle: new SubtleCrypto(kCryptoSecret) };
});
const kCryptoSecret = Symbol("crypto");
let deterministicCrypto = false;  // queries and mutations: no key generation (determinism.js sets it)

class Crypto {
  constructor(secret) {
    if (secret !== kCryptoSecret) throw new TypeError("Illegal constructor: Crypto");
  }
  getRandomValues(array) {
    // Convex's messages.
    if (!kIntegerArrays.some((type) => array instanceof type)) {
      throw domException("The provided ArrayBufferView is not an integer array type", "TypeMismatchError");
    }
    if (array.byteLength > 65536) {
      throw new TypeError(`Byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this ` +
        "API (65536)");
    }
    fillRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  }
  randomUUID() {
    const b = new Uint8Array(16);
    fillRandom(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  get subtle() {
    return webCrypto().subtle;
  }
  get [Symbol.toStringTag]() { return "Crypto"; }
}
const cryptoObject = new Crypto(kCryptoSecret);
define(globalThis, "Crypto", Crypto);
define(globalThis, "crypto", cryptoObject);
defineLazy("CryptoKey", () => webCrypto().CryptoKey);
defineLazy("SubtleCrypto", () => webCrypto().SubtleCrypto);

// performance.now(): milliseconds since the invocation began (frozen in queries and mutations, where
// Date is frozen too).
const performanceObject = Object.freeze({
  now: () => Date.now() - invocationStart,
  get timeOrigin() {
    return invocationStart;
  },
});
let invocationStart = Date.now();
define(globalThis, "performance", performanceObject);
