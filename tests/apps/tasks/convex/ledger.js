// Two ledgers and transfers between them, for live queries: every transfer keeps left + right the same,
// so a client that ever sees another sum saw a state no serial order of transfers produces.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const open = mutation({
  args: { total: v.number() },
  handler: async (ctx, { total }) => {
    for (const row of await ctx.db.query("left").collect()) await ctx.db.delete(row._id);
    for (const row of await ctx.db.query("right").collect()) await ctx.db.delete(row._id);
    await ctx.db.insert("left", { amount: total });
    await ctx.db.insert("right", { amount: 0 });
  },
});

// Moves `n` units from left to right (or back, when negative).
export const transfer = mutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    const left = await ctx.db.query("left").first();
    const right = await ctx.db.query("right").first();
    await ctx.db.patch(left._id, { amount: left.amount - n });
    await ctx.db.patch(right._id, { amount: right.amount + n });
  },
});

export const leftTotal = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("left").collect()).reduce((sum, row) => sum + row.amount, 0),
});

export const rightTotal = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("right").collect()).reduce((sum, row) => sum + row.amount, 0),
});

export const whoAmI = query({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    return identity === null ? null : identity.subject;
  },
});

export const fails = query({
  args: {},
  handler: async (ctx) => {
    const rows = await ctx.db.query("left").collect();
    throw new Error(`left has ${rows.length} rows`);
  },
});

// The left total padded to `kilobytes` KiB: transitions large enough to fill a stream's flow-control
// window, for backpressure.
export const bigLeft = query({
  args: { kilobytes: v.number() },
  handler: async (ctx, { kilobytes }) => {
    const total = (await ctx.db.query("left").collect()).reduce((sum, row) => sum + row.amount, 0);
    return { total, padding: "x".repeat(kilobytes * 1024) };
  },
});
