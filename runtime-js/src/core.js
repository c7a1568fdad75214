// Prelude fragment: the Convex global, process.env, self, console (CONVEX_ABI.md §1.1, §1.2).
// Fragments share one function scope; the order is given in runtime-js/BUILD.bazel.

const define = (target, name, value) =>
  Object.defineProperty(target, name, { value, writable: true, enumerable: false, configurable: true });
const { syscall, asyncSyscall } = native;
// JSON as it was before user code ran: the runtime's own host calls never go through a replacement
// (SECURITY.md §5 case 7).
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;

// Web API classes are created on first use in a context, not while the prelude installs itself: most
// functions never touch most of them, and every fresh context would pay for them otherwise.
// once(factory) memoises a factory; defineLazy makes a global that calls it on first access and then
// becomes a plain data property (assignable, as the real global would be).
const once = (factory) => {
  let made;
  return () => (made === undefined ? (made = factory()) : made);
};
const defineLazy = (name, get) =>
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = get();
      define(globalThis, name, value);
      return value;
    },
    set(value) {
      define(globalThis, name, value);
    },
  });

// Throws an error user code cannot catch, as Convex's throwUncatchableDeveloperError: it is also left
// as an unhandled rejection, which fails the invocation even when the code catches the throw.
const uncatchable = (message) => {
  const error = new Error(message);
  Promise.reject(error);
  throw error;
};

// Convex's runtime helpers (udf-runtime helpers.ts), used by every fragment.
const kUseNode = "Consider calling an action defined in Node.js instead (https://docs.convex.dev/functions/actions).";
// "Not implemented: <operation> for <className>[: <extra>]. <use Node>", uncatchably.
const notImplemented = (operation, className, extra = undefined) =>
  uncatchable(`Not implemented: ${operation} for ${className}${extra ? `: ${extra}` : ""}. ${kUseNode}`);
// "Failed to execute '<method>' on '<on>': N argument(s) required, but only M present."
function requireArgumentCount(count, required, method, on) {
  if (count < required) {
    throw new TypeError(`Failed to execute '${method}' on '${on}': ${required} argument${required === 1 ? "" : "s"} ` +
      `required, but only ${count} present.`);
  }
}
// What a query or mutation may not use ("Can't use fetch() in queries and mutations. ...").
const refusal = (what) =>
  new Error(`Can't use ${what} in queries and mutations. Please consider using an action. ` +
    "See https://docs.convex.dev/functions/actions for more details.");

const Convex = Object.freeze({
  syscall: (op, args) => syscall(op, args),
  asyncSyscall: (op, args) => asyncSyscall(op, args),
  jsSyscall: (op, args) => runJsSyscall(op, args),
});
Object.defineProperty(globalThis, "Convex", { value: Convex, writable: false, enumerable: false, configurable: false });

// process.env: each read is a host call; a missing name is undefined.
const env = new Proxy(Object.freeze({}), {
  get(_target, name) {
    if (typeof name !== "string") return undefined;
    const value = jsonParse(syscall("isobar/env", jsonStringify({ name })));
    if (value === null && name === "inspect") return () => "[process.env]";  // how console shows it on Convex
    return value === null ? undefined : value;
  },
  has(_target, name) {
    return typeof name === "string" && jsonParse(syscall("isobar/env", jsonStringify({ name }))) !== null;
  },
  set() {
    return false;
  },
});
define(globalThis, "process", Object.freeze({ env }));
define(globalThis, "self", globalThis);

// console: as Convex's runtime has it, with the same methods (no table, assert, count, group, ...).
// Each argument is formatted by object-inspect with Convex's options (strings quoted, objects over
// several lines), the parts joined by a space; the worker caps the number of lines and their length,
// as Convex does. Timers last one request (enterInvocation clears them).
const inspectOptions = { maxStringLength: 32768, indent: 2, customInspect: true };
const format = (args) => args.map((arg) => objectInspect(arg, inspectOptions)).join(" ");
const label = (value) => (value === undefined ? "default" : value === null ? "null" : String(value));
const timers = new Map();
const elapsed = (key) => `${key}: ${Date.now() - timers.get(key)}ms`;
const consoleObject = Object.assign(Object.create({}), {
  debug: (...args) => native.log("debug", format(args)),
  error: (...args) => native.log("error", format(args)),
  info: (...args) => native.log("info", format(args)),
  log: (...args) => native.log("log", format(args)),
  warn: (...args) => native.log("warn", format(args)),
  trace(...args) {
    // The arguments, then the caller's frames, each ending a line (Convex: the message, then its
    // JsError of the frames); the prelude's own frames are left out. The supervisor maps the frames.
    const frames = String(new Error().stack).split("\n").slice(2).filter((frame) => !/\(isobar:|at isobar:/.test(frame));
    native.log("log", `${format(args)} \n${frames.map((frame) => `${frame}\n`).join("")}`);
  },
  time(name) {
    const key = label(name);
    if (timers.has(key)) native.log("warn", `Timer '${key}' already exists`);
    else timers.set(key, Date.now());
  },
  timeLog(name, ...args) {
    const key = label(name);
    if (!timers.has(key)) native.log("warn", `Timer '${key}' does not exist`);
    else native.log("info", args.length === 0 ? elapsed(key) : `${elapsed(key)} ${format(args)}`);
  },
  timeEnd(name) {
    const key = label(name);
    if (!timers.has(key)) {
      native.log("warn", `Timer '${key}' does not exist`);
      return;
    }
    native.log("info", elapsed(key));
    timers.delete(key);
  },
});
Object.defineProperty(consoleObject, Symbol.toStringTag, { value: "console", configurable: true });
define(globalThis, "console", consoleObject);
