// Prelude fragment: how crypto.subtle reads its arguments and keeps its keys, as Convex's runtime does
// (crates/isolate/src/ops/subtle_crypto/ in get-convex/convex-backend). Algorithm names match in any
// case; dictionary members are read as serde reads them (a missing member is "missing field `x`", an
// unknown name "unknown variant `x`, expected ..."); other failures are DOMExceptions worded as
// Convex words them. The algorithms themselves are in subtle.js and subtle_keys.js.

const kHashNames = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
const kHashBlockBits = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
const kHashBytes = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
const kUsageNames = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
const kKeyFormats = ["raw", "pkcs8", "spki", "jwk"];
const kCurveNames = ["P-256", "P-384", "P-521"];

// Convex makes these uncatchable: the function fails even when user code catches them.
const notImplementedIn = (operation, algorithm) => notImplemented(`crypto.subtle.${operation}`, algorithm);

// serde's words for a value it cannot read.
const describeValue = (value) => {
  if (value === null || value === undefined) return "unit value";
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "number") return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (typeof value === "boolean") return `boolean \`${value}\``;
  if (Array.isArray(value)) return "sequence";
  return typeof value === "object" ? "map" : typeof value;
};
const invalidType = (value, expected) => new Error(`invalid type: ${describeValue(value)}, expected ${expected}`);

function variantOf(value, known) {
  if (typeof value !== "string") throw invalidType(value, "a string");
  if (known.includes(value)) return value;
  const quoted = known.map((name) => `\`${name}\``);
  const expected = quoted.length === 1 ? quoted[0] : quoted.length === 2 ? `${quoted[0]} or ${quoted[1]}`
    : `one of ${quoted.join(", ")}`;
  throw new Error(`unknown variant \`${value}\`, expected ${expected}`);
}

// A dictionary argument (an algorithm's parameters); `struct` names it in errors as serde does.
function dictionaryOf(value, struct) {
  if (value !== null && typeof value === "object") return value;
  throw invalidType(value, `struct ${struct}`);
}
function member(dict, name) {
  const value = dict[name];
  if (value === undefined) throw new Error(`missing field \`${name}\``);
  return value;
}
function unsigned(value, bits) {
  if (typeof value !== "number") throw invalidType(value, `u${bits}`);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new Error(`invalid value: ${describeValue(value)}, expected u${bits}`);
  }
  return value;
}
const optionalUnsigned = (value, bits) => (value === undefined || value === null ? undefined : unsigned(value, bits));
function bufferOf(value) {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  throw invalidType(value, "a byte buffer");
}
const optionalBuffer = (value) => (value === undefined || value === null ? undefined : bufferOf(value));

// "SHA-256" or { name: "sha-256" }.
function hashOf(value) {
  if (typeof value === "string") return variantOf(value.toUpperCase(), kHashNames);
  if (value !== null && typeof value === "object") return variantOf(String(member(value, "name")).toUpperCase(), kHashNames);
  throw invalidType(value, "a string or object with a `name` key");
}

// The algorithm's name, lower-cased, for dispatch.
function algorithmNameOf(algorithm) {
  if (typeof algorithm === "string") return algorithm.toLowerCase();
  if (algorithm !== null && typeof algorithm === "object") return String(algorithm.name).toLowerCase();
  throw domException("Unrecognized or invalid algorithm", "NotSupportedError");
}
const unrecognized = (name) => domException(`Unrecognized or invalid algorithm ${name}`, "NotSupportedError");
const wrongAlgorithm = () => domException("invalid algorithm for key", "InvalidAccessError");

// Usages: known names, duplicates dropped, first occurrence order kept.
function usagesOf(value) {
  if (value === null || typeof value !== "object" || typeof value[Symbol.iterator] !== "function") {
    throw invalidType(value, "a sequence");
  }
  const usages = [];
  for (const usage of value) {
    if (!usages.includes(variantOf(usage, kUsageNames))) usages.push(usage);
  }
  return usages;
}
function checkUsagesSubset(usages, allowed) {
  if (!usages.every((usage) => allowed.includes(usage))) throw domException("invalid key_usages", "SyntaxError");
}
const intersect = (usages, allowed) => usages.filter((usage) => allowed.includes(usage));

function requireRandomness() {
  if (deterministicCrypto) throw refusal("cryptographic randomness");
}

// base64url without padding; decoding forgives padding and trailing bits, as Convex's does. Undefined
// when the text is not base64url.
function toBase64Url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
function fromBase64Url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
    return undefined;
  }
  const binary = atob(text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// A JSON Web Key as Convex reads one: string members, key_ops a list of strings, ext a boolean.
const kJwkStrings = ["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"];
function jwkOf(value) {
  const jwk = dictionaryOf(value, "JsonWebKey");
  const out = {};
  for (const name of kJwkStrings) {
    if (jwk[name] === undefined || jwk[name] === null) continue;
    if (typeof jwk[name] !== "string") throw invalidType(jwk[name], "a string");
    out[name] = jwk[name];
  }
  if (jwk.key_ops !== undefined && jwk.key_ops !== null) {
    if (!Array.isArray(jwk.key_ops)) throw invalidType(jwk.key_ops, "a sequence");
    out.key_ops = jwk.key_ops.map((op) => (typeof op === "string" ? op : (() => { throw invalidType(op, "a string"); })()));
  }
  if (jwk.ext !== undefined && jwk.ext !== null) {
    if (typeof jwk.ext !== "boolean") throw invalidType(jwk.ext, "a boolean");
    out.ext = jwk.ext;
  }
  if (jwk.oth !== undefined && jwk.oth !== null) out.oth = jwk.oth;
  return out;
}
const kUsageDebugNames = Object.fromEntries(kUsageNames.map((u) => [u, u[0].toUpperCase() + u.slice(1)]));
const jwkChecks = {
  kty(jwk, kty) {
    if (jwk.kty !== kty) throw domException(`JWK "kty" must be "${kty}"`, "DataError");
  },
  crv(jwk, crv) {
    if (jwk.crv !== crv) throw domException(`JWK "crv" must be "${crv}"`, "DataError");
  },
  ext(jwk, extractable) {
    if (jwk.ext === false && extractable) throw domException('JWK "ext" must be true', "DataError");
  },
  keyOpsAndUse(jwk, usages, expectedUse) {
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== expectedUse) {
      throw domException(`JWK "use" must be "${expectedUse}"`, "DataError");
    }
    if (jwk.key_ops === undefined) return;
    for (const usage of usages) {
      if (!jwk.key_ops.includes(usage)) {
        throw domException(`JWK "key_ops" does not contain ${kUsageDebugNames[usage]}`, "DataError");
      }
    }
  },
  alg(jwk, ...expected) {
    if (jwk.alg !== undefined && !expected.includes(jwk.alg)) {
      throw domException(`JWK "alg" must be ${expected.map((e) => `"${e}"`).join(" or ")}`, "DataError");
    }
  },
};
// An exported JWK, members in Convex's order, with key_ops and ext added.
const kJwkOrder = ["kty", "use", "key_ops", "alg", "ext", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "oth", "k"];
function exportedJwk(members, key) {
  const material = keyMaterial(key);
  const all = { ...members, key_ops: [...material.usages], ext: material.extractable };
  const out = {};
  for (const name of kJwkOrder) if (all[name] !== undefined) out[name] = all[name];
  return out;
}

// CryptoKey: type, extractable, algorithm and usages are own read-only properties, as Convex
// defines them; the key material stays in a private field the prelude reads with `keyMaterial`.
let keyMaterial;
const makeCryptoKeyClass = () => {
  class CryptoKey {
    #material;
    constructor(secret, type, extractable, algorithm, usages, material) {
      if (secret !== kCryptoSecret) throw new TypeError("Illegal constructor");
      const property = (value) => ({ value, enumerable: true, writable: false, configurable: false });
      Object.defineProperties(this, {
        type: property(type),
        extractable: property(extractable),
        algorithm: property(algorithm),
        usages: property(usages),
      });
      this.#material = material;
    }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
    static {
      keyMaterial = (key) => {
        if (!(key instanceof CryptoKey)) throw new TypeError("not of type CryptoKey");
        return key.#material;
      };
    }
  }
  return CryptoKey;
};

// "secret" and "private" keys without usages are refused once made (Convex's check_useless).
function checkUseful(key) {
  if ((key.type === "secret" || key.type === "private") && key.usages.length === 0) {
    throw domException("invalid key usages", "SyntaxError");
  }
  return key;
}
