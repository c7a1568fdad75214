// Push case semantics/schema_duplicate_index_fields: two indexes on the same fields.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("by_a1", ["a"]).index("by_a2", ["a"]),
});
