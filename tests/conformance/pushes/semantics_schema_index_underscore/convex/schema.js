// Push case semantics/schema_index_underscore: an index name starting with an underscore (reserved).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("_by_a", ["a"]),
});
