// Push case semantics/schema_index_by_id: an index named "by_id" (reserved).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("by_id", ["a"]),
});
