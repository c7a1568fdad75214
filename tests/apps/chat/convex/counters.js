// Named counters: the classic OCC workload (many clients incrementing one document).
import { v } from "convex/values";
import { api } from "./_generated/api";
import { action, mutation, query } from "./_generated/server";

export const increment = mutation({
  args: { name: v.string() },
  returns: v.int64(),
  handler: async (ctx, { name }) => {
    const counter = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    if (counter === null) {
      await ctx.db.insert("counters", { name, value: 1n });
      return 1n;
    }
    await ctx.db.patch(counter._id, { value: counter.value + 1n });
    return counter.value + 1n;
  },
});

export const get = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const counter = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    return counter === null ? 0n : counter.value;
  },
});

export const whoAmI = query({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    return identity === null ? null : identity.subject;
  },
});

export const setting = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => process.env[name] ?? null,
});

// Burns CPU for a while (for admission tests): queries have no clock, so it counts.
export const spin = query({
  args: { iterations: v.float64() },
  handler: async (_ctx, { iterations }) => {
    let x = 0;
    for (let i = 0; i < iterations; i++) x = (x + i * 7) % 1000003;
    return x;
  },
});

// For fault tests: writes a marker document, then (if asked) burns CPU so that the worker can be
// killed while the mutation is still running.
export const mark = mutation({
  args: { name: v.string(), spin: v.boolean() },
  handler: async (ctx, { name, spin }) => {
    const id = await ctx.db.insert("counters", { name, value: 1n });
    let x = 0;
    if (spin) for (let i = 0; i < 5e9; i++) x = (x + i) % 1000003;
    return id;
  },
});

export const countNamed = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) =>
    (await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .collect()).length,
});

// For version tests: which code version answers. `waitForGate` keeps an action in flight (polling a
// counter through queries) until a client opens the gate, then reports the version it ran.
const VERSION = "version-1";

export const version = query({ args: {}, handler: async () => VERSION });

export const waitForGate = action({
  args: { gate: v.string() },
  handler: async (ctx, { gate }) => {
    for (let i = 0; i < 200000; i++) {
      if ((await ctx.runQuery(api.counters.get, { name: gate })) > 0n) return VERSION;
    }
    throw new Error("the gate never opened");
  },
});

// Reads a counter `times` times through ctx.runQuery: an action that stays in flight for a while,
// each step a nested call (the supervisor's drain must let those through).
export const readRepeatedly = action({
  args: { name: v.string(), times: v.number() },
  handler: async (ctx, { name, times }) => {
    let value = 0n;
    for (let i = 0; i < times; i++) value = await ctx.runQuery(api.counters.get, { name });
    return value;
  },
});

// Module state. With fresh contexts (the default) every call starts it over; a version pushed with
// warm contexts keeps it between the calls one context serves.
let callsInThisContext = 0;
export const contextCalls = mutation({ args: {}, handler: async () => ++callsInThisContext });

// For fault tests: one mutation writing two documents, tagged with the caller's idempotency key, so
// that a test can tell, per key, whether it was lost (0 pairs), duplicated (2+) or partial (1 of 2).
export const markPair = mutation({
  args: { channel: v.string(), tag: v.string() },
  handler: async (ctx, { channel, tag }) => {
    await ctx.db.insert("messages", { channel, author: "first", body: tag });
    await ctx.db.insert("messages", { channel, author: "second", body: tag });
    return tag;
  },
});

// The tags of a channel's pairs: [author, tag] per document.
export const pairsOf = query({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) =>
    (await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .collect()).map((m) => [m.author, m.body]),
});
