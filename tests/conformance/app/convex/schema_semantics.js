// Tables of the "semantics" conformance area (merged into schema.js by the lead).
import { defineTable } from "convex/server";
import { v } from "convex/values";

export const tables = {
  // Documents the semantics cases create and read, grouped by `tag` (one tag per case).
  semantics_docs: defineTable({
    tag: v.string(),
    n: v.optional(v.number()),
    a: v.optional(v.any()),
    b: v.optional(v.any()),
    val: v.optional(v.any()),
  })
    .index("by_tag", ["tag"])
    .index("by_tag_n", ["tag", "n"])
    .index("by_tag_a_b", ["tag", "a", "b"]),
  // A second table, for ids of "another table".
  semantics_items: defineTable({ tag: v.string() }).index("by_tag", ["tag"]),
  // The `_scheduled_functions` id of the job a case scheduled, by tag.
  semantics_jobs: defineTable({ tag: v.string(), jobId: v.string() }).index("by_tag", ["tag"]),
};
