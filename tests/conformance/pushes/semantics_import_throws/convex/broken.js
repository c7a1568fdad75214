// Push case semantics/import_throws: this module throws while it is imported, so the push fails.
import { queryGeneric as query } from "convex/server";

export const neverServed = query({ args: {}, handler: async () => "unreachable" });

throw new Error("semantics import-time failure");
