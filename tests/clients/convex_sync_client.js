// Convex's sync protocol as its own clients speak it: the unmodified `convex` npm package's
// ConvexClient (the WebSocket client ConvexReactClient is built on), pointed at a deployment's client
// URL. Two clients: one watches, the other writes.
//
//   node convex_sync_client.js CLIENT_URL ADMIN_KEY
//
// CLIENT_URL is <http_url>/d/<deployment> of a deployment running tests/apps/chat. Prints
// "convex sync client: ok" and exits 0 when everything matched; otherwise says what did not, exits 1.
"use strict";
const assert = require("node:assert/strict");
const { ConvexClient } = require("convex/browser");
const { ConvexError } = require("convex/values");
const { anyApi: api } = require("convex/server");

// Resolves with the first value of `query` that `predicate` accepts, through a live subscription.
function until(client, query, args, predicate) {
  return new Promise((resolve, reject) => {
    let unsubscribe = null;
    let done = false;
    const subscription = client.onUpdate(
      query,
      args,
      (value) => {
        if (done || !predicate(value)) return;
        done = true;
        if (unsubscribe) unsubscribe();
        resolve(value);
      },
      (error) => {
        done = true;
        reject(error);
      },
    );
    unsubscribe = subscription;
    if (done) subscription();
  });
}

async function main([url, adminKey]) {
  const watcher = new ConvexClient(url);
  const writer = new ConvexClient(url);
  const page = { channel: "sync", paginationOpts: { numItems: 10, cursor: null } };

  // A live query: empty first, then updated by another client's mutation.
  const empty = await until(watcher, api.messages.list, page, () => true);
  assert.deepEqual(empty.page, []);
  const arrived = until(watcher, api.messages.list, page, (value) => value.page.length === 1);
  const id = await writer.mutation(api.messages.send, { channel: "sync", author: "ada", body: "live" });
  assert.equal(typeof id, "string");
  const seen = await arrived;
  assert.equal(seen.page[0].body, "live");
  assert.equal(seen.page[0]._id, id);

  // Read your writes: once a mutation resolves, the writer's own queries include it.
  await writer.mutation(api.messages.send, { channel: "sync", author: "ada", body: "second" });
  const mine = await writer.query(api.messages.list, page);
  assert.deepEqual(mine.page.map((m) => m.body), ["second", "live"]);

  // A mutation that writes nothing (its commit timestamp is not newer than what the client has seen)
  // still resolves: a transition follows its response whatever the timestamps.
  for (let i = 0; i < 3; ++i) assert.equal(typeof (await writer.mutation(api.counters.contextCalls, {})), "number");

  // Int64 through the protocol, and a mutation whose writes no watched query reads still resolves.
  assert.equal(await writer.mutation(api.counters.increment, { name: "sync" }), 1n);
  assert.equal(await watcher.query(api.counters.get, { name: "sync" }), 1n);

  // Errors: a ConvexError from a mutation, a failing query, a missing function.
  await assert.rejects(writer.mutation(api.messages.send, { channel: "sync", author: "ada", body: " " }), (error) => {
    assert.ok(error instanceof ConvexError, `not a ConvexError: ${error}`);
    assert.deepEqual(error.data, { code: "EMPTY_BODY", channel: "sync" });
    return true;
  });
  await assert.rejects(watcher.query(api.messages.broken, {}), /Server Error/);
  await assert.rejects(writer.mutation(api.messages.nope, {}), /Could not find public function for 'messages:nope'/);

  // An action, and what it wrote seen by the watcher.
  const summary = await writer.action(api.messages.summarize, { channel: "sync" });
  assert.equal(summary.count, 2);

  // Identity: an admin acting as a user reaches internal functions and is who the function sees.
  const admin = new ConvexClient(url);
  admin.setAdminAuth(adminKey, { subject: "user-9", issuer: "https://issuer.example" });
  assert.equal(await admin.query(api.counters.whoAmI, {}), "user-9");
  assert.deepEqual(await admin.query(api.messages.channelStats, { channel: "sync" }), { count: 2, latest: "second" });
  // A user's token is refused (never trusted as sent): the client hears it is not authenticated.
  const user = new ConvexClient(url);
  const refused = new Promise((resolve) => user.setAuth(async () => "header.payload.signature", (ok) => ok || resolve()));
  await refused;
  // Without the admin key, internal functions do not exist.
  await assert.rejects(watcher.query(api.messages.channelStats, { channel: "sync" }), /Could not find public function/);

  for (const client of [watcher, writer, admin, user]) await client.close();
  console.log("convex sync client: ok");
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
