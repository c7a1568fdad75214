// Push case semantics/env_at_import: a module that reads a deployment environment variable at
// import time (module top level) and a query that returns what it read.
import { queryGeneric as query } from "convex/server";

const AT_IMPORT = process.env.SEMANTICS_PUSH_VAR;

export const read = query({
  args: {},
  handler: async () => AT_IMPORT ?? null,
});
