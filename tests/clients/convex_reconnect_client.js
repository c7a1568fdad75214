// The convex package's ConvexClient through a supervisor restart, driven by the test over stdin and
// stdout: node convex_reconnect_client.js <client URL of tests/apps/site>.
//   prints "subscribed"  (posts:count is live)          the test kills the supervisor, writes "killed"
//   prints "sent"        (a mutation waits, unsent)     the test restarts it, writes "restarted"
//   prints "reconnect client: ok" once the mutation resolved, the subscription moved, and the mutation
//   was applied exactly once.
const assert = require("node:assert/strict");
const readline = require("node:readline");
const { ConvexClient, ConvexHttpClient } = require("convex/browser");
const { anyApi: api } = require("convex/server");

const [url] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on("line", (line) => waiting.shift()?.(line.trim()));
const nextLine = () => new Promise((resolve) => waiting.push(resolve));

function within(ms, promise, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function main() {
  const client = new ConvexClient(url);
  const seen = [];
  let notify = () => {};
  client.onUpdate(api.posts.count, {}, (count) => { seen.push(count); notify(); });
  const countReaches = (n) => new Promise((resolve) => {
    notify = () => { if (seen.at(-1) === n) resolve(); };
    notify();
  });
  await within(20000, countReaches(0), "the first count");
  console.log("STEP subscribed");
  assert.equal(await nextLine(), "killed");

  const sent = client.mutation(api.posts.post, { author: "offline", body: "sent while the supervisor was down" });
  console.log("STEP sent");
  assert.equal(await nextLine(), "restarted");
  const id = await within(60000, sent, "the mutation after the restart");
  assert.equal(typeof id, "string");
  await within(60000, countReaches(1), "the count after the restart");
  // Exactly once, as a fresh client reads it.
  assert.equal(await new ConvexHttpClient(url).query(api.posts.count, {}), 1);
  await client.close();
  console.log("STEP reconnect client: ok");
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
