import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  notes: defineTable({ text: v.string() }),
  files: defineTable({ storageId: v.id("_storage"), name: v.string() }),
  posts: defineTable({ author: v.string(), body: v.string() }),
});
