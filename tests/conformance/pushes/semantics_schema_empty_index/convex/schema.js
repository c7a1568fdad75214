// Push case semantics/schema_empty_index: an index with no fields.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("by_nothing", []),
});
