// An OpenID Connect issuer of our own for tests/identity_test.cc (keys made at start, never a real
// provider): discovery document and JWKS on 127.0.0.1 (an ephemeral port, printed as "port N"), and
// tokens minted on request, including the broken ones the refusal matrix needs.
//
//   /.well-known/openid-configuration   {issuer, jwks_uri}                (Cache-Control: max-age=300)
//   /jwks                               the current RSA and P-256 keys (kids rsa-<generation>, ec-<generation>)
//   /custom/jwks                        the same keys, for the customJwt provider at <base>/custom
//   /token?alg=&sub=&aud=&iss=&exp=&nbf=&kid=&name=&email=
//                                       a token: alg RS256, ES256, none (unsigned) or HS256 keyed with the
//                                       RSA public key (the key-confusion attack); exp/nbf relative seconds
//   /rotate                             new keys (the old ones are gone from the JWKS)
//   /stats                              {jwksFetches, discoveryFetches}
const http = require("http");
const crypto = require("crypto");

let generation = 0;
let keys;
const stats = { jwksFetches: 0, discoveryFetches: 0 };
function makeKeys() {
  generation++;
  keys = {
    rsa: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }),
    ec: crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }),
  };
}
makeKeys();

const b64 = (data) => Buffer.from(data).toString("base64url");
function jwks() {
  const rsa = keys.rsa.publicKey.export({ format: "jwk" });
  const ec = keys.ec.publicKey.export({ format: "jwk" });
  return { keys: [{ ...rsa, kid: `rsa-${generation}`, alg: "RS256", use: "sig" }, { ...ec, kid: `ec-${generation}`, alg: "ES256", use: "sig" }] };
}

function token(base, q) {
  const alg = q.get("alg") ?? "RS256";
  const now = Math.floor(Date.now() / 1000);
  const header = { alg, typ: "JWT" };
  if (alg === "RS256" || alg === "HS256") header.kid = `rsa-${generation}`;
  if (alg === "ES256") header.kid = `ec-${generation}`;
  if (q.get("kid") !== null) header.kid = q.get("kid");
  const claims = { iss: q.get("iss") ?? base, sub: q.get("sub") ?? "ann", aud: q.get("aud") ?? "isobar-test", iat: now,
                   exp: now + Number(q.get("exp") ?? 3600) };
  if (q.get("nbf") !== null) claims.nbf = now + Number(q.get("nbf"));
  if (q.get("name") !== null) claims.name = q.get("name");
  if (q.get("email") !== null) {
    claims.email = q.get("email");
    claims.email_verified = true;
  }
  claims.org = { id: 7, role: "owner" };  // a custom claim
  const text = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  let signature;
  if (alg === "RS256") signature = crypto.sign("sha256", Buffer.from(text), keys.rsa.privateKey);
  else if (alg === "ES256") signature = crypto.sign("sha256", Buffer.from(text), { key: keys.ec.privateKey, dsaEncoding: "ieee-p1363" });
  else if (alg === "HS256") {
    const secret = keys.rsa.publicKey.export({ type: "spki", format: "pem" });
    signature = crypto.createHmac("sha256", secret).update(text).digest();
  } else signature = Buffer.alloc(0);
  return `${text}.${b64(signature)}`;
}

const server = http.createServer((req, res) => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const url = new URL(req.url, base);
  const json = (value) => {
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "public, max-age=300");
    res.end(JSON.stringify(value));
  };
  switch (url.pathname) {
    case "/.well-known/openid-configuration":
      stats.discoveryFetches++;
      return json({ issuer: base, jwks_uri: `${base}/jwks`, id_token_signing_alg_values_supported: ["RS256", "ES256"] });
    case "/jwks":
    case "/custom/jwks":
      stats.jwksFetches++;
      return json(jwks());
    case "/token":
      return res.end(token(base, url.searchParams));
    case "/rotate":
      makeKeys();
      return res.end(`generation ${generation}`);
    case "/stats":
      return json(stats);
    default:
      res.writeHead(404);
      res.end();
  }
});
server.listen(0, "127.0.0.1", () => console.log(`port ${server.address().port}`));
