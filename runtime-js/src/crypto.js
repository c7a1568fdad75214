// Prelude fragment: crypto.getRandomValues, crypto.randomUUID and crypto.subtle. Random bytes
// come from the kernel in actions and from the invocation's seeded generator in queries and mutations
// (determinism.js swaps `fillRandom`).

let fillRandom = (bytes) => bytes.set(new Uint8Array(native.randomBytes(bytes.length)));

const kIntegerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array];

// crypto.subtle and CryptoKey: subtle.js (webCrypto()).
const kCryptoSecret = Symbol("crypto");
let deterministicCrypto = false;  // queries and mutations: no cryptographic randomness (determinism.js sets it)

class Crypto {
  constructor(secret) {
    if (secret !== kCryptoSecret) uncatchable("Illegal constructor: Crypto");
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
