// Conformance area "semantics": stack traces and console.trace point at the app's own files, through
// the source maps pushed with the bundle (as Convex's CLI pushes them).
import { action, mutation, query } from "./_generated/server";
import { failDeep } from "./lib/stack_helper";

export const throwsInQuery = query({
  args: {},
  handler: async () => {
    throw new Error("boom in a query");
  },
});

export const throwsInHelper = mutation({
  args: {},
  handler: async () => failDeep("from a mutation"),
});

export const throwsInAction = action({
  args: {},
  handler: async () => {
    await Promise.resolve();
    throw new TypeError("boom in an action");
  },
});

export const traces = query({
  args: {},
  handler: async () => {
    console.trace("traced");
    return null;
  },
});

export const logsCaughtStack = query({
  args: {},
  handler: async () => {
    try {
      failDeep("caught");
    } catch (e) {
      console.log(e.stack);
    }
    return null;
  },
});
