// File storage as apps use it: upload URLs for the browser, files listed with their serving URLs,
// metadata, deletion, and storing/reading blobs in mutations (convex 1.48's store/get) and actions.
import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const generateUploadUrl = mutation({
  args: {},
  handler: async (ctx) => ctx.storage.generateUploadUrl(),
});

export const save = mutation({
  args: { storageId: v.id("_storage"), name: v.string() },
  handler: async (ctx, { storageId, name }) => ctx.db.insert("files", { storageId, name }),
});

export const list = query({
  args: {},
  handler: async (ctx) => {
    const files = await ctx.db.query("files").collect();
    return Promise.all(files.map(async (file) => ({
      name: file.name,
      storageId: file.storageId,
      url: await ctx.storage.getUrl(file.storageId),
      system: await ctx.db.system.get(file.storageId),
    })));
  },
});

export const url = query({
  args: { storageId: v.string() },
  handler: async (ctx, { storageId }) => ctx.storage.getUrl(storageId),
});

export const metadata = query({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => ctx.storage.getMetadata(storageId),
});

export const all = query({
  args: {},
  handler: async (ctx) => ctx.db.system.query("_storage").collect(),
});

export const remove = mutation({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    await ctx.storage.delete(storageId);
    return null;
  },
});

export const storeInMutation = mutation({
  args: { text: v.string() },
  handler: async (ctx, { text }) => ctx.storage.store(new Blob([text], { type: "text/plain" })),
});

export const readInMutation = mutation({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    const blob = await ctx.storage.get(storageId);
    return blob === null ? null : { text: await blob.text(), type: blob.type, size: blob.size };
  },
});

export const storeInAction = action({
  args: { text: v.string(), sha256: v.optional(v.string()) },
  handler: async (ctx, { text, sha256 }) =>
    ctx.storage.store(new Blob([text], { type: "application/x-action" }), sha256 === undefined ? undefined : { sha256 }),
});

export const readInAction = action({
  args: { storageId: v.id("_storage") },
  handler: async (ctx, { storageId }) => {
    const blob = await ctx.storage.get(storageId);
    return blob === null ? null : { text: await blob.text(), type: blob.type };
  },
});
