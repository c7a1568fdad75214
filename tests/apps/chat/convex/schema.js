// A chat app's schema: channels of messages, and named counters.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    channel: v.string(),
    author: v.string(),
    body: v.string(),
    edited: v.optional(v.boolean()),
  })
    .index("by_channel", ["channel"])
    .index("by_author_channel", ["author", "channel"]),
  counters: defineTable({ name: v.string(), value: v.int64() }).index("by_name", ["name"]),
  summaries: defineTable({ channel: v.string(), count: v.float64(), latest: v.union(v.string(), v.null()) }),
});
