// Files larger than any one buffer the supervisor holds: uploaded as a stream (chunked, no length) and
// with a length, served and read back as a stream, a range across a chunk boundary, a digest that does
// not match, and an upload abandoned halfway. node large_file_client.js <client URL of tests/apps/site>
// <bytes>. Prints "large file client: ok" when every check holds.
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { ConvexHttpClient } = require("convex/browser");

const [clientUrl, sizeText] = process.argv.slice(2);
const SIZE = Number(sizeText);
const PIECE = 1 << 20;
const client = new ConvexHttpClient(clientUrl);

// `bytes` as a request body of 1 MiB pieces with no declared length (Transfer-Encoding: chunked);
// `abortAfter` pieces in, the upload is abandoned.
function streamOf(bytes, controller, abortAfter) {
  let offset = 0;
  let pieces = 0;
  return new ReadableStream({
    pull(stream) {
      if (abortAfter !== undefined && pieces === abortAfter) {
        controller.abort();
        return;
      }
      if (offset >= bytes.length) return stream.close();
      stream.enqueue(bytes.subarray(offset, offset + PIECE));
      offset += PIECE;
      ++pieces;
    },
  });
}

async function upload(body, headers = {}, signal) {
  const url = await client.mutation("files:generateUploadUrl", {});
  return fetch(url, { method: "POST", body, headers, duplex: "half", signal });
}

// The served file read as a stream: its digest and length, never the whole of it at once.
async function digestOf(response) {
  const hash = crypto.createHash("sha256");
  let length = 0;
  for await (const part of response.body) {
    hash.update(part);
    length += part.length;
  }
  return { sha256: hash.digest("base64"), length };
}

async function main() {
  const bytes = crypto.randomBytes(SIZE);
  const sha256 = crypto.createHash("sha256").update(bytes).digest("base64");

  // A stream of unknown length, with its digest.
  let response = await upload(streamOf(bytes, new AbortController()), {
    "content-type": "application/x-large", digest: `sha-256=${sha256}`,
  });
  assert.equal(response.status, 200, await response.clone().text());
  const { storageId } = await response.json();
  const metadata = await client.query("files:metadata", { storageId });
  assert.deepEqual(metadata, {
    storageId, sha256: Buffer.from(sha256, "base64").toString("hex"), size: SIZE, contentType: "application/x-large",
  });

  // Served as a stream, whole and in a range that spans the first chunk boundary.
  const url = await client.query("files:url", { storageId });
  response = await fetch(url);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), String(SIZE));
  assert.deepEqual(await digestOf(response), { sha256, length: SIZE });
  response = await fetch(url, { headers: { range: `bytes=${PIECE - 10}-${PIECE + 9}` } });
  assert.equal(response.status, 206);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(PIECE - 10, PIECE + 10)));
  response = await fetch(url, { headers: { range: `bytes=${SIZE - 3}-` } });
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(SIZE - 3)));

  // With a declared length, past what a function may store at once (20 MiB).
  const second = bytes.subarray(0, Math.floor(SIZE / 2) + 7);
  response = await upload(second);
  assert.equal(response.status, 200);
  const secondId = (await response.json()).storageId;
  response = await fetch(await client.query("files:url", { storageId: secondId }));
  assert.deepEqual(await digestOf(response),
                   { sha256: crypto.createHash("sha256").update(second).digest("base64"), length: second.length });

  // Refused at the end, once the whole body has been read: a digest that does not match.
  response = await upload(streamOf(bytes, new AbortController()), { digest: `sha-256=${Buffer.alloc(32).toString("base64")}` });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).code, "Sha256Mismatch");
  // Abandoned halfway by the client.
  const controller = new AbortController();
  await assert.rejects(upload(streamOf(bytes, controller, 5), {}, controller.signal));
  assert.equal((await client.query("files:all", {})).length, 2, "only the two whole uploads were stored");

  // The supervisor is still serving: a small file goes and comes back.
  response = await upload("small");
  const small = (await response.json()).storageId;
  assert.equal(await (await fetch(await client.query("files:url", { storageId: small }))).text(), "small");
  console.log("large file client: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
