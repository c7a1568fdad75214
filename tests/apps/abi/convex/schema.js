// CONVEX_ABI.md §9.3: a schema with several index kinds.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    author: v.string(),
    body: v.string(),
    n: v.optional(v.int64()),
    tags: v.optional(v.array(v.string())),
    embedding: v.optional(v.array(v.float64())),
  })
    .index("by_author", ["author"])
    .searchIndex("search_body", { searchField: "body", filterFields: ["author"] })
    .vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 3, filterFields: ["author"] }),
  users: defineTable(
    v.union(v.object({ kind: v.literal("person"), name: v.string() }), v.object({ kind: v.literal("bot") })),
  ),
});
