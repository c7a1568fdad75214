// Tables of the "logs" conformance area (merged into schema.js by the lead).
import { defineTable } from "convex/server";
import { v } from "convex/values";

export const tables = {
  logs_docs: defineTable({ zeta: v.number(), alpha: v.string() }),
};
