// A wall of posts for the browser test's React app: useMutation posts, useQuery counts, and
// usePaginatedQuery pages through them newest first.
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const post = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => ctx.db.insert("posts", { author, body }),
});

export const postMany = mutation({
  args: { author: v.string(), count: v.number() },
  handler: async (ctx, { author, count }) => {
    for (let i = 1; i <= count; ++i) await ctx.db.insert("posts", { author, body: `${author} #${i}` });
  },
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("posts").collect()).length,
});

export const page = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => ctx.db.query("posts").order("desc").paginate(paginationOpts),
});
