// A module so the push has a function besides the schema.
import { queryGeneric as query } from "convex/server";

export const ping = query({ args: {}, handler: async () => "pong" });
