// The Isobar prelude: runs first in every context, before any user module (CONVEX_ABI.md §1, §8).
//
// It is a function expression; the worker calls it with its native bindings, which therefore never
// appear on globalThis, when it prepares a context (possibly before the invocation is known):
//   native.syscall(op, argsJson) -> string          a host call, synchronous
//   native.asyncSyscall(op, argsJson) -> Promise    queued; the worker runs queued calls in batches
// It returns enterInvocation(params), which the worker calls once when the invocation starts, with
// {seedHigh, seedLow, now, deterministic}. A context serves one invocation only.
(function installPrelude(native) {
  "use strict";
  const { syscall, asyncSyscall } = native;
  const define = (target, name, value) =>
    Object.defineProperty(target, name, { value, writable: true, enumerable: false, configurable: true });

  const Convex = Object.freeze({
    syscall: (op, args) => syscall(op, args),
    asyncSyscall: (op, args) => asyncSyscall(op, args),
    jsSyscall: (op) => {
      throw new Error(`Unknown JS syscall: ${String(op)}`);
    },
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

  return function enterInvocation(params) {
    if (!params.deterministic) return;

    // Math.random and friends from a seeded generator (sfc32 over the 64-bit seed).
    let a = params.seedHigh >>> 0, b = params.seedLow >>> 0, c = 0x9e3779b9, d = 1;
    const next = () => {
      a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
      const t = (a + b) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      d = (d + 1) | 0;
      const r = (t + d) | 0;
      c = (c + r) | 0;
      return (r >>> 0) / 4294967296;
    };
    for (let i = 0; i < 12; i++) next();
    define(Math, "random", function random() {
      return next();
    });

    // Date.now() and new Date() read the invocation's fixed time; other forms are untouched.
    const RealDate = Date;
    const now = params.now;
    function FixedDate(...args) {
      if (new.target === undefined) return new RealDate(now).toString();
      return Reflect.construct(RealDate, args.length === 0 ? [now] : args, new.target);
    }
    Object.setPrototypeOf(FixedDate, RealDate);
    FixedDate.prototype = RealDate.prototype;
    define(FixedDate, "now", function now_() {
      return now;
    });
    define(RealDate.prototype, "constructor", FixedDate);
    define(globalThis, "Date", FixedDate);

    // Garbage collection must not show through.
    define(globalThis, "WeakRef", class WeakRef {
      #target;
      constructor(target) {
        this.#target = target;
      }
      deref() {
        return this.#target;
      }
    });
    define(globalThis, "FinalizationRegistry", class FinalizationRegistry {
      register() {}
      unregister() {
        return false;
      }
    });

    // What queries and mutations may not do, with Convex's messages.
    const refuse = (what) => () => {
      throw new Error(`Can't use ${what} in queries and mutations. Please consider using an action.`);
    };
    define(globalThis, "fetch", function fetch() {
      return Promise.reject(new Error("Can't use fetch() in queries and mutations. Please consider using an action."));
    });
    define(globalThis, "setTimeout", refuse("setTimeout"));
    define(globalThis, "setInterval", refuse("setInterval"));
  };
});
