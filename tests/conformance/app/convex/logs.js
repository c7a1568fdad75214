// Conformance area "logs": how console.* calls become log lines (level + message text), and which
// log lines a caller receives across nested calls and errors. Every function here logs the same
// lines on every run.
import {
  query,
  mutation,
  action,
  internalQuery,
  internalMutation,
  internalAction,
} from "./_generated/server";
import { v, ConvexError } from "convex/values";
import { internal } from "./_generated/api";

// Each scenario only calls console.*; `logs:run` picks one by name.
const scenarios = {
  // --- strings and primitives ---
  topString() {
    console.log("hello");
  },
  stringEscapes() {
    console.log("it's \"quoted\" and a \\ backslash");
    console.log("a\nb\tc\rd\u0001e\u001fz\u007f");
    console.log("h\u00e9llo \u2713 \ud83d\ude00");
  },
  manyArgs() {
    console.log("a", 1, true, false, null, undefined, "b");
  },
  noArgs() {
    console.log();
    console.log("");
  },
  numbers() {
    console.log(0, -0, 1.5, -2, 0.1 + 0.2, 1e21, 1234567, 2 ** -1074, NaN, Infinity, -Infinity);
  },
  bigints() {
    console.log(123n, -5n, 0n, 2n ** 70n);
  },
  boxedPrimitives() {
    console.log(
      new Boolean(false),
      new Number(-0),
      new Number(7),
      new String("s'q"),
      Object(5n),
      Object(Symbol("boxed")),
    );
  },
  symbols() {
    console.log(Symbol("tag"), Symbol(), Symbol.for("registered"), Symbol.iterator);
  },
  formatSpecifiers() {
    console.log("%s=%d %i %f %o %O %j %c %%", "a", 1, 2, 3.5, {}, {}, [], "color: red");
  },
  // --- functions and classes ---
  functions() {
    function namedLogFn() {}
    async function asyncLogFn() {}
    function* genLogFn() {}
    console.log(namedLogFn, asyncLogFn, genLogFn, () => 1, function () {});
  },
  functionExtras() {
    function propLogFn() {}
    propLogFn.extra = 1;
    propLogFn.label = "x";
    console.log(propLogFn);
    function targetLogFn() {}
    console.log(targetLogFn.bind(null));
  },
  classes() {
    class LogWidget {}
    class LogGadget {
      constructor() {
        this.size = 3;
        this.tags = ["a"];
      }
      get area() {
        return 9;
      }
    }
    console.log(LogWidget, new LogWidget(), new LogGadget());
    class LogTagged {
      get [Symbol.toStringTag]() {
        return "TagName";
      }
    }
    const t = new LogTagged();
    console.log(t);
  },
  // --- objects ---
  objectFlat() {
    console.log({ a: 1, b: "x", c: null, d: undefined });
    console.log({});
  },
  objectNested() {
    console.log({ property: "value", nested_object: {}, inner: { b: { c: 1 } }, list: [1, 2] });
  },
  depthLimit() {
    console.log({ l1: { l2: { l3: { l4: { l5: { l6: { l7: 1 } } } } } } });
    console.log([[[[[[["deep"]]]]]], [1]]);
  },
  objectKeyQuoting() {
    console.log({ b: 1, "a-b": 2, "with space": 3, $ok: 4, _u: 5, 10: 6, 2: 7, "\u00e9": 8, "it's": 9 });
  },
  objectSymbolKeys() {
    const o = { a: 2 };
    o[Symbol("k")] = 1;
    Object.defineProperty(o, Symbol("hidden"), { value: 3, enumerable: false });
    console.log(o);
  },
  objectNullProto() {
    const o = Object.create(null);
    o.a = 1;
    console.log(o, Object.create(null));
  },
  objectHiddenProps() {
    const o = Object.create({ inherited: 1 });
    o.own = 2;
    Object.defineProperty(o, "hidden", { value: 3, enumerable: false });
    console.log(o);
    const p = { shown: 1 };
    Object.defineProperty(p, "hidden", { value: 2, enumerable: false });
    console.log(p);
  },
  objectGetter() {
    let reads = 0;
    const o = {
      plain: 1,
      get computed() {
        reads += 1;
        return 40 + reads;
      },
    };
    console.log(o);
  },
  objectCustomInspect() {
    console.log({ inspect() { return "CUSTOM!"; } }, { inspect: 5 });
    console.log({ toString() { return "X"; } });
  },
  objectStringsInside() {
    console.log({ s: "it's", n: -0, big: 10n, sym: Symbol("in"), f() {} });
  },
  globals() {
    console.log(process.env);
    console.log(globalThis);
  },
  // --- arrays ---
  arraySimple() {
    console.log(["string", 42]);
    console.log([]);
  },
  arrayHolesAndProps() {
    // eslint-disable-next-line no-sparse-arrays
    console.log([1, , 3], new Array(3));
    const a = [1, 2];
    a.extra = "x";
    console.log(a);
  },
  arrayLong() {
    const a = [];
    for (let i = 0; i < 120; i++) a.push(i);
    console.log(a);
  },
  arrayOfObjects() {
    console.log([{ a: 1 }, { b: 2 }]);
  },
  arrayNested() {
    console.log([[1, 2], [3, [4, "x"]], []]);
  },
  // --- collections and builtins ---
  mapAndSet() {
    console.log(new Map([["a", 1], [{ k: 1 }, "obj"]]), new Set([1, "two", [3]]));
    console.log({ m: new Map([["k", { v: 1 }]]) });
  },
  emptyCollections() {
    console.log(new Map(), new Set(), new WeakMap(), new WeakSet());
  },
  dates() {
    console.log(new Date(0), new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 123)));
    console.log(new Date(NaN), { d: new Date(86400000) });
  },
  regexps() {
    console.log(/ab+c/gi, new RegExp("a/b"), { r: /x/ });
  },
  typedArrays() {
    console.log(new Uint8Array([1, 2, 3]), new Float64Array([0.5]), new Int16Array(0));
  },
  buffersAndPromises() {
    console.log(new ArrayBuffer(8), new DataView(new ArrayBuffer(2)));
    console.log(Promise.resolve(1), new Promise(() => {}));
  },
  // --- errors ---
  errorPlain() {
    console.log(new Error("boom"), new TypeError("bad type"), new Error());
    console.log(new Error("line1\nline2"));
  },
  errorWithProps() {
    const e = new Error("withCode");
    e.code = 42;
    e.detail = { x: 1 };
    console.log(e);
  },
  errorWithCause() {
    console.log(new Error("outer", { cause: new Error("inner") }), new Error("c2", { cause: "why" }));
  },
  errorSubclass() {
    class LogValidationError extends Error {
      constructor(m) {
        super(m);
        this.name = "LogValidationError";
      }
    }
    class LogProtoNamedError extends Error {}
    LogProtoNamedError.prototype.name = "ProtoNamed";
    console.log(new LogValidationError("invalid"), new LogProtoNamedError("pn"));
  },
  errorInObject() {
    console.log({ err: new RangeError("range"), list: [new Error("in list")] });
  },
  convexError() {
    console.log(new ConvexError("oops"));
  },
  // --- references ---
  circular() {
    const o = { name: "root" };
    o.self = o;
    o.child = { parent: o };
    const a = [1];
    a.push(a);
    console.log(o, a);
  },
  sharedNotCircular() {
    const shared = { s: 1 };
    console.log({ x: shared, y: [shared] });
  },
  // --- levels ---
  levels() {
    console.log("to log");
    console.info("to info");
    console.warn("to warn");
    console.error("to error");
    console.debug("to debug");
  },
  levelsWithObjects() {
    console.warn("count:", { n: 1 });
    console.error(new Error("failed"));
    console.info([1, "a"]);
  },
  detachedMethods() {
    const log = console.log;
    const warn = console.warn;
    log("detached");
    warn.call(undefined, "detached warn");
  },
  traceNoFrames() {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      console.trace("traced", 1);
    } finally {
      Error.stackTraceLimit = limit;
    }
  },
  // --- timers (only lines whose text does not depend on elapsed time) ---
  timerAlreadyExists() {
    console.time("dup");
    console.time("dup");
  },
  timerLabels() {
    console.time();
    console.time(undefined);
    console.time("default");
    console.time(null);
    console.time(null);
    console.time(42);
    console.time("42");
    console.time({});
    console.time({ other: true });
  },
  timerMissing() {
    console.timeEnd("missing");
    console.timeLog("missing2", "extra", 1);
    console.timeEnd();
    console.timeLog();
  },
  timerCarry() {
    // Starts a timer and never ends it: a timer does not outlive its request.
    console.time("carry");
  },
  timerCarryEnd() {
    console.timeEnd("carry");
  },
  // --- many lines ---
  overflow() {
    for (let i = 0; i < 300; i++) {
      console.log(i);
    }
  },
  longLine() {
    console.log("a".repeat(20000), "b".repeat(20000), "never");
  },
};

export const run = query({
  args: { s: v.string() },
  handler: async (_ctx, { s }) => {
    scenarios[s]();
    return null;
  },
});

export const runInMutation = mutation({
  args: { s: v.string() },
  handler: async (_ctx, { s }) => {
    scenarios[s]();
    return null;
  },
});

export const runInAction = action({
  args: { s: v.string() },
  handler: async (_ctx, { s }) => {
    scenarios[s]();
    return null;
  },
});

// What user code sees of the console object.
export const consoleShape = query({
  args: {},
  handler: async () => {
    const missing = {};
    for (const m of ["table", "assert", "count", "countReset", "group", "groupEnd", "dir", "dirxml", "groupCollapsed", "clear"]) {
      missing[m] = typeof console[m];
    }
    return {
      keys: Object.keys(console),
      tag: Object.prototype.toString.call(console),
      missing,
    };
  },
});

// Calling a console method Convex does not implement throws a TypeError.
export const unsupportedMethods = query({
  args: {},
  handler: async () => {
    const out = [];
    const calls = [
      () => console.assert(false, "x"),
      () => console.table([1]),
      () => console.count("c"),
      () => console.countReset("c"),
      () => console.group("g"),
    ];
    for (const call of calls) {
      try {
        call();
        out.push("ok");
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    console.log("after unsupported");
    return out;
  },
});

// A getter that throws while a value is being formatted: console.log throws, no line is written.
export const throwingGetter = query({
  args: {},
  handler: async () => {
    const o = {
      get bad() {
        throw new Error("getter boom");
      },
    };
    try {
      console.log("before", o);
    } catch (e) {
      console.log("caught", e.message);
    }
    return null;
  },
});

// A document read back from the database: system fields first, fields in sorted order.
export const logDocument = mutation({
  args: {},
  handler: async (ctx) => {
    const id = await ctx.db.insert("logs_docs", { zeta: 1, alpha: "a" });
    const doc = await ctx.db.get(id);
    console.log(Object.keys(doc));
    console.log({ ...doc, _id: "ID", _creationTime: 0 });
    return null;
  },
});

// --- nested calls ---

export const childQuery = internalQuery({
  args: { tag: v.string() },
  handler: async (_ctx, { tag }) => {
    console.log("child query", tag);
    console.info({ tag });
    return tag;
  },
});

export const childQueryThrows = internalQuery({
  args: {},
  handler: async () => {
    console.warn("child about to throw");
    throw new Error("child failed");
  },
});

export const childMutation = internalMutation({
  args: { tag: v.string() },
  handler: async (_ctx, { tag }) => {
    console.warn("child mutation", tag);
    return tag;
  },
});

export const childMutationThrows = internalMutation({
  args: {},
  handler: async () => {
    console.error("child mutation about to throw");
    throw new Error("child mutation failed");
  },
});

export const childAction = internalAction({
  args: {},
  handler: async () => {
    console.log("child action");
    return "done";
  },
});

export const queryCallsQuery = query({
  args: {},
  handler: async (ctx) => {
    console.log("parent before");
    const r = await ctx.runQuery(internal.logs.childQuery, { tag: "q1" });
    console.log("parent after", r);
    return r;
  },
});

export const queryCallsQueryTwice = query({
  args: {},
  handler: async (ctx) => {
    console.log("start");
    await ctx.runQuery(internal.logs.childQuery, { tag: "first" });
    console.log("between");
    await ctx.runQuery(internal.logs.childQuery, { tag: "second" });
    console.log("end");
    return null;
  },
});

export const queryCatchesChildError = query({
  args: {},
  handler: async (ctx) => {
    console.log("parent before");
    try {
      await ctx.runQuery(internal.logs.childQueryThrows, {});
    } catch (e) {
      console.log("parent caught");
    }
    return null;
  },
});

export const mutationCallsMutation = mutation({
  args: {},
  handler: async (ctx) => {
    console.log("parent mutation before");
    await ctx.runMutation(internal.logs.childMutation, { tag: "m1" });
    await ctx.runQuery(internal.logs.childQuery, { tag: "q2" });
    console.log("parent mutation after");
    return null;
  },
});

export const mutationCatchesChildError = mutation({
  args: {},
  handler: async (ctx) => {
    console.log("parent mutation before");
    try {
      await ctx.runMutation(internal.logs.childMutationThrows, {});
    } catch (e) {
      console.log("parent mutation caught");
    }
    return null;
  },
});

export const mutationCallsThenThrows = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.runMutation(internal.logs.childMutation, { tag: "m2" });
    console.log("parent about to throw");
    throw new Error("parent mutation failed");
  },
});

export const actionCallsFunctions = action({
  args: {},
  handler: async (ctx) => {
    console.log("action before");
    await ctx.runQuery(internal.logs.childQuery, { tag: "from action" });
    console.log("action between");
    await ctx.runMutation(internal.logs.childMutation, { tag: "from action" });
    await ctx.runAction(internal.logs.childAction, {});
    console.log("action after");
    return null;
  },
});

export const actionCatchesChildError = action({
  args: {},
  handler: async (ctx) => {
    console.log("action before");
    try {
      await ctx.runQuery(internal.logs.childQueryThrows, {});
    } catch (e) {
      console.log("action caught");
    }
    return null;
  },
});

// --- calls that log and then fail ---

export const queryLogsThenThrows = query({
  args: {},
  handler: async () => {
    console.log("query before throw");
    console.warn({ step: 1 });
    throw new Error("query kaboom");
  },
});

export const mutationLogsThenThrows = mutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("logs_docs", { zeta: 2, alpha: "rolled back" });
    console.info("mutation before throw");
    throw new Error("mutation kaboom");
  },
});

export const actionLogsThenThrows = action({
  args: {},
  handler: async () => {
    console.error("action before throw");
    throw new Error("action kaboom");
  },
});
