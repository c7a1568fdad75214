// A well-formed module next to the broken one.
import { query } from "./_generated/server";

export const ping = query({ args: {}, handler: async () => "pong" });
