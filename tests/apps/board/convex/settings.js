// "Create the settings row if there is none": every client calls ensure() on start, concurrently.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const ensure = mutation({
  args: {},
  handler: async (ctx) => {
    const existing = await ctx.db.query("settings").first();
    if (existing !== null) return existing._id;
    return await ctx.db.insert("settings", { theme: "dark" });
  },
});

export const all = query({
  args: {},
  handler: async (ctx) => await ctx.db.query("settings").collect(),
});

// A document fetched by an id the client kept, maybe from before its table existed.
export const get = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => await ctx.db.get(id),
});
