// Push case semantics/schema_duplicate_index_name: two indexes with the same name.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string(), b: v.string() })
    .index("by_field", ["a"])
    .index("by_field", ["b"]),
});
