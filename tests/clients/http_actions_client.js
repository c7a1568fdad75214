// HTTP actions end to end, as a browser's fetch or curl reaches them: node http_actions_client.js
// <site URL of a deployment of tests/apps/site> <site URL of a deployment that has no http.js>.
// Prints "http actions client: ok" when every check holds.
const assert = require("node:assert/strict");
const http = require("node:http");

const [site, bare] = process.argv.slice(2);

// A raw request (fetch hides HEAD bodies, forbidden headers and repeated Set-Cookie).
function raw(method, url, { headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode, statusMessage: response.statusMessage,
                                         headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on("error", reject);
    if (body !== null) request.write(body);
    request.end();
  });
}

async function main() {
  // An exact route; the handler sees the URL the client used.
  let response = await fetch(`${site}/hello?name=ann`);
  assert.equal(response.status, 200, await response.clone().text());
  assert.match(response.headers.get("content-type"), /^application\/json/);
  assert.deepEqual(await response.json(), { hello: "ann", url: `${site}/hello?name=ann`, method: "GET" });

  // HEAD runs the GET route: its headers, no body.
  let answer = await raw("HEAD", `${site}/hello`);
  assert.equal(answer.status, 200);
  assert.equal(answer.body.length, 0);
  assert.ok(Number(answer.headers["content-length"]) > 0, JSON.stringify(answer.headers));

  // Bytes both ways, every byte value; the status and headers the handler chose.
  const bytes = Buffer.alloc(300000);
  for (let i = 0; i < bytes.length; ++i) bytes[i] = (i * 7) & 0xff;
  response = await fetch(`${site}/echo`, { method: "POST", body: bytes,
                                             headers: { "content-type": "application/x-test", "x-custom": "v1" } });
  assert.equal(response.status, 201);
  assert.equal(response.statusText, "Created");
  assert.equal(response.headers.get("content-type"), "application/x-test");
  assert.equal(response.headers.get("x-echo-custom"), "v1");
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(bytes), "the echoed body differs");

  // The app's own CORS preflight.
  answer = await raw("OPTIONS", `${site}/echo`, { headers: { origin: "http://app.example", "access-control-request-method": "POST" } });
  assert.equal(answer.status, 204);
  assert.equal(answer.headers["access-control-allow-origin"], "http://app.example");
  assert.equal(answer.headers["access-control-allow-methods"], "POST, OPTIONS");

  // Prefixes: the longest wins; an exact path is matched exactly.
  assert.equal(await (await fetch(`${site}/profile/ann`)).text(), "profile ann");
  assert.equal(await (await fetch(`${site}/profile/admin/x`)).text(), "the longer prefix wins");

  // No route, or not for this method: Convex's 404, no worker involved.
  for (const [method, path] of [["GET", "/nowhere"], ["POST", "/hello"], ["GET", "/hello/"], ["GET", "/profile"]]) {
    answer = await raw(method, `${site}${path}`);
    assert.equal(answer.status, 404, `${method} ${path}`);
    assert.equal(answer.body.toString(), "No matching routes found", `${method} ${path}`);
  }
  // Methods no route can have.
  answer = await raw("TRACE", `${site}/hello`);
  assert.equal(answer.status, 405);
  // A deployment without http.js, and one that does not exist.
  answer = await raw("GET", `${bare}/hello`);
  assert.equal(answer.status, 404);
  assert.equal(answer.body.toString(), "This Convex deployment does not have HTTP actions enabled.");
  answer = await raw("GET", `${site.replace(/\/d\/[^/]+$/, "/d/no-such-deployment")}/hello`);
  assert.equal(answer.status, 404);

  // ctx.runMutation, ctx.runQuery and ctx.scheduler from a handler.
  response = await fetch(`${site}/notes`, { method: "POST", body: JSON.stringify({ text: "from http" }) });
  assert.equal(response.status, 200);
  const notes = await response.json();
  assert.equal(typeof notes.id, "string");
  assert.equal(notes.count, 1);
  assert.equal(notes.scheduled, "string");

  // Failures: the handler threw; it returned something that is not a Response.
  // Convex's shape: {"code": "[Request ID: <16 hex>] Server Error: <message>", "trace", "data"?}.
  answer = await raw("GET", `${site}/throws`);
  assert.equal(answer.status, 500);
  assert.match(answer.headers["content-type"], /^application\/json/);
  let failure = JSON.parse(answer.body.toString());
  assert.match(failure.code, /^\[Request ID: [0-9a-f]{16}\] Server Error: Uncaught Error: boom from an HTTP action$/);
  assert.match(failure.trace, /^Uncaught Error: boom from an HTTP action\n\s+at /);
  assert.equal(failure.data, undefined);
  answer = await raw("GET", `${site}/convex-error`);
  assert.equal(answer.status, 500);
  failure = JSON.parse(answer.body.toString());
  assert.match(failure.code, /Server Error: Uncaught ConvexError: /);
  assert.deepEqual(failure.data, { reason: "closed", code: 7 });
  answer = await raw("GET", `${site}/not-a-response`);
  assert.equal(answer.status, 500);
  assert.match(JSON.parse(answer.body.toString()).code, /Uncaught Error: HTTP actions must return a Response$/);

  // Repeated headers keep every value.
  answer = await raw("GET", `${site}/cookies`);
  assert.deepEqual(answer.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);

  // Bodies at the 20 MiB limit and one byte past it, both ways.
  const limit = 20 * 1024 * 1024;
  answer = await raw("GET", `${site}/big?n=${limit}`);
  assert.equal(answer.status, 200, answer.body.toString().slice(0, 2000));
  assert.equal(answer.body.length, limit);
  answer = await raw("GET", `${site}/big?n=${limit + 1}`);
  assert.equal(answer.status, 500);
  // (Refused on its Content-Length, before a byte of it is read: a client still writing it would
  // find the connection closed under it.)
  answer = await raw("POST", `${site}/echo`, { headers: { "content-length": String(limit + 1) } });
  assert.equal(answer.status, 413);
  answer = await raw("POST", `${site}/echo`, { body: Buffer.alloc(limit) });
  assert.equal(answer.status, 201);
  assert.equal(answer.body.length, limit);

  // CONVEX_SITE_URL is the deployment's site URL.
  assert.equal(await (await fetch(`${site}/site-url`)).text(), site);
  console.log("http actions client: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
