// Convex's "store the user" pattern (the users-and-auth demo): the signed-in user's row, made on first
// sign-in and kept in step with their name.
import { action, mutation, query } from "./_generated/server";

export const store = mutation({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    if (!identity) throw new Error("Called storeUser without authentication present");
    const user = await ctx.db
      .query("users")
      .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
      .unique();
    if (user !== null) {
      if (user.name !== identity.name) await ctx.db.patch(user._id, { name: identity.name ?? "Anonymous" });
      return user._id;
    }
    return await ctx.db.insert("users", { name: identity.name ?? "Anonymous", tokenIdentifier: identity.tokenIdentifier });
  },
});

export const whoAmI = query({
  args: {},
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

export const whoAmIInAction = action({
  args: {},
  handler: async (ctx) => {
    const identity = await ctx.auth.getUserIdentity();
    // And through a nested query, as the same user.
    const nested = await ctx.runQuery("users:whoAmI", {});
    return { subject: identity?.subject ?? null, nestedSubject: nested?.subject ?? null };
  },
});
