// The Convex HTTP API as Convex's own client and a browser's fetch see it: the unmodified `convex`
// npm package's ConvexHttpClient, pointed at a deployment's client URL, plus raw requests for what
// the client never sends (CORS preflights, wrong content types, the "json" format, /api/run).
//
//   node convex_http_client.js CLIENT_URL ADMIN_KEY
//
// CLIENT_URL is <http_url>/d/<deployment> of a deployment running tests/apps/chat. Prints
// "convex http client: ok" and exits 0 when everything matched; otherwise says what did not, exits 1.
"use strict";
const assert = require("node:assert/strict");
const { ConvexHttpClient } = require("convex/browser");
const { ConvexError } = require("convex/values");
const { anyApi } = require("convex/server");

const api = anyApi;

async function post(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

async function main([url, adminKey]) {
  // What an app's code does: one URL, the generated api, nothing Isobar-specific.
  const client = new ConvexHttpClient(url);
  client.debug = false;  // log lines are checked below, not printed
  const id = await client.mutation(api.messages.send, { channel: "http", author: "ada", body: "over http" });
  assert.equal(typeof id, "string");
  const page = await client.query(api.messages.list, { channel: "http", paginationOpts: { numItems: 5, cursor: null } });
  assert.deepEqual(page.page.map((m) => m.body), ["over http"]);
  assert.equal(page.page[0]._id, id);
  const summary = await client.action(api.messages.summarize, { channel: "http" });
  assert.equal(summary.count, 1);
  assert.equal(summary.newest, "over http");

  // Int64 both ways: the client asks for convex_encoded_json and gets a bigint back.
  assert.equal(await client.mutation(api.counters.increment, { name: "h" }), 1n);
  assert.equal(await client.query(api.counters.get, { name: "h" }), 1n);

  // Errors as Convex reports them: a ConvexError carries its data, anything else a message.
  await assert.rejects(client.mutation(api.messages.send, { channel: "http", author: "ada", body: " " }), (error) => {
    assert.ok(error instanceof ConvexError, `not a ConvexError: ${error}`);
    assert.deepEqual(error.data, { code: "EMPTY_BODY", channel: "http" });
    return true;
  });
  await assert.rejects(client.query(api.messages.nope, {}), (error) => {
    assert.match(error.message, /^\[Request ID: [0-9a-f]{16}\] Server Error\nCould not find public function for 'messages:nope'\./);
    return true;
  });
  await assert.rejects(client.mutation(api.messages.send, { channel: "http", author: "ada", body: "x".repeat(2000) }), (error) => {
    assert.match(error.message, /Uncaught Error: message too long/);
    return true;
  });
  await assert.rejects(client.query(api.messages.send, { channel: "http", author: "ada", body: "b" }), /Trying to execute messages.js:send as Query, but it is defined as Mutation/);
  await assert.rejects(client.query(api.counters.get, { name: 5 }), /ArgumentValidationError/);

  // Internal functions: not public, reachable with the admin key, which may also act as a user.
  await assert.rejects(client.query(api.messages.channelStats, { channel: "http" }), /Could not find public function/);
  const admin = new ConvexHttpClient(url);
  admin.setAdminAuth(adminKey);
  assert.deepEqual(await admin.query(api.messages.channelStats, { channel: "http" }), { count: 1, latest: "over http" });
  assert.equal(await admin.query(api.counters.whoAmI, {}), null);
  admin.setAdminAuth(adminKey, { subject: "user-7", issuer: "https://issuer.example" });
  assert.equal(await admin.query(api.counters.whoAmI, {}), "user-7");
  const wrongKey = new ConvexHttpClient(url);
  wrongKey.setAdminAuth("not-the-key");
  await assert.rejects(wrongKey.query(api.counters.get, { name: "h" }), /BadAdminKey/);
  // No one acts as a user without the admin key: an empty key with an identity is refused.
  const spoofed = Buffer.from(JSON.stringify({ subject: "victim", issuer: "https://issuer.example" })).toString("base64");
  for (const header of [`Convex :${spoofed}`, `Convex  :${spoofed}`, `Convex not-the-key:${spoofed}`]) {
    const impersonation = await post(`${url}/api/query`, { path: "counters:whoAmI", args: {} }, { Authorization: header });
    assert.ok(impersonation.status === 400 || impersonation.status === 401, `${header}: ${impersonation.status} ${impersonation.text}`);
    assert.ok(!impersonation.text.includes("victim"), impersonation.text);
  }
  // A user's token is checked, never trusted as sent: this app has no auth.config, so a well-formed
  // token matches no provider, and a malformed one is not even read.
  const user = new ConvexHttpClient(url);
  const claims = Buffer.from(JSON.stringify({ iss: "https://issuer.example", sub: "victim", aud: "x", exp: 4e9 })).toString("base64url");
  user.setAuth(`eyJhbGciOiJSUzI1NiJ9.${claims}.c2ln`);
  await assert.rejects(user.query(api.counters.whoAmI, {}), /NoAuthProvider.*no providers configured/);
  user.setAuth("header.payload.signature");
  await assert.rejects(user.query(api.counters.whoAmI, {}), /InvalidAuthHeader.*Could not parse JWT payload/);

  // Raw HTTP: the "json" format (the default), /api/run, a bad body, and what a browser sends first.
  const clean = await post(`${url}/api/query`, { path: "counters:get", args: { name: "h" } });
  assert.equal(clean.status, 200);
  assert.deepEqual(clean.json(), { status: "success", value: "1" });
  const encoded = await post(`${url}/api/query`, { path: "counters:get", args: [{ name: "h" }], format: "convex_encoded_json" });
  assert.deepEqual(encoded.json(), { status: "success", value: { $integer: "AQAAAAAAAAA=" } });
  const run = await post(`${url}/api/run/counters/increment`, { args: { name: "h" } });
  assert.deepEqual(run.json(), { status: "success", value: "2" });
  // A consistent query (query_ts, then query_at_ts), and an admin's call of any kind (/api/function).
  assert.equal(await client.consistentQuery(api.counters.get, { name: "h" }), 2n);
  const ts = await post(`${url}/api/query_ts`, "");
  assert.match(ts.json().ts, /^[A-Za-z0-9+/]{11}=$/);
  const atTs = await post(`${url}/api/query_at_ts`, { path: "counters:get", args: { name: "h" }, ts: ts.json().ts });
  assert.deepEqual(atTs.json(), { status: "success", value: "2" });
  const asAdmin = await post(`${url}/api/function`, { path: "counters:increment", args: { name: "h" } }, { Authorization: `Convex ${adminKey}` });
  assert.deepEqual(asAdmin.json(), { status: "success", value: "3" });
  const notAdmin = await post(`${url}/api/function`, { path: "counters:get", args: { name: "h" } });
  assert.equal(notAdmin.status, 403);
  assert.equal(notAdmin.json().code, "BadDeployKey");
  // What the counter read at the earlier timestamp is still what it was then.
  const before = await post(`${url}/api/query_at_ts`, { path: "counters:get", args: { name: "h" }, ts: ts.json().ts });
  assert.deepEqual(before.json(), { status: "success", value: "2" });
  // A batch: every query at one timestamp, each with its own format; a query's failure is its result;
  // a malformed query refuses the batch.
  const batch = await post(`${url}/api/query_batch`, { queries: [
    { path: "counters:get", args: { name: "h" } },
    { path: "counters:get", args: { name: "h" }, format: "convex_encoded_json" },
    { path: "messages:broken", args: {} },
  ] });
  assert.equal(batch.status, 200, batch.text);
  const [plain, tagged, failed] = batch.json().results;
  assert.deepEqual(plain, { status: "success", value: "3" });
  assert.deepEqual(tagged, { status: "success", value: { $integer: "AwAAAAAAAAA=" } });
  assert.equal(failed.status, "error");
  assert.match(failed.errorMessage, /Server Error/);
  assert.deepEqual((await post(`${url}/api/query_batch`, { queries: [] })).json(), { results: [] });
  const badBatch = await post(`${url}/api/query_batch`, { queries: [{ path: "counters:get", args: {} }, { args: {} }] });
  assert.equal(badBatch.status, 400);
  assert.equal(badBatch.json().code, "BadJsonBody");
  const logged = await post(`${url}/api/mutation`, { path: "messages:send", args: { channel: "logs", author: "bo", body: "hi" } });
  assert.deepEqual(logged.json().logLines, ["[LOG] 'send to logs by bo'"]);
  const badType = await post(`${url}/api/query`, "{}", { "Content-Type": "text/plain" });
  assert.equal(badType.status, 400);
  assert.deepEqual(badType.json(), { code: "BadJsonBody", message: "Expected request with `Content-Type: application/json`" });
  const badJson = await post(`${url}/api/query`, "{not json");
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json().code, "BadJsonBody");
  const badFormat = await post(`${url}/api/query`, { path: "counters:get", args: {}, format: "xml" });
  assert.equal(badFormat.status, 400);
  assert.equal(badFormat.json().code, "BadFormat");
  const preflight = await fetch(`${url}/api/mutation`, {
    method: "OPTIONS",
    headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,convex-client" },
  });
  assert.equal(preflight.status, 200);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(preflight.headers.get("access-control-allow-credentials"), "true");
  assert.equal(preflight.headers.get("access-control-allow-headers"), "content-type,convex-client");
  assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
  const cors = await post(`${url}/api/query`, { path: "counters:get", args: { name: "h" } }, { Origin: "https://app.example" });
  assert.equal(cors.headers.get("access-control-allow-origin"), "https://app.example");

  // No way into another deployment, or past the API: an unknown deployment and unknown paths are 404.
  const base = url.slice(0, url.lastIndexOf("/d/"));
  const elsewhere = await post(`${base}/d/no-such-deployment/api/query`, { path: "counters:get", args: { name: "h" } });
  assert.equal(elsewhere.status, 404, elsewhere.text);
  for (const path of ["/d/../api/query", "/d/UPPER/api/query", "/api/query", "/d/x/api/nothing", "/d/x/api/query/extra"]) {
    assert.equal((await post(`${base}${path}`, {})).status, 404, path);
  }
  console.log("convex http client: ok");
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
