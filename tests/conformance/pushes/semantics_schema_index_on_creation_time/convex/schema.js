// Push case semantics/schema_index_on_creation_time: an index that lists `_creationTime` explicitly.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  semantics_t: defineTable(v.any()).index("by_created", ["_creationTime"]),
});
