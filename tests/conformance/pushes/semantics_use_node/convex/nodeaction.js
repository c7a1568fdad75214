"use node";
// Push case semantics/use_node: a Node.js action module (the Convex CLI runs these in Node).
import { action } from "./_generated/server";

export const hello = action({ args: {}, handler: async () => "from node" });
