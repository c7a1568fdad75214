// Conformance area "web_apis": crypto.subtle's asymmetric keys checked against Node's WebCrypto
// (fixtures in web_apis_crypto_fixtures.js): RSA-PSS and RSA-OAEP, key export in every format, P-384,
// Ed25519 in PKCS#8/SPKI, AES-CTR counter wrap-around, Convex's error messages for bad keys, and key
// pairs generated in actions.
import { action, query } from "./_generated/server";
import {
  AES_CTR_WRAP_HEX,
  EC_P256_RAW_HEX,
  EC_P256_SPKI_HEX,
  EC_P384_PUBLIC_JWK,
  EC_P384_SIGNATURE_HEX,
  ECDSA_PUBLIC_JWK,
  ED25519_PKCS8_B64,
  ED25519_SIGNATURE_HEX,
  ED25519_SPKI_B64,
  RSA_OAEP_CIPHERTEXT_B64,
  RSA_PKCS8_B64,
  RSA_PRIVATE_JWK,
  RSA_PSS_SIGNATURE_B64,
  RSA_SPKI_B64,
} from "./web_apis_crypto_fixtures";
import { catchAsync, fromHex, hex, scenarios, utf8 } from "./web_apis_util";

const subtle = () => crypto.subtle;
const fromB64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const toB64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));
const rsa = (name, usages, format = "pkcs8", extractable = false) =>
  subtle().importKey(format, fromB64(format === "pkcs8" ? RSA_PKCS8_B64 : RSA_SPKI_B64), { name, hash: "SHA-256" },
    extractable, usages);

const importScenarios = {
  async rsaPssVerify() {
    const key = await rsa("RSA-PSS", ["verify"], "spki");
    const signature = fromB64(RSA_PSS_SIGNATURE_B64);
    const tampered = signature.slice();
    tampered[10] ^= 1;
    const alg = { name: "RSA-PSS", saltLength: 32 };
    return {
      good: await subtle().verify(alg, key, signature, utf8("hello pss")),
      tampered: await subtle().verify(alg, key, tampered, utf8("hello pss")),
      otherSaltLength: await subtle().verify({ name: "RSA-PSS", saltLength: 20 }, key, signature, utf8("hello pss")),
    };
  },
  async rsaOaepDecrypt() {
    const key = await rsa("RSA-OAEP", ["decrypt"]);
    const plaintext = await subtle().decrypt({ name: "RSA-OAEP", label: utf8("L") }, key, fromB64(RSA_OAEP_CIPHERTEXT_B64));
    return {
      plaintext: new TextDecoder().decode(plaintext),
      wrongLabel: await catchAsync(() => subtle().decrypt({ name: "RSA-OAEP" }, key, fromB64(RSA_OAEP_CIPHERTEXT_B64))),
    };
  },
  async rsaOaepEncryptInQuery() {
    const key = await rsa("RSA-OAEP", ["encrypt"], "spki");
    return await catchAsync(() => subtle().encrypt({ name: "RSA-OAEP" }, key, utf8("x")));
  },
  // Every member of the JWK equals Node's export of the same key.
  async rsaExportJwk() {
    const key = await rsa("RSASSA-PKCS1-v1_5", ["sign"], "pkcs8", true);
    const jwk = await subtle().exportKey("jwk", key);
    const names = Object.keys(jwk);
    return { members: names, differing: names.filter((n) => JSON.stringify(jwk[n]) !== JSON.stringify(RSA_PRIVATE_JWK[n])) };
  },
  async rsaExportRoundTrip() {
    const key = await rsa("RSASSA-PKCS1-v1_5", ["sign"], "pkcs8", true);
    const fromJwk = await subtle().importKey("jwk", RSA_PRIVATE_JWK, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      true, ["sign"]);
    const publicKey = await rsa("RSASSA-PKCS1-v1_5", ["verify"], "spki", true);
    return {
      pkcs8Same: toB64(await subtle().exportKey("pkcs8", key)) === RSA_PKCS8_B64,
      jwkImportPkcs8Same: toB64(await subtle().exportKey("pkcs8", fromJwk)) === RSA_PKCS8_B64,
      spkiSame: toB64(await subtle().exportKey("spki", publicKey)) === RSA_SPKI_B64,
      publicJwk: Object.keys(await subtle().exportKey("jwk", publicKey)),
      raw: await catchAsync(() => subtle().exportKey("raw", publicKey)),
      spkiOfPrivate: await catchAsync(() => subtle().exportKey("spki", key)),
    };
  },
  async ecExport() {
    const key = await subtle().importKey("jwk", ECDSA_PUBLIC_JWK, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const fromSpki = await subtle().importKey("spki", fromHex(EC_P256_SPKI_HEX), { name: "ECDSA", namedCurve: "P-256" },
      true, ["verify"]);
    const fromRaw = await subtle().importKey("raw", fromHex(EC_P256_RAW_HEX), { name: "ECDSA", namedCurve: "P-256" },
      true, ["verify"]);
    return {
      spki: hex(await subtle().exportKey("spki", key)) === EC_P256_SPKI_HEX,
      raw: hex(await subtle().exportKey("raw", key)) === EC_P256_RAW_HEX,
      jwkFromSpki: await subtle().exportKey("jwk", fromSpki),
      jwkFromRaw: (await subtle().exportKey("jwk", fromRaw)).x === ECDSA_PUBLIC_JWK.x,
      pkcs8OfPublic: await catchAsync(() => subtle().exportKey("pkcs8", key)),
    };
  },
  async ecdsaP384Verify() {
    const key = await subtle().importKey("jwk", EC_P384_PUBLIC_JWK, { name: "ECDSA", namedCurve: "P-384" }, false,
      ["verify"]);
    const signature = fromHex(EC_P384_SIGNATURE_HEX);
    return {
      length: signature.length,
      good: await subtle().verify({ name: "ECDSA", hash: "SHA-384" }, key, signature, utf8("hello p384")),
      otherHash: await subtle().verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, utf8("hello p384")),
    };
  },
  async ed25519Pkcs8() {
    const privateKey = await subtle().importKey("pkcs8", fromB64(ED25519_PKCS8_B64), "Ed25519", true, ["sign"]);
    const publicKey = await subtle().importKey("spki", fromB64(ED25519_SPKI_B64), { name: "Ed25519" }, true, ["verify"]);
    const jwk = await subtle().exportKey("jwk", privateKey);
    return {
      signature: hex(await subtle().sign("Ed25519", privateKey, utf8("hello ed"))) === ED25519_SIGNATURE_HEX,
      verifies: await subtle().verify("Ed25519", publicKey, fromHex(ED25519_SIGNATURE_HEX), utf8("hello ed")),
      pkcs8Same: toB64(await subtle().exportKey("pkcs8", privateKey)) === ED25519_PKCS8_B64,
      spkiSame: toB64(await subtle().exportKey("spki", publicKey)) === ED25519_SPKI_B64,
      jwkMembers: Object.keys(jwk),
      jwkPublicMatches: jwk.x === (await subtle().exportKey("jwk", publicKey)).x,
      rawOfPrivate: await catchAsync(() => subtle().exportKey("raw", privateKey)),
    };
  },
  async aesCtrWrap() {
    const key = await subtle().importKey("raw", new Uint8Array(16).fill(1), "AES-CTR", false, ["encrypt", "decrypt"]);
    const counter = new Uint8Array(16).fill(0xff);
    const out = await subtle().encrypt({ name: "AES-CTR", counter, length: 2 }, key, new Uint8Array(48));
    return hex(out) === AES_CTR_WRAP_HEX;
  },
  async importErrors() {
    const p256 = { name: "ECDSA", namedCurve: "P-256" };
    return {
      curveMismatch: await catchAsync(() =>
        subtle().importKey("jwk", ECDSA_PUBLIC_JWK, { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"])),
      signOnPublic: await catchAsync(() => subtle().importKey("jwk", ECDSA_PUBLIC_JWK, p256, true, ["sign"])),
      badSpki: await catchAsync(() => subtle().importKey("spki", new Uint8Array([48, 3, 1, 1, 0]), p256, true, [])),
      rsaSpkiAsEc: await catchAsync(() => subtle().importKey("spki", fromB64(RSA_SPKI_B64), p256, true, [])),
      badPoint: await catchAsync(() => subtle().importKey("raw", new Uint8Array(65).fill(4), p256, true, [])),
      badCoordinates: await catchAsync(() =>
        subtle().importKey("jwk", { ...ECDSA_PUBLIC_JWK, y: ECDSA_PUBLIC_JWK.x }, p256, true, [])),
      rsaRaw: await catchAsync(() =>
        subtle().importKey("raw", new Uint8Array(8), { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"])),
      rsaMissingHash: await catchAsync(() => subtle().importKey("spki", fromB64(RSA_SPKI_B64), { name: "RSA-PSS" }, true, [])),
      unknownCurve: await catchAsync(() =>
        subtle().importKey("raw", fromHex(EC_P256_RAW_HEX), { name: "ECDH", namedCurve: "P-192" }, true, [])),
      jwkKty: await catchAsync(() => subtle().importKey("jwk", { kty: "RSA" }, p256, true, [])),
      jwkUse: await catchAsync(() => subtle().importKey("jwk", { ...ECDSA_PUBLIC_JWK, use: "enc" }, p256, true, ["verify"])),
      jwkKeyOps: await catchAsync(() =>
        subtle().importKey("jwk", { ...ECDSA_PUBLIC_JWK, key_ops: ["sign"] }, p256, true, ["verify"])),
      jwkExt: await catchAsync(() => subtle().importKey("jwk", { ...ECDSA_PUBLIC_JWK, ext: false }, p256, true, [])),
      jwkAlg: await catchAsync(() => subtle().importKey("jwk", { ...ECDSA_PUBLIC_JWK, alg: "ES384" }, p256, true, [])),
    };
  },
  async wrongKeyForAlgorithm() {
    const pss = await rsa("RSA-PSS", ["verify"], "spki");
    const ec = await subtle().importKey("jwk", ECDSA_PUBLIC_JWK, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    return {
      pkcs1WithPssKey: await catchAsync(() => subtle().verify("RSASSA-PKCS1-v1_5", pss, new Uint8Array(256), utf8("x"))),
      ed25519WithEcKey: await catchAsync(() => subtle().verify("Ed25519", ec, new Uint8Array(64), utf8("x"))),
      pssWithoutSaltLength: await catchAsync(() => subtle().verify("RSA-PSS", pss, new Uint8Array(256), utf8("x"))),
      ecdhWithEcdsaKey: await catchAsync(() => subtle().deriveBits({ name: "ECDH", public: ec }, ec, 128)),
    };
  },
};

export const imports = query(scenarios(importScenarios));

const generateScenarios = {
  async rsaOaepRoundTrip() {
    const { privateKey, publicKey } = await subtle().generateKey(
      { name: "RSA-OAEP", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["encrypt", "decrypt", "wrapKey"],
    );
    const ciphertext = await subtle().encrypt({ name: "RSA-OAEP" }, publicKey, utf8("round trip"));
    return {
      privateUsages: privateKey.usages,
      publicUsages: publicKey.usages,
      modulusLength: publicKey.algorithm.modulusLength,
      publicExponent: Array.from(ArrayBuffer.isView(publicKey.algorithm.publicExponent)
        ? publicKey.algorithm.publicExponent : new Uint8Array(publicKey.algorithm.publicExponent)),
      ciphertextLength: ciphertext.byteLength,
      plaintext: new TextDecoder().decode(await subtle().decrypt({ name: "RSA-OAEP" }, privateKey, ciphertext)),
      jwkAlg: (await subtle().exportKey("jwk", publicKey)).alg,
    };
  },
  async rsaPssRoundTrip() {
    const { privateKey, publicKey } = await subtle().generateKey(
      { name: "RSA-PSS", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-384" },
      false,
      ["sign", "verify"],
    );
    const signature = await subtle().sign({ name: "RSA-PSS", saltLength: 48 }, privateKey, utf8("m"));
    return {
      length: signature.byteLength,
      verifies: await subtle().verify({ name: "RSA-PSS", saltLength: 48 }, publicKey, signature, utf8("m")),
    };
  },
  async rsaBadModulus() {
    return await catchAsync(() =>
      subtle().generateKey({ name: "RSA-PSS", modulusLength: 256, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        false, ["sign"]));
  },
  async ecdhAgreement() {
    const alg = { name: "ECDH", namedCurve: "P-384" };
    const alice = await subtle().generateKey(alg, false, ["deriveBits"]);
    const bob = await subtle().generateKey(alg, false, ["deriveBits"]);
    const ab = await subtle().deriveBits({ name: "ECDH", public: bob.publicKey }, alice.privateKey, null);
    const ba = await subtle().deriveBits({ name: "ECDH", public: alice.publicKey }, bob.privateKey, 384);
    return {
      publicUsages: alice.publicKey.usages,
      length: ab.byteLength,
      agree: hex(ab) === hex(ba),
      tooLong: await catchAsync(() => subtle().deriveBits({ name: "ECDH", public: bob.publicKey }, alice.privateKey, 392)),
    };
  },
  async ecdsaP521() {
    const { privateKey, publicKey } = await subtle().generateKey({ name: "ECDSA", namedCurve: "P-521" }, true,
      ["sign", "verify"]);
    const signature = await subtle().sign({ name: "ECDSA", hash: "SHA-512" }, privateKey, utf8("m"));
    const jwk = await subtle().exportKey("jwk", privateKey);
    return {
      length: signature.byteLength,
      verifies: await subtle().verify({ name: "ECDSA", hash: "SHA-512" }, publicKey, signature, utf8("m")),
      jwk: [jwk.kty, jwk.crv, jwk.x.length, jwk.y.length, jwk.d.length],
    };
  },
  async x25519() {
    const { privateKey, publicKey } = await subtle().generateKey("X25519", true, ["deriveBits"]);
    const jwk = await subtle().exportKey("jwk", publicKey);
    return {
      algorithm: privateKey.algorithm,
      privateUsages: privateKey.usages,
      publicUsages: publicKey.usages,
      jwk: [jwk.kty, jwk.crv, jwk.x.length],
      raw: (await subtle().exportKey("raw", publicKey)).byteLength,
    };
  },
  // Convex has no X25519 key agreement yet: deriveBits stops the function.
  async x25519DeriveBits() {
    const { privateKey, publicKey } = await subtle().generateKey("X25519", false, ["deriveBits"]);
    try {
      await subtle().deriveBits({ name: "X25519", public: publicKey }, privateKey, 256);
    } catch (e) {
      return "caught: " + e.message;
    }
    return "no error";
  },
  async uselessPrivateKey() {
    return await catchAsync(() => subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]));
  },
};

export const generate = action(scenarios(generateScenarios));
