// A module so the push has a function besides the schema.
import { query } from "./_generated/server";

export const ping = query({ args: {}, handler: async () => "pong" });
