// File storage end to end with the convex package's ConvexHttpClient and fetch, as a browser app uses
// it: node file_storage_client.js <client URL of tests/apps/site> <its site URL> <client URL of
// another deployment of the same app>. Prints "file storage client: ok" when every check holds.
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { ConvexHttpClient } = require("convex/browser");

const [clientUrl, siteUrl, otherUrl] = process.argv.slice(2);
const client = new ConvexHttpClient(clientUrl);
const other = new ConvexHttpClient(otherUrl);

async function rejects(promise, pattern) {
  await assert.rejects(promise, (error) => {
    assert.match(String(error.message ?? error), pattern);
    return true;
  });
}

async function main() {
  // Upload through a generated URL, as a browser's fetch does, with the type and a digest.
  const bytes = crypto.randomBytes(200000);
  const sha256 = crypto.createHash("sha256").update(bytes).digest();
  const uploadUrl = await client.mutation("files:generateUploadUrl", {});
  assert.ok(uploadUrl.startsWith(`${clientUrl}/api/storage/upload?token=`), uploadUrl);
  let response = await fetch(uploadUrl, {
    method: "POST", body: bytes, headers: { "content-type": "image/png", digest: `sha-256=${sha256.toString("base64")}` },
  });
  assert.equal(response.status, 200);
  const { storageId } = await response.json();
  assert.equal(typeof storageId, "string");
  // The same URL serves again (as Convex's: reusable within its hour).
  response = await fetch(uploadUrl, { method: "POST", body: "second" });
  assert.equal(response.status, 200);
  const second = (await response.json()).storageId;

  // Refused: a wrong digest, a tampered token, the token at another deployment's URL, no token.
  response = await fetch(uploadUrl, { method: "POST", body: "x", headers: { digest: `sha-256=${sha256.toString("base64")}` } });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).code, "Sha256Mismatch");
  response = await fetch(uploadUrl.replace(/.$/, (c) => (c === "0" ? "1" : "0")), { method: "POST", body: "x" });
  assert.equal(response.status, 401);
  response = await fetch(uploadUrl.replace(clientUrl, otherUrl), { method: "POST", body: "x" });
  assert.equal(response.status, 401);
  response = await fetch(`${clientUrl}/api/storage/upload`, { method: "POST", body: "x" });
  assert.equal(response.status, 400);
  assert.equal((await client.query("files:all", {})).length, 2, "a refused upload stored nothing");

  // The app records the file; the query lists it with a serving URL and its _storage document.
  await client.mutation("files:save", { storageId, name: "picture" });
  const [listed] = await client.query("files:list", {});
  assert.equal(listed.system._id, storageId);
  assert.equal(listed.system.sha256, sha256.toString("base64"));
  assert.equal(listed.system.size, bytes.length);
  assert.equal(listed.system.contentType, "image/png");
  assert.equal(typeof listed.system._creationTime, "number");
  const metadata = await client.query("files:metadata", { storageId });
  assert.deepEqual(metadata, { storageId, sha256: sha256.toString("hex"), size: bytes.length, contentType: "image/png" });

  // Serving: the whole file with Convex's headers, one range, refused ranges, HEAD.
  response = await fetch(listed.url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/png");
  assert.equal(response.headers.get("accept-ranges"), "bytes");
  assert.equal(response.headers.get("digest"), `sha-256=${sha256.toString("base64")}`);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes));
  response = await fetch(listed.url, { headers: { range: "bytes=1000-1999" } });
  assert.equal(response.status, 206);
  assert.equal(response.headers.get("content-range"), `bytes 1000-1999/${bytes.length}`);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(1000, 2000)));
  response = await fetch(listed.url, { headers: { range: "bytes=-5" } });
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(bytes.length - 5)));
  response = await fetch(listed.url, { headers: { range: "bytes=0-1,5-6" } });
  assert.equal(response.status, 416);
  response = await fetch(listed.url, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(response.status, 416);
  assert.equal(response.headers.get("content-range"), `bytes */${bytes.length}`);
  response = await fetch(listed.url, { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), String(bytes.length));
  // A serving URL is bound to its file and its deployment, and cannot be forged.
  response = await fetch(listed.url.replace(storageId, second));
  assert.equal(response.status, 401);
  response = await fetch(listed.url.replace(clientUrl, otherUrl));
  assert.equal(response.status, 401);
  response = await fetch(listed.url.replace(/signature=(.)/, (m, c) => `signature=${c === "0" ? "1" : "0"}`));
  assert.equal(response.status, 401);
  response = await fetch(listed.url.replace(/expires=\d+/, (m) => `expires=${Number(m.slice(8)) + 3600}`));
  assert.equal(response.status, 401);

  // Storing and reading in a mutation (convex 1.48) and in an action, with and without sha256.
  const fromMutation = await client.mutation("files:storeInMutation", { text: "written in a mutation" });
  assert.deepEqual(await client.mutation("files:readInMutation", { storageId: fromMutation }),
                   { text: "written in a mutation", type: "text/plain", size: 21 });
  const actionText = "written in an action";
  const actionSha = crypto.createHash("sha256").update(actionText).digest("base64");
  const fromAction = await client.action("files:storeInAction", { text: actionText, sha256: actionSha });
  assert.deepEqual(await client.action("files:readInAction", { storageId: fromAction }),
                   { text: actionText, type: "application/x-action" });
  await rejects(client.action("files:storeInAction", { text: actionText, sha256: sha256.toString("base64") }), /Sha256 mismatch/);
  // Ids of another table or no id at all: Convex's messages.
  await rejects(client.query("files:url", { storageId: "not-an-id" }), /Invalid storage ID/);
  const note = (await (await fetch(`${siteUrl}/notes`, { method: "POST", body: JSON.stringify({ text: "n" }) })).json()).id;
  await rejects(client.query("files:url", { storageId: note }), /cannot be an ID on any table other than '_storage'/);

  // HTTP actions store a request's body and serve a stored blob.
  response = await fetch(`${siteUrl}/files`, { method: "POST", body: "from an http action", headers: { "content-type": "text/x-http" } });
  const fromHttp = (await response.json()).storageId;
  response = await fetch(`${siteUrl}/files?id=${fromHttp}`);
  assert.equal(await response.text(), "from an http action");
  assert.equal(response.headers.get("content-type"), "text/x-http");

  // Another deployment of the same app sees none of these files.
  assert.equal(await other.query("files:url", { storageId }), null);
  assert.deepEqual(await other.query("files:all", {}), []);

  // Deletion: the URL stops serving, the id reads as null, a second delete fails as Convex's does.
  await client.mutation("files:remove", { storageId });
  assert.equal(await client.query("files:url", { storageId }), null);
  assert.equal(await client.query("files:metadata", { storageId }), null);
  response = await fetch(listed.url);
  assert.equal(response.status, 404);
  assert.equal((await response.json()).code, "FileNotFound");
  await rejects(client.mutation("files:remove", { storageId }), new RegExp(`storage id ${storageId} not found`));
  console.log("file storage client: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
