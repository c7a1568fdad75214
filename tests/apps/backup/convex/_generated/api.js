/* eslint-disable */
/**
 * Generated `api` utility. (Written to match what `npx convex codegen` emits.)
 */
import { anyApi } from "convex/server";

export const api = anyApi;
export const internal = anyApi;
