// A chat room: post a message, read the room newest first one page at a time, and an action that
// greets a newcomer by posting on the room's behalf.
import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { api } from "./_generated/api";
import { action, mutation, query } from "./_generated/server";

export const post = mutation({
  args: { room: v.string(), author: v.string(), text: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, message) => {
    if (message.text.trim() === "") throw new ConvexError({ reason: "empty message" });
    return await ctx.db.insert("messages", message);
  },
});

export const page = query({
  args: { room: v.string(), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { room, paginationOpts }) =>
    await ctx.db
      .query("messages")
      .withIndex("by_room", (q) => q.eq("room", room))
      .order("desc")
      .paginate(paginationOpts),
});

export const welcome = action({
  args: { room: v.string(), newcomer: v.string() },
  handler: async (ctx, { room, newcomer }) => {
    const id = await ctx.runMutation(api.messages.post, {
      room,
      author: "isobar-bot",
      text: `Welcome to #${room}, ${newcomer}!`,
    });
    console.log(`welcomed ${newcomer} in #${room}`);
    return id;
  },
});
