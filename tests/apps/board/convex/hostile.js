// Strings that are not valid Unicode (lone UTF-16 surrogates) in every way user code can hand one to
// the runtime: log lines, errors, ConvexError data, return values, arguments and documents.
import { ConvexError, v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

const LONE = ["\ud83c", "\udc00", "a\ud800b", "\udfff\ud800", "ok \ud83c\udf89 pair"];

export const log = query({
  args: {},
  handler: async () => {
    for (const s of LONE) {
      console.log(s);
      console.error("error:", s);
      console.warn({ nested: [s] });
    }
    return "logged";
  },
});

export const logFromAction = action({
  args: {},
  handler: async () => {
    for (const s of LONE) console.info(s);
    return "logged";
  },
});

export const throwError = query({
  args: { which: v.number() },
  handler: async (_, { which }) => {
    throw new Error(LONE[which]);
  },
});

export const throwConvexError = query({
  args: { which: v.number(), wrap: v.boolean() },
  handler: async (_, { which, wrap }) => {
    throw new ConvexError(wrap ? { message: LONE[which] } : LONE[which]);
  },
});

export const returnLone = query({
  args: { which: v.number() },
  handler: async (_, { which }) => ({ value: LONE[which] }),
});

export const echo = query({
  args: { value: v.any() },
  handler: async (_, { value }) => value,
});

// Host calls that exist for tests (isobar/echo writes a global table) must not be reachable from a
// deployed function, however it asks.
export const testDoors = mutation({
  args: {},
  handler: async () => {
    const outcomes = [];
    for (const call of [() => Convex.syscall("isobar/echo", "{}"), () => Convex.asyncSyscall("isobar/echo", "{}")]) {
      try {
        outcomes.push(["served", await call()]);
      } catch (e) {
        outcomes.push(["refused", e.message]);
      }
    }
    return outcomes;
  },
});

export const insertLone = mutation({
  args: { which: v.number() },
  handler: async (ctx, { which }) => await ctx.db.insert("hostile", { s: LONE[which] }),
});

export const fieldNameLone = mutation({
  args: {},
  handler: async (ctx) => await ctx.db.insert("hostile", { ["\ud83c"]: 1 }),
});
