// A chat where only signed-in users post, and every message shows its author's name.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const send = mutation({
  args: { body: v.string() },
  handler: async (ctx, { body }) => {
    const identity = await ctx.auth.getUserIdentity();
    if (!identity) throw new Error("Unauthenticated call to send");
    const user = await ctx.db
      .query("users")
      .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
      .unique();
    if (user === null) throw new Error("Unknown user: call users:store first");
    await ctx.db.insert("messages", { author: user._id, body });
  },
});

export const list = query({
  args: {},
  handler: async (ctx) => {
    const messages = await ctx.db.query("messages").collect();
    return Promise.all(messages.map(async (m) => ({ author: (await ctx.db.get(m.author))?.name ?? null, body: m.body })));
  },
});
