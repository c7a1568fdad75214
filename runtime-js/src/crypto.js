// Prelude fragment: crypto.getRandomValues, crypto.randomUUID and crypto.subtle.digest. Random bytes
// come from the kernel in actions and from the invocation's seeded generator in queries and mutations
// (determinism.js swaps `fillRandom`).

let fillRandom = (bytes) => bytes.set(new Uint8Array(native.randomBytes(bytes.length)));

const kIntegerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array];
const kDigests = { "SHA-1": "SHA-1", "SHA-256": "SHA-256", "SHA-384": "SHA-384", "SHA-512": "SHA-512" };

const subtle = Object.freeze({
  async digest(algorithm, data) {
    const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
    if (!Object.prototype.hasOwnProperty.call(kDigests, name)) {
      throw domException(`Unrecognized algorithm name: ${name}`, "NotSupportedError");
    }
    return native.digest(kDigests[name], bytesOf(data, "data").slice());
  },
});

const cryptoObject = Object.freeze({
  getRandomValues(array) {
    if (!kIntegerArrays.some((type) => array instanceof type)) {
      throw domException("The data argument must be an integer-type TypedArray", "TypeMismatchError");
    }
    if (array.byteLength > 65536) {
      throw domException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds 65536`, "QuotaExceededError");
    }
    fillRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return array;
  },
  randomUUID() {
    const b = new Uint8Array(16);
    fillRandom(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
  subtle,
});
define(globalThis, "crypto", cryptoObject);

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
