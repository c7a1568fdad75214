// A Node.js client of Isobar's Functions API: @grpc/grpc-js with @grpc/proto-loader reading proto/.
//
//   node node_client.js ADDRESS DEPLOYMENT API_KEY PROTO_ROOT
//
// Sends messages, reads them back page by page, runs an action, checks a ConvexError's ErrorDetail.
// Prints "node client: ok" and exits 0 when everything matched; otherwise says what did not, exits 1.
"use strict";
const assert = require("node:assert/strict");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");  // proto-loader's own dependency: decodes the ErrorDetail trailer

async function main([address, deployment, apiKey, protoRoot]) {
  const definition = protoLoader.loadSync("isobar/v1/api.proto", { includeDirs: [protoRoot], keepCase: true });
  const api = grpc.loadPackageDefinition(definition).isobar.v1;
  const functions = new api.Functions(address, grpc.credentials.createInsecure());
  const root = protobuf.loadSync(`${protoRoot}/isobar/v1/api.proto`);
  const ErrorDetail = root.lookupType("isobar.v1.ErrorDetail");
  const Kind = root.lookupEnum("isobar.v1.ErrorDetail.Kind").values;
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${apiKey}`);

  const call = (method, path, args) =>
    new Promise((resolve, reject) => {
      const request = { deployment, path, args_json: JSON.stringify(args) };
      functions[method](request, metadata, { deadline: Date.now() + 60000 }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });

  const sent = await call("Mutation", "messages:send", { channel: "js", author: "ada", body: "from node" });
  assert.equal(typeof JSON.parse(sent.result_json), "string");
  for (const body of ["n0", "n1"]) await call("Mutation", "messages:send", { channel: "js", author: "ada", body });

  const bodies = [];
  let cursor = null;
  for (;;) {
    const page = JSON.parse(
      (await call("Query", "messages:list", { channel: "js", paginationOpts: { numItems: 2, cursor } })).result_json,
    );
    bodies.push(...page.page.map((m) => m.body));
    if (page.isDone) break;
    cursor = page.continueCursor;
  }
  assert.deepEqual(bodies, ["n1", "n0", "from node"]);

  const summary = JSON.parse((await call("Action", "messages:summarize", { channel: "js" })).result_json);
  assert.equal(summary.count, 3);

  await assert.rejects(call("Mutation", "messages:send", { channel: "js", author: "ada", body: " " }), (error) => {
    assert.notEqual(error.code, grpc.status.OK);
    const raw = error.metadata.get("isobar-error-bin")[0];
    assert.ok(Buffer.isBuffer(raw), "no isobar-error-bin trailer");
    const detail = ErrorDetail.decode(raw);
    assert.equal(detail.kind, Kind.CONVEX_ERROR);
    assert.deepEqual(JSON.parse(detail.convexErrorDataJson), { code: "EMPTY_BODY", channel: "js" });
    return true;
  });
  functions.close();
  console.log("node client: ok");
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
