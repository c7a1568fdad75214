// Signing in as a Convex frontend does, with the unmodified `convex` npm package: ConvexHttpClient
// and the WebSocket ConvexClient given a user's token (setAuth), against the signin app.
//
//   node signin_client.js CLIENT_URL ISSUER_URL
//
// Prints "signin client: ok" and exits 0 when everything matched; otherwise says what did not, exits 1.
"use strict";
const assert = require("node:assert/strict");
const { ConvexClient, ConvexHttpClient } = require("convex/browser");
const { anyApi: api } = require("convex/server");
const WebSocket = require("ws");

const [url, issuer] = process.argv.slice(2);
const mint = async (query) => (await fetch(`${issuer}/token?${query}`)).text();

async function main() {
  // HTTP: a signed-in user is stored, then posts; a bad token is refused with Convex's 401.
  const http = new ConvexHttpClient(url);
  http.setAuth(await mint("sub=bob&name=Bob&alg=ES256"));
  const id = await http.mutation(api.users.store, {});
  assert.equal(typeof id, "string");
  assert.equal(await http.mutation(api.users.store, {}), id, "the same user the second time");
  await http.mutation(api.messages.send, { body: "hello from bob" });
  const me = await http.query(api.users.whoAmI, {});
  assert.equal(me.subject, "bob");
  assert.equal(me.name, "Bob");
  assert.equal(me.tokenIdentifier, `${issuer}|bob`);
  http.setAuth(await mint("sub=bob&aud=someone-else"));
  await assert.rejects(http.query(api.users.whoAmI, {}), /No auth provider found matching the given token/);
  http.clearAuth();
  assert.equal(await http.query(api.users.whoAmI, {}), null);

  // WebSocket: the sync protocol's Authenticate; the live query answers as the user.
  const client = new ConvexClient(url);
  const authenticated = new Promise((resolve) => {
    client.setAuth(async () => mint("sub=carol&name=Carol"), (isAuthenticated) => {
      if (isAuthenticated) resolve();
    });
  });
  const seen = new Promise((resolve, reject) => {
    client.onUpdate(api.users.whoAmI, {}, (value) => {
      if (value !== null && value.subject === "carol") resolve(value);
    }, reject);
  });
  await authenticated;
  const carol = await seen;
  assert.equal(carol.name, "Carol");
  assert.deepEqual(carol.org, { id: 7, role: "owner" });
  await client.mutation(api.users.store, {});
  await client.mutation(api.messages.send, { body: "hello from carol" });
  const messages = await client.query(api.messages.list, {});
  assert.deepEqual(messages.map((m) => `${m.author}: ${m.body}`).sort(), ["Bob: hello from bob", "Carol: hello from carol"]);
  await client.close();

  // A session's token expires: the server says so, as Convex does (AuthError "Convex token identity
  // expired", authUpdateAttempted false), and closes; spoken raw, since the convex client refreshes a
  // short token before it expires.
  const expired = await new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/api/sync`);
    const timer = setTimeout(() => reject(new Error("no AuthError within 20 s")), 20000);
    socket.on("open", async () => {
      socket.send(JSON.stringify({ type: "Connect", sessionId: "expiring", connectionCount: 0, lastCloseReason: null }));
      socket.send(JSON.stringify({ type: "Authenticate", tokenType: "User", value: await mint("sub=hal&exp=2"), baseVersion: 0 }));
    });
    socket.on("message", (data) => {
      const message = JSON.parse(String(data));
      if (message.type !== "AuthError") return;
      clearTimeout(timer);
      resolve(message);
    });
    socket.on("error", reject);
  });
  assert.deepEqual(expired, { type: "AuthError", error: "Convex token identity expired", baseVersion: 1, authUpdateAttempted: false });
  console.log("signin client: ok");
}

main().then(() => process.exit(0), (error) => {
  console.error("signin client failed:", error);
  process.exit(1);
});
