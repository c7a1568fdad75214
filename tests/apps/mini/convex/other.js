// A second entry point, so that esbuild splits the shared convex library into a _deps/ chunk that
// both modules import relatively, as the official CLI's output does.
import { queryGeneric } from "convex/server";
import { ConvexError } from "convex/values";

export const fails = queryGeneric({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: 42, why: "nope" });
  },
});

export const plain = queryGeneric(async () => "plain");
