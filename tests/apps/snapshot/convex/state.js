// Module state, globals and builtins that every call changes. Under the default (fresh) context
// policy each call must find none of what an earlier call left: its context is a copy of the
// version's startup snapshot, or a fresh evaluation of its modules.
import { mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";

let calls = 0;
const memo = new Map();

// `n` only makes each call's arguments differ (a query's cached result would answer a repeat).
export const touch = queryGeneric({
  args: { n: v.number() },
  handler: async () => {
    calls += 1;
    const saw = {
      calls,
      memo: memo.size,
      leaked: globalThis.leaked ?? null,
      polluted: [].polluted ?? null,
      max: Math.max(1, 2),
    };
    memo.set(calls, true);
    globalThis.leaked = calls;
    Array.prototype.polluted = calls;
    Math.max = () => -1;
    return saw;
  },
});

export const note = mutationGeneric({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    calls += 1;
    const id = await ctx.db.insert("notes", { text });
    const doc = await ctx.db.get(id);
    return { calls, text: doc.text };
  },
});
