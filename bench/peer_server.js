// The service a user would write by hand instead of Isobar (bench/peer.cc drives it): Node.js with
// @grpc/grpc-js and node-postgres, serving isobar.v1.Functions' Query and Mutation for the two
// functions bench/peer measures on tests/apps/chat, with no sandbox, no query cache and no OCC:
//   Query    messages:get  {"id": "..."}                      one primary-key SELECT
//   Mutation messages:send {"channel", "author", "body"}      one INSERT (autocommit)
// It checks the API key, parses and checks the arguments, and answers Convex JSON, as a careful
// hand-written service would.
//
//   node peer_server.js --proto_dir=DIR --pg=CONNINFO --key=KEY [--pool=16]
// Prints "port N" when it serves (an ephemeral port on 127.0.0.1).
"use strict";

const crypto = require("crypto");
const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { Pool } = require("pg");

function flag(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((a) => a.startsWith(prefix));
  if (found !== undefined) return found.slice(prefix.length);
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

const protoDir = flag("proto_dir");
const key = flag("key");
// libpq's "key=value ..." connection string (values without spaces), as node-postgres options.
function pgOptions(conninfo) {
  const names = { host: "host", port: "port", dbname: "database", user: "user", password: "password" };
  const options = {};
  for (const pair of conninfo.trim().split(/\s+/)) {
    const eq = pair.indexOf("=");
    const name = names[pair.slice(0, eq)];
    if (name !== undefined) options[name] = pair.slice(eq + 1);
  }
  return options;
}

const pool = new Pool({ ...pgOptions(flag("pg")), max: Number(flag("pool", "16")) });

const definition = protoLoader.loadSync(path.join(protoDir, "isobar/v1/api.proto"), {
  includeDirs: [protoDir],
  keepCase: true,
});
const api = grpc.loadPackageDefinition(definition).isobar.v1;

function fail(callback, code, message) {
  callback({ code, details: message });
}

// The caller's key (as Isobar takes it: "authorization: Bearer <key>", or the isobar-api-key header),
// and the arguments as one JSON object.
function accept(call, callback, wantedPath) {
  const bearer = call.metadata.get("authorization")[0];
  const presented = typeof bearer === "string" && bearer.startsWith("Bearer ") ? bearer.slice(7)
                                                                              : call.metadata.get("isobar-api-key")[0];
  if (typeof presented !== "string" || presented.length !== key.length ||
      !crypto.timingSafeEqual(Buffer.from(presented), Buffer.from(key))) {
    fail(callback, grpc.status.UNAUTHENTICATED, "a valid API key is required");
    return null;
  }
  if (call.request.path !== wantedPath) {
    fail(callback, grpc.status.NOT_FOUND, `Could not find function ${call.request.path}`);
    return null;
  }
  let args;
  try {
    args = JSON.parse(call.request.args_json);
  } catch (e) {
    fail(callback, grpc.status.INVALID_ARGUMENT, "the arguments are not JSON");
    return null;
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    fail(callback, grpc.status.INVALID_ARGUMENT, "the arguments must be an object");
    return null;
  }
  return args;
}

function isString(value, max) {
  return typeof value === "string" && value.length <= max;
}

async function get(call, callback) {
  const args = accept(call, callback, "messages:get");
  if (args === null) return;
  if (!isString(args.id, 64)) return fail(callback, grpc.status.INVALID_ARGUMENT, "id must be a string");
  try {
    const { rows } = await pool.query(
      "SELECT id, creation_time, channel, author, body FROM peer_messages WHERE id = $1", [args.id]);
    const row = rows[0];
    const value = row === undefined ? null
      : { _creationTime: row.creation_time, _id: row.id, author: row.author, body: row.body, channel: row.channel };
    callback(null, { result_json: JSON.stringify(value) });
  } catch (e) {
    fail(callback, grpc.status.UNAVAILABLE, String(e.message));
  }
}

async function send(call, callback) {
  const args = accept(call, callback, "messages:send");
  if (args === null) return;
  for (const field of ["channel", "author", "body"]) {
    if (!isString(args[field], 1000)) return fail(callback, grpc.status.INVALID_ARGUMENT, `${field} must be a string`);
  }
  if (args.body.trim().length === 0) return fail(callback, grpc.status.INVALID_ARGUMENT, "empty body");
  const id = crypto.randomBytes(16).toString("hex");
  try {
    await pool.query("INSERT INTO peer_messages (id, creation_time, channel, author, body) VALUES ($1, $2, $3, $4, $5)",
                     [id, Date.now(), args.channel, args.author, args.body]);
    callback(null, { result_json: JSON.stringify(id) });
  } catch (e) {
    fail(callback, grpc.status.UNAVAILABLE, String(e.message));
  }
}

async function main() {
  await pool.query(`CREATE TABLE IF NOT EXISTS peer_messages (
      id text PRIMARY KEY, creation_time double precision NOT NULL,
      channel text NOT NULL, author text NOT NULL, body text NOT NULL)`);
  const server = new grpc.Server();
  server.addService(api.Functions.service, {
    Query: (call, callback) => void get(call, callback),
    Mutation: (call, callback) => void send(call, callback),
    Action: (call, callback) => fail(callback, grpc.status.UNIMPLEMENTED, "no actions here"),
    Subscribe: (call) => call.destroy(new Error("no subscriptions here")),
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) {
      console.error(error);
      process.exit(1);
    }
    console.log(`port ${port}`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
