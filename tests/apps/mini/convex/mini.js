// CONVEX_ABI.md §9.2, written as an app would: one mutation, one query.
import { mutationGeneric, queryGeneric } from "convex/server";
import { v } from "convex/values";

export const send_ = mutationGeneric({
  args: { body: v.string(), author: v.string() },
  handler: (ctx, a) => ctx.db.insert("t", a),
});

export const list_ = queryGeneric({
  args: {},
  handler: (ctx) => ctx.db.query("t").collect(),
});
