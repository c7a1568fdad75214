// The "limits" conformance area: how Convex counts and enforces its per-function limits
// (documents/bytes read and written, index ranges, value shapes, scheduling, logs, memory, time).
// Large inputs are built here from small arguments; the cases are in cases/limits.textproto.
import {
  query,
  mutation,
  action,
  internalMutation,
} from "./_generated/server";
import { ConvexError } from "convex/values";
import { api, internal } from "./_generated/api";

const MiB = 1 << 20;

// The Convex size of {_id, _creationTime, s: ""} for an id string of `idLength` characters:
// 2 (object) + "_creationTime" (13 + 1 + 9) + "_id" (3 + 1 + idLength + 2) + "s" (1 + 1 + 2).
// Each character added to `s` adds one byte.
function emptyStringDocSize(idLength) {
  return 35 + idLength;
}

function nestedArrays(depth) {
  let value = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function objectWithFields(n) {
  const obj = {};
  for (let i = 0; i < n; i++) obj["f" + i] = 0;
  return obj;
}

// The fixtures the read cases rely on; safe to call before every case.
export const seed = mutation(async (ctx) => {
  const hundred = await ctx.db.query("limits_hundred").collect();
  for (let n = hundred.length; n < 100; n++) {
    await ctx.db.insert("limits_hundred", { n });
  }
  if ((await ctx.db.query("limits_probe").first()) === null) {
    await ctx.db.insert("limits_probe", { n: -1 });
  }
  if ((await ctx.db.query("limits_meta").first()) === null) {
    const goneId = await ctx.db.insert("limits_gone", {});
    await ctx.db.delete(goneId);
    await ctx.db.insert("limits_meta", { goneId });
  }
  if ((await ctx.db.query("limits_big").first()) === null) {
    const id = await ctx.db.insert("limits_big", { s: "" });
    await ctx.db.replace(id, {
      s: "b".repeat(MiB - emptyStringDocSize(id.length)),
    });
  }
  return null;
});

// ---------------------------------------------------------------------------------------------
// Documents read (32,000), in this order:
//   `filtered` scans of limits_hundred whose filter matches nothing (100 documents scanned each),
//   `collects` full scans of limits_hundred (100 documents each),
//   one `.first()` of limits_hundred when `first` or `gets` is set, then `gets` db.get of that
//   same document, then (when `missing` is set) one `.first()` of limits_meta and `missing`
//   db.get of the id of a deleted document.
// Returns {returned}: how many documents came back to the function.
export const readMix = query(async (ctx, args) => {
  const {
    filtered = 0,
    collects = 0,
    first = false,
    gets = 0,
    missing = 0,
    catchError = false,
  } = args;
  let returned = 0;
  try {
    for (let i = 0; i < filtered; i++) {
      const docs = await ctx.db
        .query("limits_hundred")
        .filter((q) => q.eq(q.field("n"), -1))
        .collect();
      returned += docs.length;
    }
    for (let i = 0; i < collects; i++) {
      returned += (await ctx.db.query("limits_hundred").collect()).length;
    }
    if (first || gets > 0) {
      const doc = await ctx.db.query("limits_hundred").first();
      returned += 1;
      for (let i = 0; i < gets; i++) {
        if ((await ctx.db.get(doc._id)) !== null) returned += 1;
      }
    }
    if (missing > 0) {
      const meta = await ctx.db.query("limits_meta").first();
      returned += 1;
      for (let i = 0; i < missing; i++) {
        if ((await ctx.db.get(meta.goneId)) !== null) returned += 1;
      }
    }
  } catch (e) {
    if (!catchError) throw e;
    return { returned, error: e.message };
  }
  return { returned };
});

// Reads of a nested runQuery count against the caller's transaction: `filtered` scans here,
// then readMix({filtered: childFiltered, catchError: true}) in a subquery.
export const readNested = query(async (ctx, { filtered, childFiltered }) => {
  for (let i = 0; i < filtered; i++) {
    await ctx.db
      .query("limits_hundred")
      .filter((q) => q.eq(q.field("n"), -1))
      .collect();
  }
  return await ctx.runQuery(api.limits.readMix, {
    filtered: childFiltered,
    catchError: true,
  });
});

// A patch reads the document it changes: `filtered` scans (100 documents each), then one insert
// (not a read) and one patch of that document (one read).
export const patchReads = mutation(async (ctx, { filtered }) => {
  for (let i = 0; i < filtered; i++) {
    await ctx.db
      .query("limits_hundred")
      .filter((q) => q.eq(q.field("n"), -1))
      .collect();
  }
  const id = await ctx.db.insert("limits_docs", { n: 0 });
  await ctx.db.patch(id, { n: 1 });
  return "ok";
});

// Bytes read (16 MiB): the 1 MiB document of limits_big `reads` times (one .first(), then
// db.get), then one small document of limits_hundred when `small`.
export const readBig = query(async (ctx, { reads, small = false, catchError = false }) => {
  let read = 0;
  try {
    const big = await ctx.db.query("limits_big").first();
    read += 1;
    for (let i = 1; i < reads; i++) {
      await ctx.db.get(big._id);
      read += 1;
    }
    if (small) {
      await ctx.db.query("limits_hundred").first();
      read += 1;
    }
  } catch (e) {
    if (!catchError) throw e;
    return { read, error: e.message };
  }
  return { read };
});

// Index ranges read (4096): `n` queries of limits_probe.by_n, each an eq range that matches
// nothing; distinct values unless `same`. Issued 64 at a time: one after another, 4,097 of them
// took 8,194 host-call turns, close enough to the query's 1 s of CPU that a loaded machine timed
// out before the read limit (what these cases test) was reached.
export const rangeReads = query(async (ctx, { n, same = false, catchError = false }) => {
  const read = (i) =>
    ctx.db
      .query("limits_probe")
      .withIndex("by_n", (q) => q.eq("n", same ? 1000000 : i))
      .collect();
  try {
    for (let start = 0; start < n; start += 64) {
      const batch = [];
      for (let i = start; i < Math.min(n, start + 64); i++) batch.push(read(i));
      await Promise.all(batch);
    }
  } catch (e) {
    if (!catchError) throw e;
    return { error: e.message };
  }
  return { queries: n };
});

// ---------------------------------------------------------------------------------------------
// Documents written (16,000).
export const insertMany = mutation(async (ctx, { n }) => {
  for (let i = 0; i < n; i++) {
    await ctx.db.insert("limits_docs", { n: i });
  }
  return n;
});

// `n` inserts, then `patches` patches of the first document that change it, then `noopPatches`
// patches that set what is already there. Always throws ConvexError({ok, error}) so nothing is
// committed: `ok` counts the operations that succeeded, `error` is the first error's message.
export const writeOpsRolledBack = mutation(
  async (ctx, { n, patches = 0, noopPatches = 0 }) => {
    let ok = 0;
    let error = null;
    try {
      let firstId = null;
      let current = 0;
      for (let i = 0; i < n; i++) {
        const id = await ctx.db.insert("limits_docs", { n: 0 });
        if (firstId === null) firstId = id;
        ok++;
      }
      for (let k = 0; k < patches; k++) {
        current = -(k + 1);
        await ctx.db.patch(firstId, { n: current });
        ok++;
      }
      for (let k = 0; k < noopPatches; k++) {
        await ctx.db.patch(firstId, { n: current });
        ok++;
      }
    } catch (e) {
      error = e.message;
    }
    throw new ConvexError({ ok, error });
  },
);

// Bytes written (16 MiB) count every write, not the documents that end up committed: insert
// {s: ""}, then replace that same document again and again, so that the sizes of all the
// versions written add up to `total`. Every version is at most 800,000 bytes (below the 80%
// large-document warning) and the last one is exactly 800,000 bytes. Each replace also reads the
// version it replaces, so the bytes read are `total - 800000`.
export const writeBytes = mutation(async (ctx, { total, catchError = false }) => {
  const id = await ctx.db.insert("limits_docs", { s: "" });
  const minDoc = emptyStringDocSize(id.length);
  const chunk = 800000;
  let rest = total - minDoc - chunk;
  const sizes = [];
  while (rest > chunk) {
    sizes.push(chunk);
    rest -= chunk;
  }
  sizes.unshift(rest);
  sizes.push(chunk);
  let writes = 1;
  try {
    for (let i = 0; i < sizes.length; i++) {
      await ctx.db.replace(id, {
        s: (i % 2 === 0 ? "b" : "a").repeat(sizes[i] - minDoc),
      });
      writes++;
    }
  } catch (e) {
    if (!catchError) throw e;
    return { writes, error: e.message };
  }
  return { writes };
});

// ---------------------------------------------------------------------------------------------
// Stored document shape: size 1 MiB, nesting 16, fields.

// Inserts a document {s} whose Convex size is exactly 1 MiB + `extra` bytes.
export const docAtSize = mutation(async (ctx, { extra }) => {
  const probe = await ctx.db.insert("limits_docs", { s: "" });
  const length = MiB - emptyStringDocSize(probe.length) + extra;
  try {
    await ctx.db.insert("limits_docs", { s: "c".repeat(length) });
    return "ok";
  } catch (e) {
    return e.message;
  }
});

function afterInvalidDocument(message) {
  const marker = "isn't a valid document: ";
  const at = message.indexOf(marker);
  return at >= 0 ? message.slice(at + marker.length) : message;
}

// Inserts {data: `depth` nested arrays around 0}; the document's nesting is depth + 1.
// An invalid-document error is returned from after "isn't a valid document: " (the part before
// names the document, whose id varies).
export const insertNested = mutation(async (ctx, { depth }) => {
  try {
    await ctx.db.insert("limits_docs", { data: nestedArrays(depth) });
    return "ok";
  } catch (e) {
    return afterInvalidDocument(e.message);
  }
});

// Inserts a document with `n` user fields f0..f(n-1).
export const insertFields = mutation(async (ctx, { n }) => {
  try {
    await ctx.db.insert("limits_docs", objectWithFields(n));
    return "ok";
  } catch (e) {
    return e.message;
  }
});

// Inserts a document with one top-level field whose name is `len` copies of "k"; the name is
// replaced by <name> in an error message.
export const insertLongFieldName = mutation(async (ctx, { len }) => {
  const name = "k".repeat(len);
  try {
    await ctx.db.insert("limits_docs", { [name]: 1 });
    return "ok";
  } catch (e) {
    return e.message.split(name).join("<name>");
  }
});

// Top-level field names that are not identifiers (too long for one, or with a space).
export const insertOddTopLevelNames = mutation(async (ctx) => {
  await ctx.db.insert("limits_docs", { ["t".repeat(65)]: 1, "has space": 2 });
  return "ok";
});

// ---------------------------------------------------------------------------------------------
// Argument and return values: size 16 MiB, nesting 64, arrays 8192, objects 1024 fields.

export const echoDepth = query(async (_ctx, { x }) => {
  let depth = 0;
  let value = x;
  while (Array.isArray(value)) {
    depth++;
    value = value[0];
  }
  return depth;
});

export const echoKeyLengths = query(async (_ctx, { x }) => {
  return Object.keys(x).map((k) => k.length);
});

export const echoKeyCount = query(async (_ctx, args) => {
  return Object.keys(args).length;
});

// The sizes cases use strings: a string of n characters has the Convex size of n bytes (n + 2), and
// its JSON costs little CPU, where base64 of bytes (the convex package's, in JavaScript) takes much of
// a query's or mutation's 1 s at 16 MiB.
export const argBytes = query(async (_ctx, { b }) => {
  return b.length;
});

export const retNested = query(async (_ctx, { depth }) => {
  return nestedArrays(depth);
});

export const retArray = query(async (_ctx, { n }) => {
  return new Array(n).fill(0);
});

export const retFields = query(async (_ctx, { n }) => {
  return objectWithFields(n);
});

export const retBytes = query(async (_ctx, { n }) => {
  return "x".repeat(n);
});

// Calls limits:<fn>({n}) through runQuery and returns the size of what came back.
export const lenViaRunQuery = query(async (ctx, { fn, n }) => {
  const r = await ctx.runQuery(api.limits[fn], { n });
  return Array.isArray(r) ? r.length : Object.keys(r).length;
});

// runQuery arguments {x: `depth` nested arrays}: their nesting is depth + 1 (the arguments
// object), depth + 2 with the array of arguments.
export const argsNestViaRunQuery = query(async (ctx, { depth }) => {
  try {
    return await ctx.runQuery(api.limits.echoDepth, { x: nestedArrays(depth) });
  } catch (e) {
    return e.message;
  }
});

// runQuery arguments with `n` fields.
export const argsFieldsViaRunQuery = query(async (ctx, { n }) => {
  try {
    return await ctx.runQuery(api.limits.echoKeyCount, objectWithFields(n));
  } catch (e) {
    return e.message;
  }
});

// Calls limits:argBytes({b: a string of n characters}); the arguments' Convex size is n + 8.
// (An error from a runQuery of an action is returned trimmed.)
export const argsSizeProbe = action(async (ctx, { n }) => {
  try {
    return await ctx.runQuery(api.limits.argBytes, { b: "x".repeat(n) });
  } catch (e) {
    return e.message.trim();
  }
});

// Calls limits:retBytes({n}) (a value of Convex size n + 2) and returns its length.
export const resultSizeProbe = action(async (ctx, { n }) => {
  try {
    const r = await ctx.runQuery(api.limits.retBytes, { n });
    return r.length;
  } catch (e) {
    return e.message.trim();
  }
});

// ---------------------------------------------------------------------------------------------
// Nested runQuery depth (8).
export const recurse = query(async (ctx, { depth }) => {
  if (depth === 0) return 0;
  try {
    const r = await ctx.runQuery(api.limits.recurse, { depth: depth - 1 });
    return typeof r === "number" ? r + 1 : r;
  } catch (e) {
    return e.message;
  }
});

// ---------------------------------------------------------------------------------------------
// paginate numItems.
export const paginateProbe = query(async (ctx, { numItems }) => {
  try {
    const r = await ctx.db
      .query("limits_hundred")
      .paginate({ numItems, cursor: null });
    return { len: r.page.length, isDone: r.isDone };
  } catch (e) {
    return e.message;
  }
});

// ---------------------------------------------------------------------------------------------
// Scheduling from a mutation (1000 functions, 16 MiB of arguments, 5 years). All of these throw
// ConvexError({scheduled, error}) at the end, so nothing they schedule is committed.
export const noop = internalMutation(async () => null);

export const scheduleMany = mutation(async (ctx, { n }) => {
  let scheduled = 0;
  let error = null;
  try {
    for (let i = 0; i < n; i++) {
      await ctx.scheduler.runAfter(3600 * 1000, internal.limits.noop, {});
      scheduled++;
    }
  } catch (e) {
    error = e.message;
  }
  throw new ConvexError({ scheduled, error });
});

// One scheduled call per entry of `sizes`, with arguments {b: a string of size characters} (Convex size
// of the argument array: size + 8).
export const scheduleBytes = mutation(async (ctx, { sizes }) => {
  let scheduled = 0;
  let error = null;
  try {
    for (const size of sizes) {
      await ctx.scheduler.runAfter(3600 * 1000, internal.limits.noop, {
        b: "x".repeat(size),
      });
      scheduled++;
    }
  } catch (e) {
    error = e.message;
  }
  throw new ConvexError({ scheduled, error });
});

// runAfter(`after`) or runAt(`at`) once. With `hideTs`, a leading "UnixTimestamp(...)" of the
// message (the requested time, which varies) becomes "UnixTimestamp(<ts>)".
export const scheduleWhen = mutation(async (ctx, { after, at, hideTs = false }) => {
  let scheduled = 0;
  let error = null;
  try {
    if (after !== undefined) {
      await ctx.scheduler.runAfter(after, internal.limits.noop, {});
    } else {
      await ctx.scheduler.runAt(at, internal.limits.noop, {});
    }
    scheduled++;
  } catch (e) {
    error = hideTs
      ? e.message.replace(/^UnixTimestamp\([^)]*\)/, "UnixTimestamp(<ts>)")
      : e.message;
  }
  throw new ConvexError({ scheduled, error });
});

// ---------------------------------------------------------------------------------------------
// Memory and time.
export const arrayBufferProbe = query(async (_ctx, { n }) => {
  try {
    return new ArrayBuffer(n).byteLength;
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
});

export const exhaustHeap = query(async () => {
  const keep = [];
  for (;;) {
    keep.push(new Array(1 << 20).fill(keep.length));
  }
});

export const spin = query(async () => {
  for (;;) {
    // One second of user time is the limit for queries and mutations.
  }
});

// ---------------------------------------------------------------------------------------------
// Log lines: 256 per execution, 32768 bytes per line.
export const logMany = query(async (_ctx, { n }) => {
  for (let i = 0; i < n; i++) console.log(i);
  return n;
});

export const logManyAction = action(async (_ctx, { n }) => {
  for (let i = 0; i < n; i++) console.log(i);
  return n;
});

// console.log with one string argument per [character, length] pair.
export const logLong = query(async (_ctx, { parts }) => {
  console.log(...parts.map(([c, len]) => c.repeat(len)));
  return null;
});
