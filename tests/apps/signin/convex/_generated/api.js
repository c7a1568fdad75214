/* eslint-disable */
// Written to match what `npx convex codegen` emits for a JavaScript project.
import { anyApi } from "convex/server";

export const api = anyApi;
export const internal = anyApi;
