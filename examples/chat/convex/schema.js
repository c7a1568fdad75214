import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    room: v.string(),
    author: v.string(),
    text: v.string(),
  }).index("by_room", ["room"]),
});
