// Push case semantics/schema_index_by_creation_time: an index named "by_creation_time" (reserved).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("by_creation_time", ["a"]),
});
