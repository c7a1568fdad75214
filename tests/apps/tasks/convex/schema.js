// A task runner's schema: the runs of scheduled work, a scratch table a cron keeps clear, and two
// ledgers for live queries.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  runs: defineTable({ label: v.string(), step: v.number() }).index("by_label_step", ["label", "step"]),
  scratch: defineTable({ text: v.string() }),
  // Two ledgers whose totals always add up to the same amount: transfers move units between them.
  left: defineTable({ amount: v.number() }),
  right: defineTable({ amount: v.number() }),
});
