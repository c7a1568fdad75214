// Documents read by the ids in a function's arguments: the supervisor reads them ahead and the
// worker answers the function's first gets (supervisor/runner/prefetch.h). Each function here is
// written as an app would be; tests/prefetch_test.cc checks that the answers, the reads recorded
// (the query cache, OCC) and a function's own writes are as without the read ahead.
import { mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";

export const make = mutationGeneric({
  args: { n: v.number() },
  handler: async (ctx, { n }) => await ctx.db.insert("docs", { n }),
});

export const read = queryGeneric({
  args: { id: v.id("docs") },
  handler: async (ctx, { id }) => await ctx.db.get(id),
});

export const set = mutationGeneric({
  args: { id: v.id("docs"), n: v.number() },
  handler: async (ctx, { id, n }) => {
    await ctx.db.patch(id, { n });
  },
});

// Its own write is what its next get sees.
export const bump = mutationGeneric({
  args: { id: v.id("docs") },
  handler: async (ctx, { id }) => {
    const before = await ctx.db.get(id);
    await ctx.db.patch(id, { n: before.n + 1 });
    const after = await ctx.db.get(id);
    return [before.n, after.n];
  },
});

// Copies one document's n onto another after a while (long enough for a second call to overlap it).
// Two of these in opposite directions at once is write skew unless both reads are the calls' own.
export const copySlowly = mutationGeneric({
  args: { from: v.id("docs"), to: v.id("docs"), iterations: v.number() },
  handler: async (ctx, { from, to, iterations }) => {
    const source = await ctx.db.get(from);
    let x = 0;
    for (let i = 0; i < iterations; i++) x = (x + i * 7) % 1000003;
    await ctx.db.patch(to, { n: source.n });
    return x;
  },
});

// Reads neither document its arguments name.
export const ignore = queryGeneric({
  args: { id: v.id("docs"), k: v.number() },
  handler: async (_ctx, { k }) => k,
});
