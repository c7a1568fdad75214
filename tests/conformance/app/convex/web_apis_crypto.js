// Conformance area "web_apis": the Web Crypto API (crypto.getRandomValues, randomUUID,
// crypto.subtle). Known answers come from published vectors (FIPS 180-2 "abc", RFC 2202/4231
// HMAC, RFC 6070 PBKDF2, RFC 5869 HKDF, the GCM spec's test case 2, NIST SP 800-38A AES-CBC and
// AES-CTR, RFC 8032 Ed25519) or were computed with Node's `crypto` module on this machine (the
// ECDSA/ECDH/RSA keys and answers below, PBKDF2-SHA256); each scenario says which.
import { action, mutation, query } from "./_generated/server";
import { catchAsync, catchSync, fromHex, hex, scenarios, tag, utf8 } from "./web_apis_util";
import { ECDSA_PUBLIC_JWK, RSA_PKCS8_B64, RSA_SPKI_B64 } from "./web_apis_crypto_fixtures";

const subtle = () => crypto.subtle;

function b64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function plainJson(x) {
  return JSON.parse(JSON.stringify(x));
}

async function hmacKey(keyBytes, hash, usages = ["sign", "verify"]) {
  return await subtle().importKey("raw", keyBytes, { name: "HMAC", hash }, true, usages);
}

// An IEEE-P1363 ECDSA/SHA-256 signature of "hello ecdsa" made with ECDSA_PUBLIC_JWK's private half.
const ECDSA_SIGNATURE_HEX =
  "5f83235b8badbf5c1b442832db43df653eb7948ad41e73e2771cf1d5872f8857" +
  "5197c4b45736385f0134e37e2a7585454e61e7096542fd645295f910a9a925d6";

// Node-generated P-256 keys for ECDH; the shared secret was computed with crypto.diffieHellman.
const ECDH_ALICE_PRIVATE_JWK = {
  kty: "EC",
  crv: "P-256",
  x: "ZCS3HeXHUNTWyoGGlLTTFe8ZiS-6h6ieORmOr5YwSU0",
  y: "Vr7yHWSeOfMj9PLt-c4uncYxYCGGuzFeilrfclkWeHo",
  d: "eaIp_2pjbHEZ-F3xAfFwd7lc-fGtd9vyQ8AlYAb8VWg",
};
const ECDH_BOB_PUBLIC_JWK = {
  kty: "EC",
  crv: "P-256",
  x: "fn5pr-OfnxEb-xtp5YI7AyVjazHbLVCrod49ei5Mn7U",
  y: "rra1U46wyZy2vZQUyAfzoHRMPOE-o8VybyI3KXLT67Q",
};

// RFC 8032 section 7.1, TEST 1 (empty message).
const ED25519_SECRET_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const ED25519_PUBLIC_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

async function digestHex(alg, data) {
  return hex(await subtle().digest(alg, data));
}

// ---------------------------------------------------------------------------------------------
// Randomness, classes and tags
// ---------------------------------------------------------------------------------------------
const basicsScenarios = {
  tags() {
    return {
      crypto: tag(crypto),
      subtle: tag(crypto.subtle),
      cryptoIsCrypto: crypto instanceof Crypto,
      subtleIsSubtleCrypto: crypto.subtle instanceof SubtleCrypto,
      sameSubtle: crypto.subtle === crypto.subtle,
    };
  },
  cryptoConstructor() {
    try {
      new Crypto();
    } catch (e) {
      return "caught: " + e.message;
    }
    return "no error";
  },
  cryptoKeyConstructor() {
    return catchSync(() => new CryptoKey());
  },
  getRandomValues() {
    const arrays = [
      new Int8Array(32),
      new Uint8Array(32),
      new Uint8ClampedArray(32),
      new Int16Array(4),
      new Uint16Array(4),
      new Int32Array(8),
      new Uint32Array(8),
      new BigInt64Array(8),
      new BigUint64Array(8),
    ];
    return arrays.map((a) => {
      const returned = crypto.getRandomValues(a);
      return [returned === a, a.some((x) => x !== 0 && x !== 0n)];
    });
  },
  getRandomValuesMaximum() {
    const ok = crypto.getRandomValues(new Uint8Array(65536)).length;
    return {
      ok,
      tooLarge: catchSync(() => crypto.getRandomValues(new Uint8Array(65537))),
      tooLargeWords: catchSync(() => crypto.getRandomValues(new Uint32Array(16385))),
    };
  },
  getRandomValuesFloat() {
    return [
      catchSync(() => crypto.getRandomValues(new Float32Array(4))),
      catchSync(() => crypto.getRandomValues(new Float64Array(4))),
    ];
  },
  getRandomValuesNoArgument() {
    return catchSync(() => crypto.getRandomValues());
  },
  randomUUID() {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    return { type: typeof a, length: a.length, v4: v4.test(a) && v4.test(b), distinct: a !== b };
  },
};

export const basics = query(scenarios(basicsScenarios));
export const basicsAction = action(scenarios(basicsScenarios));

// ---------------------------------------------------------------------------------------------
// Digests
// ---------------------------------------------------------------------------------------------
const digestScenarios = {
  // FIPS 180-2 appendix examples: the message "abc".
  sha1() {
    return digestHex("SHA-1", utf8("abc"));
  },
  sha256() {
    return digestHex("SHA-256", utf8("abc"));
  },
  sha384() {
    return digestHex("SHA-384", utf8("abc"));
  },
  sha512() {
    return digestHex("SHA-512", utf8("abc"));
  },
  async inputForms() {
    // SHA-256 of the empty string (FIPS 180-2), given as an ArrayBuffer and an empty view, with
    // lowercase / object algorithm names.
    return [
      await digestHex("sha-256", new ArrayBuffer(0)),
      await digestHex({ name: "Sha-256" }, new Uint8Array([1, 2]).subarray(1, 1)),
      (await subtle().digest("SHA-256", new Uint8Array(0))) instanceof ArrayBuffer,
    ];
  },
  async unknownAlgorithm() {
    const e = await catchAsync(() => subtle().digest("MD5", utf8("abc")));
    return { kind: e.kind, unknownVariant: /unknown variant/.test(e.message) };
  },
  async missingArgument() {
    return await catchAsync(() => subtle().digest("SHA-256"));
  },
};

export const digest = query(scenarios(digestScenarios));

// ---------------------------------------------------------------------------------------------
// HMAC
// ---------------------------------------------------------------------------------------------
const hmacScenarios = {
  // RFC 4231 test case 2 (key "Jefe").
  async sha256() {
    const key = await hmacKey(utf8("Jefe"), "SHA-256");
    return hex(await subtle().sign("HMAC", key, utf8("what do ya want for nothing?")));
  },
  async sha512() {
    const key = await hmacKey(utf8("Jefe"), { name: "SHA-512" });
    return hex(await subtle().sign({ name: "HMAC" }, key, utf8("what do ya want for nothing?")));
  },
  // RFC 2202 test case 2.
  async sha1() {
    const key = await hmacKey(utf8("Jefe"), "sha-1");
    return hex(await subtle().sign("hmac", key, utf8("what do ya want for nothing?")));
  },
  async verify() {
    const key = await hmacKey(utf8("Jefe"), "SHA-256");
    const data = utf8("what do ya want for nothing?");
    const good = fromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    const bad = good.slice();
    bad[0] ^= 1;
    return [
      await subtle().verify("HMAC", key, good, data),
      await subtle().verify("HMAC", key, bad, data),
      await subtle().verify("HMAC", key, good.slice(0, 16), data),
    ];
  },
  async keyShape() {
    const key = await hmacKey(new Uint8Array(16).fill(7), "SHA-256", ["verify", "sign", "sign"]);
    return {
      tag: tag(key),
      isCryptoKey: key instanceof CryptoKey,
      type: key.type,
      extractable: key.extractable,
      algorithm: plainJson(key.algorithm),
      usages: key.usages,
      ownKeys: Object.keys(key),
    };
  },
  async exportRaw() {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const key = await hmacKey(raw, "SHA-256");
    return hex(await subtle().exportKey("raw", key));
  },
  async exportJwk() {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const key = await hmacKey(raw, "SHA-256", ["sign"]);
    return await subtle().exportKey("jwk", key);
  },
  async importJwk() {
    const key = await subtle().importKey(
      "jwk",
      { kty: "oct", k: base64url(utf8("Jefe")), alg: "HS256", ext: true },
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return {
      extractable: key.extractable,
      mac: hex(await subtle().sign("HMAC", key, utf8("what do ya want for nothing?"))),
    };
  },
  async importJwkWrongAlg() {
    return await catchAsync(() =>
      subtle().importKey(
        "jwk",
        { kty: "oct", k: base64url(utf8("Jefe")), alg: "HS512" },
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      ),
    );
  },
  async emptyKey() {
    return await catchAsync(() => hmacKey(new Uint8Array(0), "SHA-256"));
  },
  async noUsages() {
    return await catchAsync(() => hmacKey(utf8("k"), "SHA-256", []));
  },
  async wrongUsage() {
    const key = await hmacKey(utf8("k"), "SHA-256", ["verify"]);
    return await catchAsync(() => subtle().sign("HMAC", key, utf8("x")));
  },
  async notExtractable() {
    const key = await subtle().importKey("raw", utf8("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return await catchAsync(() => subtle().exportKey("raw", key));
  },
  async formatMismatch() {
    return [
      await catchAsync(() =>
        subtle().importKey("raw", { kty: "oct", k: "AA" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]),
      ),
      await catchAsync(() =>
        subtle().importKey("jwk", utf8("k"), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]),
      ),
    ];
  },
  async unknownAlgorithm() {
    return [
      await catchAsync(() => subtle().importKey("raw", utf8("k"), { name: "FOO", hash: "SHA-256" }, false, ["sign"])),
      await catchAsync(() => subtle().sign({ name: "foo" }, {}, new Uint8Array())),
      await catchAsync(() => subtle().importKey("raw", utf8("k"), 42, false, ["sign"])),
    ];
  },
  async missingArguments() {
    return await catchAsync(() => subtle().importKey("raw", utf8("k"), "HMAC", false));
  },
};

export const hmac = query(scenarios(hmacScenarios));

// ---------------------------------------------------------------------------------------------
// Key derivation: PBKDF2 and HKDF
// ---------------------------------------------------------------------------------------------
async function pbkdf2Bits(password, salt, iterations, hash, bits) {
  const key = await subtle().importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  return hex(await subtle().deriveBits({ name: "PBKDF2", hash, salt, iterations }, key, bits));
}

const kdfScenarios = {
  // RFC 6070 test vectors 1 and 3 (PBKDF2-HMAC-SHA1, dkLen 20).
  async pbkdf2Sha1() {
    return [
      await pbkdf2Bits(utf8("password"), utf8("salt"), 1, "SHA-1", 160),
      await pbkdf2Bits(utf8("password"), utf8("salt"), 4096, "SHA-1", 160),
    ];
  },
  // PBKDF2-HMAC-SHA256, "password"/"salt", 1000 iterations, 32 bytes: computed with Node.
  async pbkdf2Sha256() {
    return await pbkdf2Bits(utf8("password"), utf8("salt"), 1000, "SHA-256", 256);
  },
  async pbkdf2Errors() {
    const key = await subtle().importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits"]);
    const alg = { name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1 };
    return {
      zeroIterations: await catchAsync(() => subtle().deriveBits({ ...alg, iterations: 0 }, key, 8)),
      nullLength: await catchAsync(() => subtle().deriveBits(alg, key, null)),
      oddLength: await catchAsync(() => subtle().deriveBits(alg, key, 7)),
      tooLong: await catchAsync(() => subtle().deriveBits(alg, key, 8 * 65536 + 8)),
      emptyLength: (await subtle().deriveBits(alg, key, 0)).byteLength,
    };
  },
  async pbkdf2ImportErrors() {
    return {
      extractable: await catchAsync(() => subtle().importKey("raw", utf8("p"), "PBKDF2", true, ["deriveBits"])),
      badUsage: await catchAsync(() => subtle().importKey("raw", utf8("p"), "PBKDF2", false, ["sign"])),
    };
  },
  async pbkdf2UnknownHash() {
    const key = await subtle().importKey("raw", utf8("p"), "PBKDF2", false, ["deriveBits"]);
    const e = await catchAsync(() =>
      subtle().deriveBits({ name: "PBKDF2", hash: "unknown", salt: new Uint8Array(), iterations: 1 }, key, 64),
    );
    return { kind: e.kind, unknownVariant: /unknown variant/.test(e.message) };
  },
  // PBKDF2-HMAC-SHA256 ("password", "salt", 1000) with dkLen 64 (the HMAC-SHA-256 block size),
  // computed with Node; deriveKey into an extractable HMAC key and export it.
  async pbkdf2DeriveKey() {
    const base = await subtle().importKey("raw", utf8("password"), "PBKDF2", false, ["deriveKey"]);
    const key = await subtle().deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1000 },
      base,
      { name: "HMAC", hash: "SHA-256" },
      true,
      ["sign"],
    );
    return {
      algorithm: plainJson(key.algorithm),
      usages: key.usages,
      raw: hex(await subtle().exportKey("raw", key)),
    };
  },
  // RFC 5869 test case 1 (HKDF-SHA256, L=42).
  async hkdf() {
    const key = await subtle().importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits"]);
    const bits = await subtle().deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: fromHex("000102030405060708090a0b0c"),
        info: fromHex("f0f1f2f3f4f5f6f7f8f9"),
      },
      key,
      42 * 8,
    );
    return hex(bits);
  },
  async hkdfErrors() {
    const key = await subtle().importKey("raw", utf8("ikm"), "HKDF", false, ["deriveBits"]);
    const alg = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: new Uint8Array() };
    return {
      tooLong: await catchAsync(() => subtle().deriveBits(alg, key, 8 * (255 * 32 + 1))),
      oddLength: await catchAsync(() => subtle().deriveBits(alg, key, 12)),
      extractable: await catchAsync(() => subtle().importKey("raw", utf8("ikm"), "HKDF", true, ["deriveBits"])),
      exportKey: await catchAsync(async () => {
        const k = await subtle().importKey("raw", utf8("ikm"), "HKDF", false, ["deriveKey"]);
        await subtle().exportKey("raw", k);
      }),
    };
  },
  async keyMismatch() {
    const key = await subtle().importKey("raw", utf8("ikm"), "HKDF", false, ["deriveBits"]);
    return await catchAsync(() =>
      subtle().deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: utf8("s"), iterations: 1 }, key, 64),
    );
  },
  async wrongUsage() {
    const key = await subtle().importKey("raw", utf8("p"), "PBKDF2", false, ["deriveKey"]);
    return await catchAsync(() =>
      subtle().deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: utf8("s"), iterations: 1 }, key, 64),
    );
  },
};

export const kdf = query(scenarios(kdfScenarios));

// ---------------------------------------------------------------------------------------------
// AES
// ---------------------------------------------------------------------------------------------
async function aesKey(name, raw, usages = ["encrypt", "decrypt"]) {
  return await subtle().importKey("raw", raw, { name }, true, usages);
}

const aesScenarios = {
  // "Test Case 2" of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)":
  // K = 0^128, IV = 0^96, P = 0^128 -> C || T.
  async gcmKnownAnswer() {
    const key = await aesKey("AES-GCM", new Uint8Array(16));
    const out = await subtle().encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, new Uint8Array(16));
    return hex(out);
  },
  async gcmRoundTrip() {
    const key = await aesKey("AES-GCM", new Uint8Array(32).fill(1));
    const iv = new Uint8Array(12).fill(2);
    const additionalData = utf8("header");
    const ct = await subtle().encrypt({ name: "AES-GCM", iv, additionalData }, key, utf8("hello gcm"));
    const pt = await subtle().decrypt({ name: "AES-GCM", iv, additionalData }, key, ct);
    return { ciphertextLength: ct.byteLength, plaintext: new TextDecoder().decode(pt) };
  },
  async gcmErrors() {
    const key = await aesKey("AES-GCM", new Uint8Array(16));
    const iv = new Uint8Array(12);
    const ct = new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv }, key, utf8("secret")));
    const tampered = ct.slice();
    tampered[0] ^= 1;
    return {
      tampered: await catchAsync(() => subtle().decrypt({ name: "AES-GCM", iv }, key, tampered)),
      tooShort: await catchAsync(() => subtle().decrypt({ name: "AES-GCM", iv }, key, new Uint8Array(8))),
      tagLength: await catchAsync(() =>
        subtle().encrypt({ name: "AES-GCM", iv, tagLength: 96 }, key, utf8("x")),
      ),
      ivLength: await catchAsync(() =>
        subtle().encrypt({ name: "AES-GCM", iv: new Uint8Array(16) }, key, utf8("x")),
      ),
    };
  },
  // NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt, first block); WebCrypto adds a PKCS#7 padding
  // block, whose ciphertext was computed with Node.
  async cbcKnownAnswer() {
    const key = await aesKey("AES-CBC", fromHex("2b7e151628aed2a6abf7158809cf4f3c"));
    const iv = fromHex("000102030405060708090a0b0c0d0e0f");
    const ct = await subtle().encrypt({ name: "AES-CBC", iv }, key, fromHex("6bc1bee22e409f96e93d7e117393172a"));
    const pt = await subtle().decrypt({ name: "AES-CBC", iv }, key, ct);
    return { ciphertext: hex(ct), plaintext: hex(pt) };
  },
  async cbcErrors() {
    const key = await aesKey("AES-CBC", new Uint8Array(16));
    return {
      ivLength: await catchAsync(() => subtle().encrypt({ name: "AES-CBC", iv: new Uint8Array(8) }, key, utf8("x"))),
      badCiphertext: await catchAsync(() =>
        subtle().decrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, key, new Uint8Array(16)),
      ),
    };
  },
  // NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt, first block).
  async ctrKnownAnswer() {
    const key = await aesKey("AES-CTR", fromHex("2b7e151628aed2a6abf7158809cf4f3c"));
    const counter = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const ct = await subtle().encrypt(
      { name: "AES-CTR", counter, length: 64 },
      key,
      fromHex("6bc1bee22e409f96e93d7e117393172a"),
    );
    return hex(ct);
  },
  async ctrErrors() {
    const key = await aesKey("AES-CTR", new Uint8Array(16));
    const counter = new Uint8Array(16).fill(0xff);
    return {
      zeroLength: await catchAsync(() => subtle().encrypt({ name: "AES-CTR", counter, length: 0 }, key, new ArrayBuffer(1))),
      tooMuchData: await catchAsync(() =>
        subtle().encrypt({ name: "AES-CTR", counter, length: 1 }, key, new ArrayBuffer(33)),
      ),
      shortCounter: await catchAsync(() =>
        subtle().encrypt({ name: "AES-CTR", counter: new Uint8Array(8), length: 64 }, key, new ArrayBuffer(1)),
      ),
    };
  },
  async keyShape() {
    const key = await aesKey("AES-GCM", new Uint8Array(32));
    return {
      type: key.type,
      algorithm: plainJson(key.algorithm),
      usages: key.usages,
      jwk: await subtle().exportKey("jwk", key),
    };
  },
  async badKeyLength() {
    return await catchAsync(() => aesKey("AES-GCM", new Uint8Array(10)));
  },
  async wrongAlgorithmForKey() {
    const key = await aesKey("AES-CBC", new Uint8Array(16));
    return await catchAsync(() => subtle().encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, utf8("x")));
  },
};

export const aes = query(scenarios(aesScenarios));

// ---------------------------------------------------------------------------------------------
// Asymmetric: ECDSA, ECDH, Ed25519, RSA
// ---------------------------------------------------------------------------------------------
const asymmetricScenarios = {
  async ecdsaVerify() {
    const key = await subtle().importKey("jwk", ECDSA_PUBLIC_JWK, { name: "ECDSA", namedCurve: "P-256" }, true, [
      "verify",
    ]);
    const sig = fromHex(ECDSA_SIGNATURE_HEX);
    const alg = { name: "ECDSA", hash: "SHA-256" };
    return {
      good: await subtle().verify(alg, key, sig, utf8("hello ecdsa")),
      otherMessage: await subtle().verify(alg, key, sig, utf8("hello ECDSA")),
      shortSignature: await subtle().verify(alg, key, sig.slice(0, 63), utf8("hello ecdsa")),
      type: key.type,
      algorithm: plainJson(key.algorithm),
    };
  },
  async ecdsaSignInQuery() {
    const key = await subtle().importKey(
      "jwk",
      ECDH_ALICE_PRIVATE_JWK,
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    return await catchAsync(() => subtle().sign({ name: "ECDSA", hash: "SHA-256" }, key, utf8("x")));
  },
  async ecdhDeriveBits() {
    const priv = await subtle().importKey("jwk", ECDH_ALICE_PRIVATE_JWK, { name: "ECDH", namedCurve: "P-256" }, false, [
      "deriveBits",
    ]);
    const pub = await subtle().importKey("jwk", ECDH_BOB_PUBLIC_JWK, { name: "ECDH", namedCurve: "P-256" }, true, []);
    const full = await subtle().deriveBits({ name: "ECDH", public: pub }, priv, 256);
    const partial = await subtle().deriveBits({ name: "ECDH", public: pub }, priv, 128);
    return { full: hex(full), partial: hex(partial) };
  },
  async ed25519Sign() {
    const priv = await subtle().importKey(
      "jwk",
      {
        kty: "OKP",
        crv: "Ed25519",
        d: base64url(fromHex(ED25519_SECRET_HEX)),
        x: base64url(fromHex(ED25519_PUBLIC_HEX)),
      },
      "Ed25519",
      false,
      ["sign"],
    );
    return hex(await subtle().sign("Ed25519", priv, new Uint8Array(0)));
  },
  async ed25519Verify() {
    const pub = await subtle().importKey("raw", fromHex(ED25519_PUBLIC_HEX), "Ed25519", true, ["verify"]);
    const sig = fromHex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    const bad = sig.slice();
    bad[0] ^= 1;
    return {
      good: await subtle().verify("Ed25519", pub, sig, new Uint8Array(0)),
      bad: await subtle().verify("Ed25519", pub, bad, new Uint8Array(0)),
      algorithm: plainJson(pub.algorithm),
      exported: hex(await subtle().exportKey("raw", pub)),
    };
  },
  async ed25519ImportErrors() {
    return {
      shortKey: await catchAsync(() => subtle().importKey("raw", new Uint8Array(31), "Ed25519", true, ["verify"])),
      signUsageOnPublic: await catchAsync(() =>
        subtle().importKey("raw", fromHex(ED25519_PUBLIC_HEX), "Ed25519", true, ["sign"]),
      ),
    };
  },
  // RSASSA-PKCS1-v1_5 signatures are deterministic, so signing works in a query.
  async rsaPkcs1() {
    const priv = await subtle().importKey(
      "pkcs8",
      b64ToBytes(RSA_PKCS8_B64),
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const pub = await subtle().importKey(
      "spki",
      b64ToBytes(RSA_SPKI_B64),
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      true,
      ["verify"],
    );
    const sig = await subtle().sign("RSASSA-PKCS1-v1_5", priv, utf8("hello rsa"));
    return {
      length: sig.byteLength,
      signatureDigest: await digestHex("SHA-256", sig),
      verifies: await subtle().verify("RSASSA-PKCS1-v1_5", pub, sig, utf8("hello rsa")),
      algorithm: {
        name: pub.algorithm.name,
        modulusLength: pub.algorithm.modulusLength,
        hash: pub.algorithm.hash.name,
        publicExponent: Array.from(
          ArrayBuffer.isView(pub.algorithm.publicExponent)
            ? pub.algorithm.publicExponent
            : new Uint8Array(pub.algorithm.publicExponent),
        ),
      },
    };
  },
  async rsaPssSignInQuery() {
    const priv = await subtle().importKey(
      "pkcs8",
      b64ToBytes(RSA_PKCS8_B64),
      { name: "RSA-PSS", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return await catchAsync(() => subtle().sign({ name: "RSA-PSS", saltLength: 32 }, priv, utf8("x")));
  },
};

export const asymmetric = query(scenarios(asymmetricScenarios));

// ---------------------------------------------------------------------------------------------
// Key generation (needs cryptographic randomness: actions only)
// ---------------------------------------------------------------------------------------------
const generateScenarios = {
  async hmac() {
    const key = await subtle().generateKey({ name: "HMAC", hash: "SHA-512" }, true, ["sign", "verify"]);
    const raw = await subtle().exportKey("raw", key);
    return { type: key.type, algorithm: plainJson(key.algorithm), usages: key.usages, rawLength: raw.byteLength };
  },
  async aesGcmRoundTrip() {
    const key = await subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await subtle().encrypt({ name: "AES-GCM", iv }, key, utf8("round trip"));
    const pt = await subtle().decrypt({ name: "AES-GCM", iv }, key, ct);
    return {
      algorithm: plainJson(key.algorithm),
      extractable: key.extractable,
      ciphertextLength: ct.byteLength,
      plaintext: new TextDecoder().decode(pt),
    };
  },
  async ecdsa() {
    const { privateKey, publicKey } = await subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    const sig = await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, utf8("m"));
    return {
      privateType: privateKey.type,
      publicType: publicKey.type,
      privateUsages: privateKey.usages,
      publicUsages: publicKey.usages,
      publicExtractable: publicKey.extractable,
      signatureLength: sig.byteLength,
      verifies: await subtle().verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, sig, utf8("m")),
    };
  },
  async ed25519() {
    const { privateKey, publicKey } = await subtle().generateKey("Ed25519", true, ["sign", "verify"]);
    const sig = await subtle().sign("Ed25519", privateKey, utf8("m"));
    const jwk = await subtle().exportKey("jwk", publicKey);
    return {
      algorithm: plainJson(privateKey.algorithm),
      privateUsages: privateKey.usages,
      publicUsages: publicKey.usages,
      signatureLength: sig.byteLength,
      verifies: await subtle().verify("Ed25519", publicKey, sig, utf8("m")),
      jwkFields: [jwk.kty, jwk.crv, jwk.x.length],
    };
  },
  async notExtractable() {
    const key = await subtle().generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return await catchAsync(() => subtle().exportKey("raw", key));
  },
  async badUsages() {
    return await catchAsync(() => subtle().generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["encrypt"]));
  },
  async unknownAlgorithm() {
    return await catchAsync(() => subtle().generateKey({ name: "foo" }, false, ["sign"]));
  },
};

export const generateAction = action(scenarios(generateScenarios));
export const generateQuery = query(scenarios(generateScenarios));
export const generateMutation = mutation(scenarios(generateScenarios));

// ---------------------------------------------------------------------------------------------
// Unimplemented methods
// ---------------------------------------------------------------------------------------------
export const unimplemented = query(
  scenarios({
    async wrapKey() {
      try {
        await subtle().wrapKey("raw", null, null, "AES-KW");
      } catch (e) {
        return "caught: " + e.message;
      }
      return "no error";
    },
  }),
);
