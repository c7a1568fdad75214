// Prelude fragment: the Convex global, process.env, self, console (CONVEX_ABI.md §1.1, §1.2).
// Fragments share one function scope; the order is given in runtime-js/BUILD.bazel.

const define = (target, name, value) =>
  Object.defineProperty(target, name, { value, writable: true, enumerable: false, configurable: true });
const { syscall, asyncSyscall } = native;

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
    const value = JSON.parse(syscall("isobar/env", JSON.stringify({ name })));
    return value === null ? undefined : value;
  },
  has(_target, name) {
    return typeof name === "string" && JSON.parse(syscall("isobar/env", JSON.stringify({ name }))) !== null;
  },
  set() {
    return false;
  },
});
define(globalThis, "process", Object.freeze({ env }));
define(globalThis, "self", globalThis);

// console: every level, formatted like Node's (format specifiers, util.inspect-style objects). The
// worker caps the number and length of lines (and marks a cut line); formatting stops just past the cap.
const kMaxLineChars = 32 * 1024;
const counts = new Map();
const timers = new Map();
const emit = (level, args) => native.log(level, formatLogArgs(args, kMaxLineChars + 1));
const consoleObject = {};
for (const level of ["log", "info", "warn", "error", "debug"]) {
  define(consoleObject, level, function (...args) {
    emit(level, args);
  });
}
define(consoleObject, "trace", function trace(...args) {
  const stack = String(new Error().stack).split("\n").slice(2).join("\n");
  emit("error", ["Trace:", ...args, "\n" + stack]);
});
define(consoleObject, "dir", function dir(value) {
  emit("log", [value]);
});
define(consoleObject, "table", function table(...args) {
  emit("log", args);
});
define(consoleObject, "assert", function assert(condition, ...args) {
  if (!condition) emit("error", ["Assertion failed" + (args.length > 0 ? ":" : ""), ...args]);
});
define(consoleObject, "count", function count(label = "default") {
  const n = (counts.get(String(label)) ?? 0) + 1;
  counts.set(String(label), n);
  emit("info", [`${label}: ${n}`]);
});
define(consoleObject, "countReset", function countReset(label = "default") {
  counts.delete(String(label));
});
define(consoleObject, "time", function time(label = "default") {
  timers.set(String(label), Date.now());
});
const elapsed = (label) => `${label}: ${Date.now() - timers.get(String(label))}ms`;
define(consoleObject, "timeLog", function timeLog(label = "default", ...args) {
  if (timers.has(String(label))) emit("info", [elapsed(label), ...args]);
});
define(consoleObject, "timeEnd", function timeEnd(label = "default") {
  if (!timers.has(String(label))) return;
  emit("info", [elapsed(label)]);
  timers.delete(String(label));
});
define(globalThis, "console", consoleObject);
