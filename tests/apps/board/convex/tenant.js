// A hostile tenant's tricks against shared resources and the runtime (issue 16; SECURITY.md §5):
// fanning actions out into many nested calls, replacing JSON.stringify, polluting
// Object.prototype, and reading its own transaction metrics.
import { v } from "convex/values";
import { api } from "./_generated/api";
import { action, mutation, query } from "./_generated/server";

// Burns a little CPU so that nested calls overlap.
export const busy = query({
  args: { n: v.number() },
  handler: async (_, { n }) => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x = (x + i * n) % 1000003;
    return n;
  },
});

// Forty nested queries at once from one action.
export const fanOut = action({
  args: {},
  handler: async (ctx) => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => ctx.runQuery(api.tenant.busy, { n })));
    return results.reduce((a, b) => a + b, 0);
  },
});

// The convex package serialises results with the global JSON.stringify.
export const replacedStringify = query({
  args: {},
  handler: async () => {
    JSON.stringify = () => 42;
    return "never seen";
  },
});

// The runtime's own host calls (process.env) do not go through a replaced JSON: with the
// replacements, the variable asked for would be another one, or its value "tampered".
export const envAfterTampering = query({
  args: {},
  handler: async () => {
    const { stringify, parse } = JSON;
    JSON.stringify = () => '{"name":"SOMETHING_ELSE"}';
    JSON.parse = () => "tampered";
    const url = process.env.CONVEX_CLOUD_URL;
    JSON.stringify = stringify;
    JSON.parse = parse;
    return url ?? "unset";
  },
});

// What Convex reports: databaseQueries counts the read set's disjoint ranges, remaining may go negative.
export const metrics = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    await ctx.db.get(id);
    await ctx.db.get(id);  // the same point: merged
    await ctx.db.query("messages").withIndex("by_creation_time", (q) => q.gt("_creationTime", 4e12)).collect();
    return (await ctx.meta.getTransactionMetrics()).databaseQueries;
  },
});

// One document in each of `count` new tables (a deployment with many tables, for the push limits).
export const manyTables = mutation({
  args: { prefix: v.string(), count: v.number() },
  handler: async (ctx, { prefix, count }) => {
    for (let i = 0; i < count; i++) await ctx.db.insert(`${prefix}${i}`, {});
    return count;
  },
});
