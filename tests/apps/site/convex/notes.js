// Notes that the site app's HTTP actions write and read, as real apps do through ctx.runMutation.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const add = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => ctx.db.insert("notes", { text }),
});

export const list = query({
  args: {},
  handler: async (ctx) => ctx.db.query("notes").collect(),
});
