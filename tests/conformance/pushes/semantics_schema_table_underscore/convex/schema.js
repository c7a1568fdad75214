// Push case semantics/schema_table_underscore: a table name starting with an underscore (reserved).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  _semantics_t: defineTable({ a: v.string() }),
});
