"use node";
// Push case semantics/use_node: a Node.js action module (the Convex CLI runs these in Node).
import { actionGeneric as action } from "convex/server";

export const hello = action({ args: {}, handler: async () => "from node" });
