// Scheduled work as apps use it: batches of jobs, a self-rescheduling chain, actions run by the
// scheduler, jobs that fail, cancellation, and reads of _scheduled_functions.
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalAction, internalMutation, mutation, query } from "./_generated/server";

export const record = internalMutation({
  args: { label: v.string(), step: v.number() },
  handler: async (ctx, { label, step }) => {
    await ctx.db.insert("runs", { label, step });
  },
});

// `count` jobs recording steps 0..count-1 of `label`, due after `delayMs`.
export const enqueue = mutation({
  args: { label: v.string(), count: v.number(), delayMs: v.number() },
  handler: async (ctx, { label, count, delayMs }) => {
    const ids = [];
    for (let step = 0; step < count; step++) {
      ids.push(await ctx.scheduler.runAfter(delayMs, internal.jobs.record, { label, step }));
    }
    return ids;
  },
});

// A chain: each step records itself and schedules the next, until `steps` have run.
export const chain = mutation({
  args: { label: v.string(), steps: v.number() },
  handler: async (ctx, { label, steps }) =>
    await ctx.scheduler.runAfter(0, internal.jobs.chainStep, { label, step: 0, steps }),
});

export const chainStep = internalMutation({
  args: { label: v.string(), step: v.number(), steps: v.number() },
  handler: async (ctx, { label, step, steps }) => {
    await ctx.db.insert("runs", { label, step });
    if (step + 1 < steps) {
      await ctx.scheduler.runAfter(0, internal.jobs.chainStep, { label, step: step + 1, steps });
    }
  },
});

export const viaAction = internalAction({
  args: { label: v.string() },
  handler: async (ctx, { label }) => {
    await ctx.runMutation(internal.jobs.record, { label, step: 0 });
    return "done";
  },
});

export const scheduleAction = mutation({
  args: { label: v.string(), delayMs: v.number() },
  handler: async (ctx, { label, delayMs }) => await ctx.scheduler.runAfter(delayMs, internal.jobs.viaAction, { label }),
});

export const boom = internalMutation({
  args: {},
  handler: async () => {
    throw new Error("boom");
  },
});

export const scheduleBoom = mutation({
  args: {},
  handler: async (ctx) => await ctx.scheduler.runAfter(0, internal.jobs.boom, {}),
});

export const cancel = mutation({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => await ctx.scheduler.cancel(id),
});

// The steps of `label` recorded so far, in order (a step recorded twice shows twice).
export const steps = query({
  args: { label: v.string() },
  handler: async (ctx, { label }) =>
    (await ctx.db.query("runs").withIndex("by_label_step", (q) => q.eq("label", label)).collect()).map((r) => r.step),
});

// How many of `ids` are in each state.
export const states = query({
  args: { ids: v.array(v.id("_scheduled_functions")) },
  handler: async (ctx, { ids }) => {
    const counts = {};
    for (const id of ids) {
      const job = await ctx.db.system.get(id);
      const kind = job === null ? "missing" : job.state.kind;
      counts[kind] = (counts[kind] ?? 0) + 1;
    }
    return counts;
  },
});

export const job = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => await ctx.db.system.get(id),
});

export const addScratch = mutation({
  args: { n: v.number() },
  handler: async (ctx, { n }) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("scratch", { text: `line ${i}` });
  },
});

export const scratchCount = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("scratch").collect()).length,
});

// Run by a cron: empties the scratch table.
export const clearScratch = internalMutation({
  args: {},
  handler: async (ctx) => {
    const all = await ctx.db.query("scratch").collect();
    for (const row of all) await ctx.db.delete(row._id);
    if (all.length > 0) console.log(`cleared ${all.length}`);
  },
});
