// An origin per deployment for HTTP actions (--site-url=http://{deployment}.site.localhost): the Host
// header names the deployment, the /d/ path form is not served, and no Host that is not exactly a
// deployment's reaches one. node site_origin_client.js <site listener URL> <deployment> <other deployment>.
// Prints "site origin client: ok" when every check holds.
const assert = require("node:assert/strict");
const http = require("node:http");

const [listener, first, second] = process.argv.slice(2);

// A request to the listener with the Host a browser would send for `host`.
function get(host, path) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${listener}${path}`, { headers: { host } }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end();
  });
}

async function main() {
  // Each deployment at its own host, seeing its own URL; the port and the case do not matter.
  for (const [host, deployment] of [[`${first}.site.localhost`, first], [`${second}.site.localhost:8080`, second],
                                    [`${first.toUpperCase()}.Site.LOCALHOST`, first]]) {
    const response = await get(host, "/site-url");
    assert.equal(response.status, 200, `${host}: ${response.body}`);
    assert.equal(response.body, `http://${deployment}.site.localhost`);
  }
  let response = await get(`${first}.site.localhost`, "/hello?name=ann");
  assert.equal(JSON.parse(response.body).url, `http://${first}.site.localhost/hello?name=ann`);

  // Nothing else reaches a deployment: the shared path form, other hosts, hosts that only contain one.
  const refused = [
    ["127.0.0.1", `/d/${first}/site-url`],
    [`${first}.site.localhost`, `/d/${first}/site-url`],
    ["site.localhost", "/site-url"],
    [`a.${first}.site.localhost`, "/site-url"],
    [`${first}.site.localhost.evil.example`, "/site-url"],
    [`${first}site.localhost`, "/site-url"],
    ["no-such-deployment.site.localhost", "/site-url"],
    ["Bad_Name.site.localhost", "/site-url"],
  ];
  for (const [host, path] of refused) {
    response = await get(host, path);
    assert.equal(response.status, 404, `${host} ${path}: ${response.body}`);
  }
  console.log("site origin client: ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
