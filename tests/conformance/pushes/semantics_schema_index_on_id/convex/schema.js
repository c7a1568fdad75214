// Push case semantics/schema_index_on_id: an index on `_id`.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable(v.any()).index("by_doc_id", ["_id"]),
});
