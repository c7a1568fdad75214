// Push case semantics/import_time_values: Date.now() and Math.random() at import time. Convex pins
// both to values fixed for the push (import_phase_unix_timestamp / import_phase_rng_seed), so two
// executions see the same import-time values.
import { actionGeneric as action, queryGeneric as query } from "convex/server";
import { anyApi as api } from "convex/server";
import { v } from "convex/values";

const IMPORT_NOW = Date.now();
const IMPORT_RANDOM = Math.random();

// `nonce` gives each call its own cache key, so both calls execute.
export const read = query({
  args: { nonce: v.number() },
  handler: async () => ({ now: IMPORT_NOW, random: IMPORT_RANDOM, execNow: Date.now() }),
});

export const compare = action({
  args: {},
  handler: async (ctx) => {
    const a = await ctx.runQuery(api.importtime.read, { nonce: 1 });
    const b = await ctx.runQuery(api.importtime.read, { nonce: 2 });
    return {
      nowType: typeof a.now,
      randomType: typeof a.random,
      sameNow: a.now === b.now,
      sameRandom: a.random === b.random,
      importNotAfterExecution: a.now <= a.execNow,
    };
  },
});
