// Data to back up and move: values of every Convex type, many documents, stored files.
import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const put = mutation({
  args: { value: v.any() },
  handler: async (ctx, { value }) => await ctx.db.insert("items", { value }),
});

// `n` documents with a number and a bigint each.
export const putMany = mutation({
  args: { n: v.number(), from: v.number() },
  handler: async (ctx, { n, from }) => {
    for (let i = 0; i < n; i++) await ctx.db.insert("rows", { i: from + i, big: BigInt(from + i) * 1000000007n });
  },
});

export const all = query({
  args: { table: v.string() },
  handler: async (ctx, { table }) => await ctx.db.query(table).collect(),
});

export const count = query({
  args: { table: v.string() },
  handler: async (ctx, { table }) => (await ctx.db.query(table).collect()).length,
});

export const store = action({
  args: { text: v.string(), repeat: v.number() },
  handler: async (ctx, { text, repeat }) =>
    await ctx.storage.store(new Blob([text.repeat(repeat)], { type: "text/plain" })),
});

export const files = query({
  args: {},
  handler: async (ctx) => await ctx.db.system.query("_storage").collect(),
});

// A document that refers to a stored file, as apps keep them.
export const attach = mutation({
  args: { file: v.id("_storage"), name: v.string() },
  handler: async (ctx, { file, name }) => await ctx.db.insert("attachments", { file, name }),
});

export const fileText = action({
  args: { file: v.id("_storage") },
  handler: async (ctx, { file }) => {
    const blob = await ctx.storage.get(file);
    return blob === null ? null : await blob.text();
  },
});
