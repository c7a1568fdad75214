// Conformance area "semantics": how Convex runs user code (dangling promises, errors and their
// messages, uncatchable errors, environment variables, determinism, scheduling, function calls).
// Database-facing probes (queries, indexes, ids, pagination) are in semantics_db.js.
// Cases: tests/conformance/cases/semantics.textproto.
import {
  query,
  mutation,
  action,
  internalQuery,
  internalMutation,
  internalAction,
} from "./_generated/server";
import { api, internal } from "./_generated/api";
import { v, ConvexError } from "convex/values";

// Read when the module is evaluated (import time). Convex evaluates modules afresh in each
// request's context, so this sees the deployment's variables as of the call.
const IMPORT_TIME_VAR = process.env.SEMANTICS_IMPORT_VAR;

// The message of whatever `thunk` throws (or its promise rejects with); null if it succeeds.
async function messageOf(thunk) {
  try {
    await thunk();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : `non-Error: ${String(e)}`;
  }
}

async function docsByTag(ctx, tag) {
  return await ctx.db
    .query("semantics_docs")
    .withIndex("by_tag", (q) => q.eq("tag", tag))
    .collect();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Small building blocks used by several cases.

export const countTag = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => (await docsByTag(ctx, tag)).length,
});

export const nsByTag = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => (await docsByTag(ctx, tag)).map((d) => d.n ?? null),
});

// Replaces the documents of `tag` with one document per entry of `ns`.
export const seedNs = mutation({
  args: { tag: v.string(), ns: v.array(v.number()) },
  handler: async (ctx, { tag, ns }) => {
    for (const d of await docsByTag(ctx, tag)) {
      await ctx.db.delete(d._id);
    }
    for (const n of ns) {
      await ctx.db.insert("semantics_docs", { tag, n });
    }
    return ns.length;
  },
});

export const insertTagged = internalMutation({
  args: { tag: v.string(), n: v.optional(v.number()) },
  handler: async (ctx, { tag, n }) => {
    await ctx.db.insert("semantics_docs", { tag, n });
    return null;
  },
});

export const publicPing = query({ args: {}, handler: async () => "pong" });
export const publicMutation = mutation({ args: {}, handler: async () => "pong" });
export const internalPing = internalQuery({ args: {}, handler: async () => "pong" });
export const internalMutationPing = internalMutation({ args: {}, handler: async () => "pong" });
export const internalActionPing = internalAction({ args: {}, handler: async () => "pong" });

// ---------------------------------------------------------------------------------------------
// Dangling (un-awaited) promises. In queries and mutations Convex keeps running pending
// syscalls until none is left, even after the handler's promise resolved.

export const danglingInsert = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    ctx.db.insert("semantics_docs", { tag, n: 1 });
    return null;
  },
});

export const doublyDanglingInsert = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const two = async () => {
      await ctx.db.insert("semantics_docs", { tag, n: 1 });
      await ctx.db.insert("semantics_docs", { tag, n: 2 });
    };
    two();
    return null;
  },
});

export const danglingPatch = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const [doc] = await docsByTag(ctx, tag);
    ctx.db.patch(doc._id, { n: 2 });
    return null;
  },
});

export const danglingInsertThenThrow = internalMutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    ctx.db.insert("semantics_docs", { tag, n: 1 });
    throw new Error("thrown after dangling insert");
  },
});

export const danglingInsertFailedMutation = action({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    let message = null;
    try {
      await ctx.runMutation(internal.semantics.danglingInsertThenThrow, { tag });
    } catch (e) {
      message = e.message;
    }
    const count = await ctx.runQuery(api.semantics.countTag, { tag });
    return {
      caught: message !== null,
      prefixOk: message !== null && message.startsWith("Uncaught Error: thrown after dangling insert"),
      count,
    };
  },
});

// The result is serialized before dangling reads complete, so they cannot change it.
export const danglingQueryRead = query({
  args: {},
  handler: async (ctx) => {
    const result = [];
    ctx.db
      .query("semantics_docs")
      .first()
      .then((d) => result.push(d === null ? "none" : "some"));
    return result;
  },
});

// The handler returns, but the un-awaited db.get later rejects with no handler attached.
export const danglingRejectedGet = query({
  args: {},
  handler: async (ctx) => {
    ctx.db.get("abc");
    return "returned";
  },
});

export const danglingActionMutation = action({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    ctx.runMutation(internal.semantics.insertTagged, { tag });
    return "done";
  },
});

export const neverResolves = query({
  args: {},
  handler: () => new Promise(() => {}),
});

// ---------------------------------------------------------------------------------------------
// Which runtime errors user code can catch.

export const unknownSyscall = query({
  args: {},
  handler: async () => ({
    sync: await messageOf(() => globalThis.Convex.syscall("semantics/nope", "{}")),
    async: await messageOf(() => globalThis.Convex.asyncSyscall("semantics/nope", "{}")),
  }),
});

export const unknownSyscallInAction = action({
  args: {},
  handler: async () => ({
    sync: await messageOf(() => globalThis.Convex.syscall("semantics/nope", "{}")),
    async: await messageOf(() => globalThis.Convex.asyncSyscall("semantics/nope", "{}")),
  }),
});

export const unknownJsSyscall = query({
  args: {},
  handler: async () => {
    try {
      globalThis.Convex.jsSyscall("semantics/nope", {});
    } catch (e) {
      return "caught";
    }
    return "not thrown";
  },
});

export const setTimeoutInQuery = query({
  args: {},
  handler: async () => {
    try {
      setTimeout(() => {}, 1000);
    } catch (e) {
      return "caught";
    }
    return "returned";
  },
});

export const setTimeoutInMutation = mutation({
  args: {},
  handler: async () => {
    try {
      setTimeout(() => {}, 1000);
    } catch (e) {
      return "caught";
    }
    return "returned";
  },
});

export const notImplementedUrlHost = query({
  args: {},
  handler: async () => {
    try {
      const url = new URL("https://example.com/path");
      url.host = "other.example.com";
    } catch (e) {
      return "caught";
    }
    return "returned";
  },
});

export const fetchInQuery = query({
  args: {},
  handler: async () => messageOf(() => fetch("https://example.com/")),
});

export const fetchInMutation = mutation({
  args: {},
  handler: async () => {
    await fetch("https://example.com/");
    return "fetched";
  },
});

// ---------------------------------------------------------------------------------------------
// Errors thrown by user code, as the client sees them.

async function throwKind(kind) {
  switch (kind) {
    case "error":
      throw new Error("semantics boom");
    case "customName": {
      const e = new Error("custom named");
      e.name = "SemanticsError";
      throw e;
    }
    case "emptyMessage":
      throw new Error();
    case "string":
      throw "semantics thrown string";
    case "number":
      throw 42;
    case "object":
      throw { semantics: true };
    case "afterAwait":
      await Promise.resolve();
      throw new Error("semantics after await");
    default:
      return `unknown kind ${kind}`;
  }
}

export const throwInQuery = query({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => throwKind(kind),
});

export const throwInMutation = mutation({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => throwKind(kind),
});

export const throwInAction = action({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => throwKind(kind),
});

export const caughtError = query({
  args: {},
  handler: async () => {
    try {
      await throwKind("afterAwait");
    } catch (e) {
      return { string: e.toString(), name: e.name, message: e.message };
    }
    return null;
  },
});

class SemanticsAppError extends ConvexError {
  name = "SemanticsAppError";
}

function convexErrorOf(kind) {
  switch (kind) {
    case "string":
      return new ConvexError("semantics message");
    case "object":
      return new ConvexError({ code: 42, why: "nope" });
    case "null":
      return new ConvexError(null);
    case "array":
      return new ConvexError([1, "two", null]);
    case "bigint":
      return new ConvexError(5n);
    case "undefinedField":
      return new ConvexError({ a: undefined, b: 1 });
    case "subclass":
      return new SemanticsAppError({ kind: "sub" });
    default:
      return new Error(`unknown kind ${kind}`);
  }
}

export const convexErrorInQuery = query({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => {
    throw convexErrorOf(kind);
  },
});

export const convexErrorInMutation = mutation({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => {
    throw convexErrorOf(kind);
  },
});

export const convexErrorInAction = action({
  args: { kind: v.string() },
  handler: async (_ctx, { kind }) => {
    throw convexErrorOf(kind);
  },
});

export const caughtConvexError = query({
  args: {},
  handler: async () => {
    try {
      throw new ConvexError({ code: 1 });
    } catch (e) {
      return {
        isConvexError: e instanceof ConvexError,
        name: e.name,
        message: e.message,
        data: e.data,
      };
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Errors of nested calls (ctx.runQuery / ctx.runMutation).

export const innerThrows = internalQuery({
  args: {},
  handler: async () => {
    throw new Error("inner boom");
  },
});

export const innerConvexError = internalQuery({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: "inner" });
  },
});

export const insertThenThrow = internalMutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    await ctx.db.insert("semantics_docs", { tag, n: 2 });
    throw new Error("nested boom");
  },
});

export const insertThenConvexError = internalMutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    await ctx.db.insert("semantics_docs", { tag, n: 2 });
    throw new ConvexError({ code: "nested" });
  },
});

export const actionCatchesNestedConvexError = action({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.runQuery(internal.semantics.innerConvexError, {});
    } catch (e) {
      return { isConvexError: e instanceof ConvexError, data: e.data };
    }
    return null;
  },
});

export const actionNestedErrorUncaught = action({
  args: {},
  handler: async (ctx) => {
    await ctx.runQuery(internal.semantics.innerThrows, {});
    return "unreachable";
  },
});

export const actionNestedConvexErrorUncaught = action({
  args: {},
  handler: async (ctx) => {
    await ctx.runQuery(internal.semantics.innerConvexError, {});
    return "unreachable";
  },
});

export const actionNestedMutationRollback = action({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    let data = null;
    try {
      await ctx.runMutation(internal.semantics.insertThenConvexError, { tag });
    } catch (e) {
      data = e instanceof ConvexError ? e.data : "not a ConvexError";
    }
    const count = await ctx.runQuery(api.semantics.countTag, { tag });
    return { data, count };
  },
});

export const mutationNestedRollback = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    for (const d of await docsByTag(ctx, tag)) {
      await ctx.db.delete(d._id);
    }
    await ctx.db.insert("semantics_docs", { tag, n: 1 });
    let message = null;
    try {
      await ctx.runMutation(internal.semantics.insertThenThrow, { tag });
    } catch (e) {
      message = e.message;
    }
    return {
      prefixOk: message !== null && message.startsWith("Uncaught Error: nested boom"),
      ns: (await docsByTag(ctx, tag)).map((d) => d.n),
    };
  },
});

export const mutationNestedConvexError = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    try {
      await ctx.runMutation(internal.semantics.insertThenConvexError, { tag });
    } catch (e) {
      return { isConvexError: e instanceof ConvexError, data: e.data };
    }
    return null;
  },
});

export const queryNestedError = query({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.runQuery(internal.semantics.innerThrows, {});
    } catch (e) {
      return { prefixOk: e.message.startsWith("Uncaught Error: inner boom") };
    }
    return null;
  },
});

// Nested calls report path and validation errors to the caller as catchable errors.
export const nestedCallErrors = query({
  args: {},
  handler: async (ctx) => ({
    missing: await messageOf(() => ctx.runQuery(api.semantics.doesNotExist, {})),
    wrongType: await messageOf(() => ctx.runQuery(api.semantics.publicMutation, {})),
    badArgs: await messageOf(() => ctx.runQuery(api.semantics.argsString, { s: 5 })),
    badReturn: await messageOf(() => ctx.runQuery(api.semantics.badReturn, {})),
  }),
});

// ---------------------------------------------------------------------------------------------
// Environment variables.

function readEnv(name) {
  const value = process.env[name];
  return { type: typeof value, value: value ?? null };
}

export const envInQuery = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => readEnv(name),
});

export const envInAction = action({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => readEnv(name),
});

// `nonce` only separates the cache keys of cases that read the same variable.
export const envAtImport = query({
  args: { nonce: v.number() },
  handler: async () => IMPORT_TIME_VAR ?? null,
});

function systemUrls() {
  const cloud = process.env.CONVEX_CLOUD_URL;
  const site = process.env.CONVEX_SITE_URL;
  return {
    cloudIsHttp: typeof cloud === "string" && /^https?:\/\//.test(cloud),
    siteIsHttp: typeof site === "string" && /^https?:\/\//.test(site),
    differ: cloud !== site,
  };
}

export const systemUrlsInQuery = query({ args: {}, handler: async () => systemUrls() });

export const logProcessEnv = query({
  args: {},
  handler: async () => {
    console.log(process.env);
    return null;
  },
});

// ---------------------------------------------------------------------------------------------
// Determinism.

export const mathRandomInQuery = query({
  args: {},
  handler: async () => {
    const a = Math.random();
    const b = Math.random();
    return { type: typeof a, inRange: a >= 0 && a < 1 && b >= 0 && b < 1, differ: a !== b };
  },
});

export const dateFrozenInQuery = query({
  args: {},
  handler: async (ctx) => {
    const t1 = Date.now();
    await ctx.db.query("semantics_docs").take(1);
    const t2 = Date.now();
    return { same: t1 === t2, newDateSame: new Date().getTime() === t1 };
  },
});

export const dateFrozenInMutation = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const t1 = Date.now();
    await ctx.db.insert("semantics_docs", { tag, n: 1 });
    await docsByTag(ctx, tag);
    const t2 = Date.now();
    return { same: t1 === t2, newDateSame: new Date().getTime() === t1 };
  },
});

export const dateAdvancesInAction = action({
  args: {},
  handler: async () => {
    const t1 = Date.now();
    await sleep(20);
    const t2 = Date.now();
    return t2 - t1 >= 15;
  },
});

export const getRandomValuesInQuery = query({
  args: {},
  handler: async () => {
    const arr = new Uint8Array(16);
    const returned = crypto.getRandomValues(arr);
    return {
      sameObject: returned === arr,
      length: arr.length,
      notAllZero: arr.some((b) => b !== 0),
    };
  },
});

export const randomUuidInQuery = query({
  args: {},
  handler: async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    return { format: v4.test(a) && v4.test(b), differ: a !== b };
  },
});

// ---------------------------------------------------------------------------------------------
// Scheduler.

export const schedTarget = internalMutation({
  args: { tag: v.string(), n: v.number() },
  handler: async (ctx, { tag, n }) => {
    await ctx.db.insert("semantics_docs", { tag, n });
    return null;
  },
});

export const schedFails = internalMutation({
  args: {},
  handler: async () => {
    throw new Error("scheduled boom");
  },
});

export const schedTargetAction = internalAction({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    await ctx.runMutation(internal.semantics.insertTagged, { tag, n: 5 });
    return null;
  },
});

async function recordJob(ctx, tag, jobId) {
  const old = await ctx.db
    .query("semantics_jobs")
    .withIndex("by_tag", (q) => q.eq("tag", tag))
    .collect();
  for (const row of old) {
    await ctx.db.delete(row._id);
  }
  await ctx.db.insert("semantics_jobs", { tag, jobId });
}

export const recordJobMutation = internalMutation({
  args: { tag: v.string(), jobId: v.string() },
  handler: async (ctx, { tag, jobId }) => {
    await recordJob(ctx, tag, jobId);
    return null;
  },
});

// Schedules one of the targets with runAfter(0) and remembers the job under `tag`.
export const scheduleJob = mutation({
  args: { tag: v.string(), target: v.string() },
  handler: async (ctx, { tag, target }) => {
    let jobId;
    switch (target) {
      case "mutation":
        jobId = await ctx.scheduler.runAfter(0, internal.semantics.schedTarget, { tag, n: 1 });
        break;
      case "fails":
        jobId = await ctx.scheduler.runAfter(0, internal.semantics.schedFails, {});
        break;
      case "action":
        jobId = await ctx.scheduler.runAfter(0, internal.semantics.schedTargetAction, { tag });
        break;
      case "query":
        jobId = await ctx.scheduler.runAfter(0, api.semantics.publicPing, {});
        break;
      default:
        throw new Error(`unknown target ${target}`);
    }
    await recordJob(ctx, tag, jobId);
    return null;
  },
});

export const scheduleFromAction = action({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const jobId = await ctx.scheduler.runAfter(0, internal.semantics.schedTarget, { tag, n: 3 });
    await ctx.runMutation(internal.semantics.recordJobMutation, { tag, jobId });
    return typeof jobId;
  },
});

async function jobOf(ctx, tag) {
  const row = await ctx.db
    .query("semantics_jobs")
    .withIndex("by_tag", (q) => q.eq("tag", tag))
    .unique();
  return row === null ? null : await ctx.db.system.get(row.jobId);
}

export const jobState = query({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const job = await jobOf(ctx, tag);
    if (job === null) {
      return null;
    }
    return {
      name: job.name,
      args: job.args,
      kind: job.state.kind,
      hasScheduledTime: typeof job.scheduledTime === "number",
      hasCompletedTime: typeof job.completedTime === "number",
    };
  },
});

export const jobError = query({
  args: { tag: v.string(), prefix: v.string() },
  handler: async (ctx, { tag, prefix }) => {
    const job = await jobOf(ctx, tag);
    if (job === null) {
      return null;
    }
    return {
      kind: job.state.kind,
      hasPrefix: typeof job.state.error === "string" && job.state.error.startsWith(prefix),
    };
  },
});

// Cancels the job only once it succeeded: canceling a completed job leaves it as it is.
export const cancelWhenDone = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const job = await jobOf(ctx, tag);
    if (job === null || job.state.kind !== "success") {
      return "not done yet";
    }
    await ctx.scheduler.cancel(job._id);
    return (await ctx.db.system.get(job._id)).state.kind;
  },
});

export const scheduleAndCancel = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    const jobId = await ctx.scheduler.runAfter(10000, internal.semantics.schedTarget, { tag, n: 7 });
    const before = await ctx.db.system.get(jobId);
    await ctx.scheduler.cancel(jobId);
    const after = await ctx.db.system.get(jobId);
    return {
      idType: typeof jobId,
      name: before.name,
      args: before.args,
      before: before.state.kind,
      beforeHasCompletedTime: before.completedTime !== undefined,
      scheduledTimeOk: Math.abs(before.scheduledTime - (Date.now() + 10000)) < 1,
      after: after.state.kind,
      afterHasCompletedTime: typeof after.completedTime === "number",
    };
  },
});

export const scheduleErrors = mutation({
  args: {},
  handler: async (ctx) => {
    const docId = await ctx.db.insert("semantics_docs", { tag: "scheduleErrors" });
    return {
      missingFunction: await messageOf(() =>
        ctx.scheduler.runAfter(0, internal.semantics.doesNotExist, {}),
      ),
      missingModule: await messageOf(() =>
        ctx.scheduler.runAfter(0, internal.semantics_nosuchmodule.fn, {}),
      ),
      negativeDelay: await messageOf(() =>
        ctx.scheduler.runAfter(-1, internal.semantics.schedTarget, { tag: "x", n: 1 }),
      ),
      cancelUserId: await messageOf(() => ctx.scheduler.cancel(docId)),
    };
  },
});

// ---------------------------------------------------------------------------------------------
// Function calls, visibility and validation.

export const argsString = query({
  args: { s: v.string() },
  handler: async (_ctx, { s }) => s,
});

export const argsDocId = query({
  args: { id: v.id("semantics_docs") },
  handler: async () => "accepted",
});

export const badReturn = query({
  args: {},
  returns: v.number(),
  handler: async () => "str",
});

export const badReturnExtraField = query({
  args: {},
  returns: v.object({ a: v.number() }),
  handler: async () => ({ a: 1, b: 2 }),
});

export const actionCallsInternal = action({
  args: {},
  handler: async (ctx) => ({
    query: await ctx.runQuery(internal.semantics.internalPing, {}),
    mutation: await ctx.runMutation(internal.semantics.internalMutationPing, {}),
    action: await ctx.runAction(internal.semantics.internalActionPing, {}),
  }),
});

// Passes an id of semantics_items where v.id("semantics_docs") is expected.
export const idOfOtherTableArg = action({
  args: {},
  handler: async (ctx) => {
    const itemId = await ctx.runMutation(internal.semantics.insertItem, {});
    const message = await messageOf(() => ctx.runQuery(api.semantics.argsDocId, { id: itemId }));
    return {
      validationError: message !== null && message.startsWith("ArgumentValidationError: Found ID "),
      mentionsTables: message !== null &&
        message.includes(
          'from table `semantics_items`, which does not match the table name in validator `v.id("semantics_docs")`.',
        ),
    };
  },
});

export const insertItem = internalMutation({
  args: {},
  handler: async (ctx) => await ctx.db.insert("semantics_items", { tag: "idOfOtherTableArg" }),
});

// Calling a registered function directly works but logs a warning.
export const directCall = query({
  args: {},
  handler: async (ctx) => await publicPing(ctx, {}),
});
