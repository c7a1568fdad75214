// HTTP actions whose Response body is a ReadableStream, as a browser's fetch reads them: chunks arrive
// as the handler makes them (a handshake proves the first arrives before the handler makes the
// second), large streams arrive whole, a stream over 20 MiB and a failing stream are cut so that the
// client sees an error, not a short body. node http_stream_client.js <site URL of tests/apps/site>.
// Prints "http stream client: ok" when every check holds.
const assert = require("node:assert/strict");
const crypto = require("node:crypto");

const [site] = process.argv.slice(2);

async function main() {
  // A few chunks, with the handler's headers, sent in chunks (no length known in advance).
  let response = await fetch(`${site}/stream?chunks=3`);
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(response.headers.get("x-streamed"), "yes");
  assert.equal(response.headers.get("transfer-encoding"), "chunked");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await response.text(), "chunk 0\nchunk 1\nchunk 2\n");

  // The first chunk comes before the handler makes the second: the handler waits for a note that
  // this client writes only once it has read "first".
  const key = crypto.randomUUID();
  response = await fetch(`${site}/stream-handshake?key=${key}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("first\n")) {
    const { done, value } = await reader.read();
    assert.ok(!done, `the stream ended after ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  assert.equal(text, "first\n");
  const note = await fetch(`${site}/notes`, { method: "POST", body: JSON.stringify({ text: key }) });
  assert.equal(note.status, 200);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  assert.equal(text, "first\nsecond\n");

  // Many chunks, 16 MiB in all: whole and in order (the handler goes at the pace the client reads).
  response = await fetch(`${site}/stream?chunks=256&size=65536`);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(bytes.length, 256 * 65536);
  for (let i = 0; i < 256; i += 1) assert.equal(bytes[i * 65536], 97 + (i % 26), `chunk ${i}`);

  // Past 20 MiB the body is cut, as is a stream that fails: fetch reports an error, not a short body.
  response = await fetch(`${site}/stream?chunks=21&size=1048577`);
  assert.equal(response.status, 200);
  await assert.rejects(response.arrayBuffer());
  response = await fetch(`${site}/stream-fails`);
  assert.equal(response.status, 200);
  await assert.rejects(response.text());

  // Request bodies too come as the handler reads them: a chunked upload of 3 MiB echoed back, and
  // stored as a file from an HTTP action and served back.
  const upload = crypto.randomBytes(3 * 1024 * 1024 + 5);
  const pieces = (bytes) => new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 100000) controller.enqueue(bytes.subarray(at, at + 100000));
      controller.close();
    },
  });
  response = await fetch(`${site}/echo`, { method: "POST", body: pieces(upload), duplex: "half" });
  assert.equal(response.status, 201);
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(upload));
  response = await fetch(`${site}/files`, { method: "POST", body: pieces(upload), duplex: "half",
                                            headers: { "content-type": "application/x-streamed" } });
  assert.equal(response.status, 200);
  const stored = (await response.json()).storageId;
  response = await fetch(`${site}/files?id=${stored}`);
  assert.equal(response.headers.get("content-type"), "application/x-streamed");
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(upload));
  // A chunked body past 20 MiB fails the handler that reads it.
  response = await fetch(`${site}/echo`, { method: "POST", body: pieces(Buffer.alloc(20 * 1024 * 1024 + 1)), duplex: "half" });
  assert.equal(response.status, 500);
  assert.match(await response.text(), /Request body too large \(limit: 20971520 bytes\)/);

  // HEAD: the headers, no body.
  response = await fetch(`${site}/stream?chunks=3`, { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-streamed"), "yes");
  assert.equal(await response.text(), "");
  console.log("http stream client: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
