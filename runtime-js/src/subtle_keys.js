// Prelude fragment: crypto.subtle's keys by family (HMAC, AES, PBKDF2/HKDF, RSA, EC, Ed25519,
// X25519): how each is imported, exported and generated, as Convex's ops/subtle_crypto/*.rs do it.
// A key's material is { family, bytes }: the secret for symmetric keys, DER for asymmetric ones
// (PKCS#8 private, SubjectPublicKeyInfo public; worker/pkey_bindings.h does the OpenSSL work).

const kRsaNames = { "rsassa-pkcs1-v1_5": "RSASSA-PKCS1-v1_5", "rsa-pss": "RSA-PSS", "rsa-oaep": "RSA-OAEP" };
const kAesNames = { "aes-ctr": "AES-CTR", "aes-cbc": "AES-CBC", "aes-gcm": "AES-GCM" };

const rsaJwkAlg = (name, hash) => {
  const bits = hash.slice(4);
  if (name === "RSA-OAEP") return hash === "SHA-1" ? "RSA-OAEP" : `RSA-OAEP-${bits}`;
  return `${name === "RSA-PSS" ? "PS" : "RS"}${bits}`;
};
const ecJwkAlg = (curve) => ({ "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" })[curve];

// HMAC's length: given (a non-zero multiple of 8) or the hash's block size.
function hmacLength(params) {
  if (params.length === undefined) return kHashBlockBits[params.hash];
  if (params.length === 0) throw new TypeError("length must not be zero");
  if (params.length % 8 !== 0) throw new TypeError("length must be a multiple of 8");
  return params.length;
}
function aesLength(params) {
  if (![128, 192, 256].includes(params.length)) {
    throw domException("AES key length must be 128, 192, or 256 bits", "OperationError");
  }
  return params.length;
}

// The parameters an algorithm argument carries, by what the operation needs of it.
const keyParams = {
  rsaImport: (algorithm, name) => ({ family: "rsa", name: kRsaNames[name],
    hash: hashOf(member(dictionaryOf(algorithm, "RsaHashedImportParams"), "hash")) }),
  rsaGenerate(algorithm, name) {
    const dict = dictionaryOf(algorithm, "RsaHashedKeyGenParams");
    return { family: "rsa", name: kRsaNames[name], modulusLength: unsigned(member(dict, "modulusLength"), 32),
      publicExponent: bufferOf(member(dict, "publicExponent")), hash: hashOf(member(dict, "hash")) };
  },
  ec(algorithm, name) {
    const dict = dictionaryOf(algorithm, "EcKeyAlgorithm");
    return { family: "ec", name: name.toUpperCase(), namedCurve: variantOf(member(dict, "namedCurve"), kCurveNames) };
  },
  hmac(algorithm) {
    const dict = dictionaryOf(algorithm, "HmacImportParams");
    return { family: "hmac", hash: hashOf(member(dict, "hash")), length: optionalUnsigned(dict.length, 32) };
  },
  aes(algorithm, name) {
    const dict = dictionaryOf(algorithm, "AesKeyAlgorithm");
    return { family: "aes", name: kAesNames[name], length: unsigned(member(dict, "length"), 16) };
  },
};

// The key's material keeps its own copy of what operations depend on: user code can change the
// objects the key shows (algorithm, usages), not what the key is.
function newKey(type, extractable, algorithm, usages, family, bytes) {
  const material = { family, bytes, type, extractable, algorithm: structuredClone(algorithm), usages: [...usages] };
  return new (webCrypto().CryptoKey)(kCryptoSecret, type, extractable, algorithm, usages, material);
}
const secretKey = (algorithm, extractable, usages, family, bytes) =>
  newKey("secret", extractable, algorithm, usages, family, bytes);

// Calls a native binding; its failure becomes `error()`.
function nativeOr(error, call) {
  try {
    return call();
  } catch {
    throw error();
  }
}
const dataError = (message) => () => domException(message, "DataError");
const u8 = (buffer) => new Uint8Array(buffer);

// --------------------------------------------------------------------------------------------------
// Symmetric keys
// --------------------------------------------------------------------------------------------------
function importHmac(format, data, params, extractable, usages) {
  let bytes = data;
  if (format === "jwk") {
    jwkChecks.kty(data, "oct");
    bytes = fromBase64Url(data.k);
    if (bytes === undefined) throw domException("invalid key data", "DataError");
    jwkChecks.alg(data, `HS${params.hash.slice(4)}`);
    jwkChecks.keyOpsAndUse(data, usages, "sig");
    jwkChecks.ext(data, extractable);
  } else if (format !== "raw") {
    throw domException("unsupported import format", "NotSupportedError");
  }
  let length = bytes.length * 8;
  if (length === 0) throw domException("provided HMAC key is empty", "DataError");
  if (params.length !== undefined) {
    const requested = hmacLength(params);
    if (requested > length) throw domException("provided HMAC key is shorter than requested length", "DataError");
    if (requested <= length - 8) throw domException("provided HMAC key is longer than requested length", "DataError");
    length = requested;
  }
  return secretKey({ name: "HMAC", hash: { name: params.hash }, length }, extractable, usages, "hmac", bytes);
}

function importAes(format, data, name, extractable, usages) {
  let bytes = data;
  if (format === "jwk") {
    jwkChecks.kty(data, "oct");
    bytes = fromBase64Url(data.k);
    if (bytes === undefined) throw domException("invalid key data", "DataError");
  } else if (format !== "raw") {
    throw domException("unsupported import format", "NotSupportedError");
  }
  if (![16, 24, 32].includes(bytes.length)) throw domException("invalid key length", "DataError");
  if (format === "jwk") {
    jwkChecks.alg(data, `A${bytes.length * 8}${name.slice(4)}`);
    jwkChecks.keyOpsAndUse(data, usages, "enc");
    jwkChecks.ext(data, extractable);
  }
  return secretKey({ name, length: bytes.length * 8 }, extractable, usages, "aes", bytes);
}

function importKdf(format, data, name, extractable, usages) {
  if (format !== "raw") throw domException("unsupported input format", "NotSupportedError");
  checkUsagesSubset(usages, ["deriveKey", "deriveBits"]);
  if (extractable) throw domException(`${name} keys cannot be extractable`, "SyntaxError");
  return secretKey({ name }, extractable, usages, name.toLowerCase(), data);
}

function exportSecret(format, key, material, jwkAlg) {
  if (format === "raw") return material.bytes.slice().buffer;
  if (format === "jwk") return exportedJwk({ kty: "oct", k: toBase64Url(material.bytes), alg: jwkAlg }, key);
  throw domException("unsupported export format", "NotSupportedError");
}

// --------------------------------------------------------------------------------------------------
// Asymmetric keys
// --------------------------------------------------------------------------------------------------
// What native.pkeyDescribe says of DER bytes, or undefined when they are not a key of that format.
function describeDer(format, bytes) {
  try {
    const [kind, detail, der, publicDer, exponent] = native.pkeyDescribe(format, bytes);
    return { kind, detail, der: u8(der), publicDer: u8(publicDer), exponent: exponent && u8(exponent) };
  } catch (e) {
    if (e.message === "size") {
      throw domException("RSA keys of more than 8192 bits, or with a public exponent of more than 64 bits, are not " +
        "supported", "DataError");
    }
    return e.message === "check" ? { kind: "ec", invalid: true } : undefined;
  }
}
const pairUsages = { sign: ["sign"], verify: ["verify"] };

function importRsa(format, data, params, extractable, usages) {
  const [privateUsages, publicUsages, jwkUse] = params.name === "RSA-OAEP"
    ? [["decrypt", "unwrapKey"], ["encrypt", "wrapKey"], "enc"] : [pairUsages.sign, pairUsages.verify, "sig"];
  let der;
  let isPrivate = false;
  if (format === "spki" || format === "pkcs8") {
    isPrivate = format === "pkcs8";
    checkUsagesSubset(usages, isPrivate ? privateUsages : publicUsages);
    const what = isPrivate ? "PrivateKeyInfo" : "SubjectPublicKeyInfo";
    const described = describeDer(format, data);
    if (described === undefined) throw domException(`invalid RSA ${what}`, "DataError");
    if (described.kind !== "rsa") throw domException(`${what} algorithm is not rsaEncryption`, "DataError");
    der = described.der;
  } else if (format === "jwk") {
    isPrivate = data.d !== undefined;
    checkUsagesSubset(usages, isPrivate ? privateUsages : publicUsages);
    jwkChecks.kty(data, "RSA");
    jwkChecks.keyOpsAndUse(data, usages, jwkUse);
    jwkChecks.ext(data, extractable);
    jwkChecks.alg(data, rsaJwkAlg(params.name, params.hash));
    // With other primes ("oth"), only n, e and d are used, as Convex builds the key.
    const usable = data.oth === undefined ? ["n", "e", "d", "p", "q", "dp", "dq", "qi"] : ["n", "e", "d"];
    const parts = ["n", "e", "d", "p", "q", "dp", "dq", "qi"].map((name) => {
      if (data[name] === undefined || !usable.includes(name)) return undefined;
      const bytes = fromBase64Url(data[name]);
      if (bytes === undefined) throw domException("invalid RSA parameters", "DataError");
      return bytes;
    });
    if (parts[0] === undefined || parts[1] === undefined) throw domException("invalid RSA parameters", "DataError");
    der = u8(nativeOr(dataError("invalid RSA parameters"), () => native.pkeyFromComponents("rsa", "", parts)));
  } else {
    throw domException("unsupported import format", "NotSupportedError");
  }
  const described = describeDer(isPrivate ? "pkcs8" : "spki", der);
  if (described === undefined || described.kind !== "rsa") throw domException("invalid RSA parameters", "DataError");
  const algorithm = { name: params.name, modulusLength: described.detail, publicExponent: described.exponent,
    hash: { name: params.hash } };
  return newKey(isPrivate ? "private" : "public", extractable, algorithm, usages, "rsa", der);
}

function importEc(format, data, params, extractable, usages) {
  const [privateUsages, publicUsages] = params.name === "ECDSA" ? [["sign"], ["verify"]] : [["deriveKey", "deriveBits"], []];
  const algorithm = { name: params.name, namedCurve: params.namedCurve };
  const curve = params.namedCurve;
  const make = (isPrivate, der) => newKey(isPrivate ? "private" : "public", extractable, algorithm, usages, "ec", der);
  if (format === "spki") {
    checkUsagesSubset(usages, publicUsages);
    const described = describeDer("spki", data);
    if (described === undefined) throw domException("invalid SubjectPublicKeyInfo document", "DataError");
    if (described.kind !== "ec") throw domException("algorithm oid is not id-ecPublicKey", "DataError");
    if (described.invalid) throw domException("invalid SubjectPublicKey", "DataError");
    if (described.detail === "") throw domException("unknown ECParameters", "DataError");
    if (described.detail !== curve) throw domException("EC curve mismatch", "DataError");
    return make(false, described.der);
  }
  if (format === "pkcs8") {
    checkUsagesSubset(usages, privateUsages);
    const described = describeDer("pkcs8", data);
    if (described === undefined) throw domException("invalid PublicKeyInfo", "DataError");
    if (described.kind !== "ec") throw domException("not an EC key", "DataError");
    if (described.invalid) throw domException("invalid EC key", "DataError");
    if (described.detail !== curve) throw domException("EC curve mismatch", "DataError");
    return make(true, described.der);
  }
  if (format === "jwk") {
    const isPrivate = data.d !== undefined;
    checkUsagesSubset(usages, isPrivate ? privateUsages : publicUsages);
    jwkChecks.kty(data, "EC");
    jwkChecks.keyOpsAndUse(data, usages, "sig");
    jwkChecks.ext(data, extractable);
    if (data.crv !== curve) throw domException("EC curve mismatch", "DataError");
    jwkChecks.alg(data, ecJwkAlg(curve));
    const coordinates = [fromBase64Url(data.x), fromBase64Url(data.y)];
    const publicDer = nativeOr(dataError("invalid EC public key coordinates"), () =>
      native.pkeyFromComponents("ec", curve, coordinates));
    if (!isPrivate) return make(false, u8(publicDer));
    const d = fromBase64Url(data.d);
    const der = nativeOr(dataError("invalid EC private key"), () =>
      native.pkeyFromComponents("ec", curve, [...coordinates, d]));
    return make(true, u8(der));
  }
  checkUsagesSubset(usages, publicUsages);
  return make(false, u8(nativeOr(dataError("invalid EC public key"), () => native.pkeyFromRaw("ec", curve, data))));
}

// Ed25519 and X25519 keys: 32-byte points, JWK kty "OKP".
function importOkp(format, data, name, extractable, usages) {
  const ed = name === "Ed25519";
  const kind = name.toLowerCase();
  const [privateUsages, publicUsages] = ed ? [["sign"], ["verify"]] : [["deriveKey", "deriveBits"], []];
  const make = (isPrivate, der) => newKey(isPrivate ? "private" : "public", extractable, { name }, usages, kind, der);
  if (format === "raw") {
    checkUsagesSubset(usages, publicUsages);
    if (data.length !== 32) throw domException(`${name} public key must be 256 bits`, "DataError");
    return make(false, u8(native.pkeyFromRaw(kind, "", data)));
  }
  if (format === "pkcs8") {
    checkUsagesSubset(usages, privateUsages);
    const described = describeDer("pkcs8", data);
    if (ed && (described === undefined || described.kind !== kind)) {
      throw domException("Invalid Ed25519 private key", "DataError");
    }
    if (described === undefined) throw domException("invalid X25519 PrivateKeyInfo", "DataError");
    if (described.kind !== kind) throw domException("PrivateKeyInfo algorithm is not id-X25519", "DataError");
    return make(true, described.der);
  }
  if (format === "spki") {
    checkUsagesSubset(usages, publicUsages);
    const described = describeDer("spki", data);
    if (described === undefined) throw domException("invalid SubjectPublicKeyInfo document", "DataError");
    if (described.kind !== kind) throw domException(`SubjectPublicKeyInfo algorithm is not id-${name}`, "DataError");
    return make(false, described.der);
  }
  const isPrivate = data.d !== undefined;
  checkUsagesSubset(usages, isPrivate ? privateUsages : publicUsages);
  jwkChecks.kty(data, "OKP");
  jwkChecks.crv(data, name);
  if (ed) jwkChecks.alg(data, "Ed25519", "EdDSA");
  jwkChecks.keyOpsAndUse(data, usages, ed ? "sig" : "enc");
  jwkChecks.ext(data, extractable);
  const x = fromBase64Url(data.x);
  if (x === undefined || x.length !== 32) throw domException("invalid key `x`", "DataError");
  if (!isPrivate) return make(false, u8(native.pkeyFromRaw(kind, "", x)));
  const d = fromBase64Url(data.d);
  if (d === undefined || d.length !== 32) throw domException("invalid key `d`", "DataError");
  const der = nativeOr(dataError("JWT `d` and `x` do not match"), () => native.pkeyFromComponents(kind, "", [x, d]));
  return make(true, u8(der));
}

// The JWK members of an asymmetric key (numbers and points base64url-encoded).
function asymmetricJwk(key, material) {
  const isPrivate = material.type === "private";
  const parts = native.pkeyComponents(material.bytes, isPrivate).map((part) => part && toBase64Url(u8(part)));
  const algorithm = material.algorithm;
  if (material.family === "rsa") {
    const [n, e, d, p, q, dp, dq, qi] = parts;
    return { kty: "RSA", alg: rsaJwkAlg(algorithm.name, algorithm.hash.name), n, e, d, p, q, dp, dq, qi };
  }
  if (material.family === "ec") {
    const [x, y, d] = parts;
    return { kty: "EC", crv: algorithm.namedCurve, x, y, d };
  }
  const [x, d] = parts;
  return material.family === "ed25519" ? { kty: "OKP", alg: "Ed25519", crv: "Ed25519", x, d }
    : { kty: "OKP", crv: "X25519", x, d };
}

function exportAsymmetric(format, key, material) {
  const isPrivate = material.type === "private";
  const family = material.family;
  const label = { rsa: "RSA", ec: "EC", ed25519: "Ed25519", x25519: "X25519" }[family];
  if (format === "jwk") return exportedJwk(asymmetricJwk(key, material), key);
  if (format === (isPrivate ? "pkcs8" : "spki")) return material.bytes.slice().buffer;
  if (format === "raw" && !isPrivate && family !== "rsa") {
    const [x, y] = native.pkeyComponents(material.bytes, false).map((part) => part && u8(part));
    if (family !== "ec") return x.slice().buffer;
    const point = new Uint8Array(1 + x.length + y.length);
    point[0] = 4;
    point.set(x, 1);
    point.set(y, 1 + x.length);
    return point.buffer;
  }
  if (format === "raw" && family === "rsa") throw domException("invalid export format for RSA", "NotSupportedError");
  throw domException(`invalid export format for ${label} ${isPrivate ? "private" : "public"} key`, "InvalidAccessError");
}

// --------------------------------------------------------------------------------------------------
// Key generation
// --------------------------------------------------------------------------------------------------
function generatePair(params, extractable, usages, privateUsages, publicUsages, kind, detail, exponent) {
  const [privateDer, publicDer] = native.pkeyGenerate(kind, detail, exponent);
  const algorithm = params.algorithm;
  return {
    privateKey: newKey("private", extractable, algorithm, privateUsages, kind, u8(privateDer)),
    publicKey: newKey("public", true, algorithm, publicUsages, kind, u8(publicDer)),
  };
}

function generateRsa(params, extractable, usages) {
  const oaep = params.name === "RSA-OAEP";
  checkUsagesSubset(usages, oaep ? ["encrypt", "decrypt", "wrapKey", "unwrapKey"] : ["sign", "verify"]);
  const privateUsages = intersect(usages, oaep ? ["decrypt", "unwrapKey"] : ["sign"]);
  const publicUsages = intersect(usages, oaep ? ["encrypt", "wrapKey"] : ["verify"]);
  // Convex allows up to 8192 bits; generating more than 4096 here would stall the worker (pkey_bindings.h).
  if (params.modulusLength < 512 || params.modulusLength > 4096) {
    throw domException("unsupported RSA modulus length", "OperationError");
  }
  const algorithm = { name: params.name, modulusLength: params.modulusLength,
    publicExponent: params.publicExponent.slice(), hash: { name: params.hash } };
  try {
    return generatePair({ algorithm }, extractable, usages, privateUsages, publicUsages, "rsa", params.modulusLength,
      params.publicExponent);
  } catch {
    throw domException("failed to generate RSA key", "OperationError");
  }
}

function generateEc(params, extractable, usages) {
  let privateUsages = usages;
  let publicUsages = [];
  if (params.name === "ECDSA") {
    checkUsagesSubset(usages, ["sign", "verify"]);
    privateUsages = intersect(usages, ["sign"]);
    publicUsages = intersect(usages, ["verify"]);
  } else {
    checkUsagesSubset(usages, ["deriveKey", "deriveBits"]);
  }
  const algorithm = { name: params.name, namedCurve: params.namedCurve };
  return generatePair({ algorithm }, extractable, usages, privateUsages, publicUsages, "ec", params.namedCurve);
}

function generateOkp(name, extractable, usages) {
  const ed = name === "Ed25519";
  checkUsagesSubset(usages, ed ? ["sign", "verify"] : ["deriveKey", "deriveBits"]);
  const privateUsages = ed ? intersect(usages, ["sign"]) : usages;
  const publicUsages = ed ? intersect(usages, ["verify"]) : [];
  return generatePair({ algorithm: { name } }, extractable, usages, privateUsages, publicUsages, name.toLowerCase());
}

function generateSecret(params, extractable, usages) {
  if (params.family === "hmac") {
    checkUsagesSubset(usages, ["sign", "verify"]);
    const length = hmacLength(params);
    const bytes = new Uint8Array(native.randomBytes(Math.ceil(length / 8)));
    return secretKey({ name: "HMAC", hash: { name: params.hash }, length }, extractable, usages, "hmac", bytes);
  }
  checkUsagesSubset(usages, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
  const length = aesLength(params);
  const bytes = new Uint8Array(native.randomBytes(length / 8));
  return secretKey({ name: params.name, length }, extractable, usages, "aes", bytes);
}
