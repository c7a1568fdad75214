// The conformance app's schema: each area declares its tables in schema_<area>.js.
import { defineSchema } from "convex/server";
import { tables as logs } from "./schema_logs";

export default defineSchema({ ...logs }, { schemaValidation: true });
