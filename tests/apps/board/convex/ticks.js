// What the cron does: one row per run.
import { internalMutation, query } from "./_generated/server";

export const record = internalMutation({
  args: {},
  handler: async (ctx) => {
    await ctx.db.insert("ticks", { at: Date.now() });
  },
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("ticks").collect()).length,
});
