// The conformance app's schema: each area declares its tables in schema_<area>.js.
import { defineSchema } from "convex/server";
import { tables as limits } from "./schema_limits";
import { tables as logs } from "./schema_logs";
import { tables as semantics } from "./schema_semantics";

export default defineSchema({ ...limits, ...logs, ...semantics }, { schemaValidation: true });
