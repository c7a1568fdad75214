// Push case semantics/schema_missing_field: an index on a field the table's validator does not have.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable({ a: v.string() }).index("by_nope", ["nope"]),
});
