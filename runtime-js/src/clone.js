// Prelude fragment: structuredClone (the HTML structured clone algorithm for the types that exist here).
// As on Convex, a value that cannot be cloned fails with a plain Error "could not deserialize value"
// (Convex serializes and deserializes through V8), and any options are refused uncatchably.

const notCloneable = () => new Error("could not deserialize value");

function structuredCloneImpl(value, memo) {
  if (typeof value === "symbol" || typeof value === "function") throw notCloneable();
  if (typeof value !== "object" || value === null) return value;
  if (memo.has(value)) return memo.get(value);
  const remember = (copy) => {
    memo.set(value, copy);
    return copy;
  };
  if (value instanceof Boolean) return remember(new Boolean(value.valueOf()));
  if (value instanceof Number) return remember(new Number(value.valueOf()));
  if (value instanceof String) return remember(new String(value.valueOf()));
  if (value instanceof BigInt) return remember(Object(value.valueOf()));
  if (value instanceof Date) return remember(new Date(value.getTime()));
  if (value instanceof RegExp) return remember(new RegExp(value.source, value.flags));
  if (value instanceof ArrayBuffer) return remember(value.slice(0));
  if (ArrayBuffer.isView(value)) {
    const buffer = structuredCloneImpl(value.buffer, memo);
    const Type = value.constructor;
    if (value instanceof DataView) return remember(new DataView(buffer, value.byteOffset, value.byteLength));
    return remember(new Type(buffer, value.byteOffset, value.length));
  }
  const { Blob, File } = webBlob();
  if (value instanceof File) return remember(new File([value], value.name, { type: value.type, lastModified: value.lastModified }));
  if (value instanceof Blob) return remember(new Blob([value], { type: value.type }));
  if (value instanceof Error) {
    const kNames = ["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"];
    const name = kNames.includes(value.name) ? value.name : "Error";
    const copy = remember(new globalThis[name](value.message));
    if (value.stack !== undefined) define(copy, "stack", String(value.stack));
    if ("cause" in value) define(copy, "cause", structuredCloneImpl(value.cause, memo));
    return copy;
  }
  if (value instanceof Map) {
    const copy = remember(new Map());
    for (const [k, v] of value) copy.set(structuredCloneImpl(k, memo), structuredCloneImpl(v, memo));
    return copy;
  }
  if (value instanceof Set) {
    const copy = remember(new Set());
    for (const v of value) copy.add(structuredCloneImpl(v, memo));
    return copy;
  }
  if (Array.isArray(value)) {
    const copy = remember(new Array(value.length));
    for (const key of Object.keys(value)) copy[key] = structuredCloneImpl(value[key], memo);
    return copy;
  }
  const { Headers, Request, Response } = webFetch();
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet || value instanceof webUrl().URL ||
      value instanceof Headers || value instanceof Request || value instanceof Response ||
      value instanceof webEvents().EventTarget) {
    throw notCloneable();
  }
  const copy = remember({});
  for (const key of Object.keys(value)) copy[key] = structuredCloneImpl(value[key], memo);
  return copy;
}

define(globalThis, "structuredClone", function structuredClone(value, options) {
  if (arguments.length === 0) throw new TypeError("structuredClone requires 1 argument");
  if (options !== undefined) uncatchable("structuredClone with transfer not supported");
  return structuredCloneImpl(value, new Map());
});
