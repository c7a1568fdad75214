// Top-level code that needs memory for a moment: about 48 MB of arrays, all dropped before the module
// is done. Any worker runs it (its heap may hold 128 MB); a snapshot maker given less memory than
// that dies of it, whichever of the version's functions is called.
import { queryGeneric } from "convex/server";

let held = [];
for (let i = 0; i < 6; i += 1) held.push(new Array(1 << 20).fill(i));
const chunks = held.length;
held = [];

export const chunkCount = queryGeneric({
  args: {},
  handler: async () => chunks,
});
