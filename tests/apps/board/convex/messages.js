// A message board as a new user writes it: no schema yet, a list that the first screen subscribes to
// before anyone has posted, and a post mutation.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const list = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("messages").order("desc").take(20),
});

export const latest = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("messages").order("desc").first(),
});

export const all = query({
  args: {},
  handler: async (ctx) => {
    const out = [];
    for await (const message of ctx.db.query("messages")) out.push(message.body);
    return out;
  },
});

export const byId = query({
  args: { from: v.optional(v.string()), take: v.number() },
  handler: async (ctx, { from, take }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_id", (q) => (from === undefined ? q : q.gt("_id", from)))
      .take(take),
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => await ctx.db.insert("messages", { author, body }),
});

// Many at once, for tables that are not small.
export const sendMany = mutation({
  args: { author: v.string(), count: v.number() },
  handler: async (ctx, { author, count }) => {
    for (let i = 0; i < count; i++) await ctx.db.insert("messages", { author, body: `${author} ${i}` });
  },
});
