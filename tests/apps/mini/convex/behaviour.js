// Functions that probe the runtime's behaviour: determinism, globals, and promise edge cases.
import { mutationGeneric, queryGeneric, actionGeneric } from "convex/server";

export const randomAndTime = queryGeneric(async () => [
  Math.random(),
  Math.random(),
  Date.now(),
  new Date().getTime(),
  typeof window,
  self === globalThis,
  typeof process.env.NOT_SET,
]);

export const envRead = queryGeneric(async () => process.env.GREETING ?? null);

export const unhandled = mutationGeneric(async () => {
  Promise.reject(new Error("nobody caught me"));
  return 1;
});

export const hangs = queryGeneric(() => new Promise(() => {}));

export const noTimers = queryGeneric(async () => {
  try {
    setTimeout(() => {}, 1);
    return "allowed";
  } catch (e) {
    return e.message;
  }
});

export const actionTime = actionGeneric(async () => Date.now());

export const manyGets = queryGeneric(async (ctx, { ids }) => Promise.all(ids.map((id) => ctx.db.get(id))));

export const notAFunction = 42;
