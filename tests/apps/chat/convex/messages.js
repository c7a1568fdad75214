// Messages: send, list a channel page by page, edit, delete, and an action that summarises a channel.
import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { api, internal } from "./_generated/api";
import { action, internalMutation, internalQuery, mutation, query } from "./_generated/server";

export const send = mutation({
  args: { channel: v.string(), author: v.string(), body: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, { channel, author, body }) => {
    if (body.trim().length === 0) throw new ConvexError({ code: "EMPTY_BODY", channel });
    if (body.length > 1000) throw new Error("message too long");
    console.log(`send to ${channel} by ${author}`);
    return await ctx.db.insert("messages", { channel, author, body });
  },
});

export const list = query({
  args: { channel: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { channel, paginationOpts }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .order("desc")
      .paginate(paginationOpts),
});

export const get = query({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => await ctx.db.get(id),
});

export const byAuthor = query({
  args: { author: v.string(), channel: v.optional(v.string()) },
  handler: async (ctx, { author, channel }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_author_channel", (q) => (channel === undefined ? q.eq("author", author) : q.eq("author", author).eq("channel", channel)))
      .collect(),
});

export const edit = mutation({
  args: { id: v.id("messages"), body: v.string() },
  returns: v.null(),
  handler: async (ctx, { id, body }) => {
    const message = await ctx.db.get(id);
    if (message === null) throw new ConvexError({ code: "NOT_FOUND", id });
    await ctx.db.patch(id, { body, edited: true });
    return null;
  },
});

export const remove = internalMutation({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    await ctx.db.delete(id);
  },
});

export const channelStats = internalQuery({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const messages = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .collect();
    return { count: messages.length, latest: messages.length ? messages[messages.length - 1].body : null };
  },
});

export const recordSummary = internalMutation({
  args: { channel: v.string(), count: v.float64(), latest: v.union(v.string(), v.null()) },
  handler: async (ctx, summary) => await ctx.db.insert("summaries", summary),
});

// An action: reads through a query, writes through a mutation, returns what it stored.
export const summarize = action({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    const stats = await ctx.runQuery(internal.messages.channelStats, { channel });
    const id = await ctx.runMutation(internal.messages.recordSummary, { channel, ...stats });
    const first = await ctx.runQuery(api.messages.list, { channel, paginationOpts: { numItems: 1, cursor: null } });
    return { id, ...stats, newest: first.page.length ? first.page[0].body : null };
  },
});

// Returns something its validator refuses (a developer's bug the runtime must catch).
export const broken = query({
  args: {},
  returns: v.string(),
  handler: async () => 42,
});

// Tries to write from a query through the raw syscall (what a hostile bundle could do).
export const sneakyWrite = query({
  args: {},
  handler: async () =>
    JSON.parse(await Convex.asyncSyscall("1.0/insert", JSON.stringify({ table: "messages", value: { x: 1 } }))),
});

// Scheduling: delete a message later, look at the jobs, cancel one.
export const expireLater = mutation({
  args: { id: v.id("messages"), afterMs: v.float64() },
  handler: async (ctx, { id, afterMs }) => await ctx.scheduler.runAfter(afterMs, internal.messages.remove, { id }),
});

export const jobs = query({
  args: {},
  handler: async (ctx) =>
    (await ctx.db.system.query("_scheduled_functions").collect()).map((job) => ({
      id: job._id,
      name: job.name,
      args: job.args,
      state: job.state.kind,
      scheduledTime: job.scheduledTime,
    })),
});

export const job = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => await ctx.db.system.get(id),
});

export const cancelJob = mutation({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => await ctx.scheduler.cancel(id),
});

export const expireFromAction = action({
  args: { id: v.id("messages") },
  handler: async (ctx, { id }) => {
    const job = await ctx.scheduler.runAt(Date.now() + 3_600_000, internal.messages.remove, { id });
    await ctx.scheduler.cancel(job);
    return job;
  },
});

export const scheduleNowhere = mutation({
  args: {},
  handler: async (ctx) => await ctx.scheduler.runAfter(0, "messages:doesNotExist", {}),
});

// Internal bookkeeping tables are not readable, even through db.system.
export const peekInternals = query({
  args: {},
  handler: async (ctx) => await ctx.db.system.query("_idempotency_keys").collect(),
});

// Cross-function calls inside queries and mutations (one transaction).
export const sendAndCount = mutation({
  args: { channel: v.string(), body: v.string() },
  handler: async (ctx, { channel, body }) => {
    await ctx.runMutation(api.messages.send, { channel, author: "nested", body });
    const stats = await ctx.runQuery(internal.messages.channelStats, { channel });
    return stats.count; // sees the nested insert: same transaction
  },
});

export const insertThenFail = internalMutation({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    await ctx.db.insert("messages", { channel, author: "nested", body: "rolled back" });
    throw new ConvexError({ code: "NESTED_FAILURE" });
  },
});

export const survivesNestedFailure = mutation({
  args: { channel: v.string() },
  handler: async (ctx, { channel }) => {
    await ctx.db.insert("messages", { channel, author: "outer", body: "kept" });
    try {
      await ctx.runMutation(internal.messages.insertThenFail, { channel });
    } catch (e) {
      return e.data?.code ?? String(e.message);
    }
    return "no error";
  },
});

export const nest = query({
  args: { levels: v.float64() },
  handler: async (ctx, { levels }) =>
    levels === 0 ? 0 : 1 + (await ctx.runQuery(api.messages.nest, { levels: levels - 1 })),
});

// Hostile: starts a nested mutation through the raw syscall and returns without awaiting it.
export const abandonNested = mutation({
  args: {},
  handler: async () => {
    Convex.asyncSyscall(
      "1.0/runUdf",
      JSON.stringify({ udfType: "mutation", name: "messages:send", args: { channel: "abandoned", author: "x", body: "y" } }),
    ).catch(() => {});
    return "returned early";
  },
});

// For benchmarks: `n` messages in one mutation; their ids, in order.
export const sendMany = mutation({
  args: { channel: v.string(), n: v.number() },
  handler: async (ctx, { channel, n }) => {
    const ids = [];
    for (let i = 0; i < n; i++) ids.push(await ctx.db.insert("messages", { channel, author: "bench", body: `m${i}` }));
    return ids;
  },
});
