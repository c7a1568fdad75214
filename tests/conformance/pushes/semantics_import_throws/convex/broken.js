// Push case semantics/import_throws: this module throws while it is imported, so the push fails.
import { query } from "./_generated/server";

export const neverServed = query({ args: {}, handler: async () => "unreachable" });

throw new Error("semantics import-time failure");
