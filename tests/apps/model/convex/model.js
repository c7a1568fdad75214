// A query and a mutation that do whatever their spec says, for tests/differential_test.cc: it checks
// every result (cached, fresh, and every subscriber's) against a model of the database it keeps.
// The spec is data, so the test can make any query shape a real app writes, without a redeploy.
import { v } from "convex/values";
import { api } from "./_generated/api";
import { mutation, query } from "./_generated/server";

// q.eq("a", 1).gt("b", 2)... from [{op, field, value}].
function withRange(q, range) {
  let built = q;
  for (const { op, field, value } of range) built = built[op](field, value);
  return built;
}

function source(ctx, spec) {
  const db = spec.system ? ctx.db.system : ctx.db;
  let q = db.query(spec.table);
  if (spec.index !== undefined) q = q.withIndex(spec.index, (b) => withRange(b, spec.range));
  if (spec.order !== undefined) q = q.order(spec.order);
  if (spec.filterB !== undefined) q = q.filter((f) => f.eq(f.field("b"), spec.filterB));
  return q;
}

export const run = query({
  args: { spec: v.any(), nonce: v.optional(v.number()) },
  handler: async (ctx, { spec }) => {
    switch (spec.kind) {
      case "get":
        return await ctx.db.get(spec.id);
      case "count":
        return await ctx.db.query(spec.table).count();
      case "collect":
        return await source(ctx, spec).collect();
      case "take":
        return await source(ctx, spec).take(spec.n);
      case "first":
        return await source(ctx, spec).first();
      case "unique":
        return await source(ctx, spec).unique();
      case "iterate": {
        // for await, stopping early: reads only up to what it looked at.
        const out = [];
        for await (const doc of source(ctx, spec)) {
          out.push(doc);
          if (out.length === spec.n) break;
        }
        return out;
      }
      case "paginate": {
        const { page, isDone, continueCursor } = await source(ctx, spec).paginate({
          numItems: spec.n,
          cursor: spec.cursor,
        });
        return { page, isDone, continueCursor };
      }
      default:
        throw new Error(`unknown spec kind ${spec.kind}`);
    }
  },
});

export const apply = mutation({
  args: { op: v.any() },
  handler: async (ctx, { op }) => {
    switch (op.kind) {
      case "insert":
        return await ctx.db.get(await ctx.db.insert(op.table, op.doc));
      case "patch":
        await ctx.db.patch(op.id, op.fields);
        return await ctx.db.get(op.id);
      case "replace":
        await ctx.db.replace(op.id, op.doc);
        return await ctx.db.get(op.id);
      case "delete":
        await ctx.db.delete(op.id);
        return null;
      case "insertThenThrow":
        await ctx.db.insert(op.table, op.doc);
        throw new Error("changed my mind");
      case "schedule": {
        // A year out: it never runs while the test does, but _scheduled_functions gets a document.
        const id = await ctx.scheduler.runAfter(365 * 24 * 3600 * 1000, api.model.noop, { tag: op.tag });
        return await ctx.db.system.get(id);
      }
      default:
        throw new Error(`unknown op kind ${op.kind}`);
    }
  },
});

export const noop = mutation({ args: { tag: v.number() }, handler: async () => null });

// Concurrent clients, for serializability: each is a read-then-write that a lost conflict would break.
export const ensure = mutation({
  args: { table: v.string() },
  handler: async (ctx, { table }) => {
    const existing = await ctx.db.query(table).first();
    if (existing !== null) return existing._id;
    return await ctx.db.insert(table, { made: true });
  },
});

export const claim = mutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const taken = await ctx.db.query("claims").withIndex("by_name", (q) => q.eq("name", name)).first();
    if (taken !== null) return false;
    await ctx.db.insert("claims", { name });
    return true;
  },
});

export const increment = mutation({
  args: { id: v.id("counters") },
  handler: async (ctx, { id }) => {
    const counter = await ctx.db.get(id);
    await ctx.db.patch(id, { n: counter.n + 1 });
  },
});

// Write skew: take one unit from x or y only while x + y stays >= 0. Under snapshot isolation two
// clients may both see 1 and both take; serializable, the sum never goes below 0.
export const withdraw = mutation({
  args: { x: v.id("accounts"), y: v.id("accounts"), fromX: v.boolean() },
  handler: async (ctx, { x, y, fromX }) => {
    const a = await ctx.db.get(x);
    const b = await ctx.db.get(y);
    if (a.balance + b.balance < 1) return false;
    const from = fromX ? a : b;
    await ctx.db.patch(from._id, { balance: from.balance - 1 });
    return true;
  },
});

export const setup = mutation({
  args: { counters: v.number(), balance: v.number() },
  handler: async (ctx, { counters, balance }) => {
    const ids = [];
    for (let i = 0; i < counters; i++) ids.push(await ctx.db.insert("counters", { n: 0 }));
    const x = await ctx.db.insert("accounts", { balance });
    const y = await ctx.db.insert("accounts", { balance: 0 });
    return { counters: ids, x, y };
  },
});
