// A task runner's schema: the runs of scheduled work, and a scratch table a cron keeps clear.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  runs: defineTable({ label: v.string(), step: v.number() }).index("by_label_step", ["label", "step"]),
  scratch: defineTable({ text: v.string() }),
});
