// Tables of the "limits" conformance area (merged into schema.js by the lead).
import { defineTable } from "convex/server";
import { v } from "convex/values";

export const tables = {
  // Documents written by the write-count / write-size / document-shape cases.
  limits_docs: defineTable(v.any()),
  // Exactly 100 small documents {n: 0..99}, created by limits:seed and never changed.
  limits_hundred: defineTable(v.any()),
  // One document {goneId}: the id of a document of limits_gone that was deleted.
  limits_meta: defineTable(v.any()),
  limits_gone: defineTable(v.any()),
  // One document whose Convex size is exactly 1 MiB (1048576 bytes).
  limits_big: defineTable(v.any()),
  // One document {n: -1}; queried through by_n with ranges that match nothing.
  limits_probe: defineTable(v.any()).index("by_n", ["n"]),
};
