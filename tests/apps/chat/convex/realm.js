// Marks the realm it runs in: with the fresh policy (the default) no call may see another's marks;
// module state starts over too.
import { v } from "convex/values";
import { query } from "./_generated/server";

let calls = 0;

export const mark = query({
  args: { call: v.number() },  // a new argument each time: the query cache answers none of them
  handler: async () => {
    calls += 1;
    const saw = {
      calls,
      global: globalThis.marked ?? null,
      prototype: {}.marked ?? null,
      json: typeof JSON.marked,
    };
    globalThis.marked = "global";
    Object.prototype.marked = "prototype";
    JSON.marked = () => "json";
    return saw;
  },
});
