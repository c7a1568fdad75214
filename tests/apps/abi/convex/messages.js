// CONVEX_ABI.md §9.3: a query, a mutation, an internal mutation and an action, written as apps are.
import { ConvexError, v } from "convex/values";
import { api, internal } from "./_generated/api";
import { action, internalMutation, mutation, query } from "./_generated/server";

export const send = mutation({
  args: { body: v.string(), author: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, { body, author }) => {
    if (body.length === 0) throw new ConvexError({ code: "EMPTY", field: "body" });
    const id = await ctx.db.insert("messages", { author, body, n: 5n });
    await ctx.db.patch(id, { body: body + "!", tags: undefined });
    await ctx.db.get(id);
    await ctx.scheduler.runAfter(1000, internal.messages.cleanup, { id });
    return id;
  },
});

export const list = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("messages").collect(),
});

export const page = query({
  args: { cursor: v.union(v.string(), v.null()) },
  handler: async (ctx, { cursor }) =>
    await ctx.db.query("messages").order("asc").paginate({ numItems: 1, cursor }),
});

export const search = query({
  args: {},
  handler: async (ctx) =>
    await ctx.db
      .query("messages")
      .withSearchIndex("search_body", (q) => q.search("body", "hel").eq("author", "ann"))
      .take(5),
});

export const whoAmI = query({
  args: {},
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

export const scheduled = query({
  args: {},
  handler: async (ctx) => await ctx.db.system.query("_scheduled_functions").collect(),
});

export const cleanup = internalMutation({
  args: { id: v.string() },
  handler: async () => null,
});

export const countThem = internalMutation({
  args: {},
  handler: async () => 0,
});

export const act = action({
  args: { body: v.string() },
  handler: async (ctx, { body }) => {
    const before = await ctx.runQuery(api.messages.list, {});
    await ctx.runMutation(api.messages.send, { body, author: "ann" });
    const similar = await ctx.vectorSearch("messages", "by_embedding", {
      vector: [0.1, 0.2, 0.3],
      limit: 2,
      filter: (q) => q.eq("author", "ann"),
    });
    await ctx.scheduler.runAfter(0, api.messages.list, {});
    return { before: before.length, similar: similar.length };
  },
});
