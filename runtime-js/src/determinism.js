// Prelude fragment: enterInvocation(params), called by the worker when an invocation starts, with
// {seedHigh, seedLow, now, deterministic}. For queries and mutations it makes Math.random,
// crypto.getRandomValues / randomUUID, Date and garbage collection deterministic and refuses fetch and
// timers with Convex's messages (CONVEX_ABI.md §8). A reused ("warm") context gets it again per
// invocation, so every per-request global is reset.

const RealDate = Date;
const realRandom = Math.random;
const realFillRandom = fillRandom;
const RealWeakRef = globalThis.WeakRef;
const RealFinalizationRegistry = globalThis.FinalizationRegistry;

class StrongWeakRef {
  #target;
  constructor(target) {
    this.#target = target;
  }
  deref() {
    return this.#target;
  }
}
class NoFinalizationRegistry {
  register() {}
  unregister() {
    return false;
  }
}
// As on Convex, a timer in a query or mutation fails the function even where the call is caught: the
// refusal is a rejection nobody can handle.
const refusedTimer = (what) => () => {
  Promise.reject(refusal(what));
  return 0;
};
function refusedFetch() {
  return Promise.reject(refusal("fetch()"));
}

// Timers in actions: each is a host call that answers once its time has passed (at most a minute per
// call). Cleared timers never call back. Timers still pending when the action returns are dropped,
// with Convex's warning about unawaited operations.
let nextTimerId = 1;
const liveTimers = new Set();
const sleep = (ms) =>
  asyncSyscall("isobar/sleep", jsonStringify({ ms: Math.min(ms, 60000) })).then(() =>
    ms > 60000 ? sleep(ms - 60000) : undefined);
const delayOf = (delay) => Math.max(0, Number(delay) || 0);
// A code string as the handler is refused, uncatchably, as Convex refuses it.
const refuseCodeString = (callback, name) => {
  if (typeof callback === "string") {
    notImplemented("code string argument", name);
  }
};
function actionSetTimeout(callback, delay, ...args) {
  refuseCodeString(callback, "setTimeout");
  const id = nextTimerId++;
  liveTimers.add(id);
  sleep(delayOf(delay)).then(() => {
    if (!liveTimers.delete(id)) return;
    if (typeof callback === "function") callback(...args);
  });
  return id;
}
function actionSetInterval(callback, delay, ...args) {
  refuseCodeString(callback, "setInterval");
  const id = nextTimerId++;
  liveTimers.add(id);
  const tick = () =>
    sleep(delayOf(delay)).then(() => {
      if (!liveTimers.has(id)) return;
      if (typeof callback === "function") callback(...args);
      return tick();
    });
  tick();
  return id;
}
function clearTimer(id) {
  liveTimers.delete(id);
}
define(globalThis, "clearTimeout", clearTimer);
define(globalThis, "clearInterval", clearTimer);

function enterInvocation(params) {
  timers.clear();  // console.time's timers last one request
  liveTimers.clear();
  deterministicCrypto = Boolean(params.deterministic);
  performanceEntries = [];  // marks and measures last one request
  if (!params.deterministic) {
    define(Math, "random", realRandom);
    fillRandom = realFillRandom;
    define(globalThis, "Date", RealDate);
    define(RealDate.prototype, "constructor", RealDate);
    define(globalThis, "WeakRef", RealWeakRef);
    define(globalThis, "FinalizationRegistry", RealFinalizationRegistry);
    define(globalThis, "fetch", actionFetch);
    define(globalThis, "setTimeout", actionSetTimeout);
    define(globalThis, "setInterval", actionSetInterval);
    invocationStart = RealDate.now();
    return;
  }

  // sfc32 over the 64-bit seed.
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
    return r >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  define(Math, "random", function random() {
    return next() / 4294967296;
  });
  fillRandom = (bytes) => {
    for (let i = 0; i < bytes.length; i += 4) {
      const r = next();
      for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (r >>> (8 * j)) & 0xff;
    }
  };

  // Date.now() and new Date() read the invocation's fixed time; other forms are untouched.
  const now = params.now;
  function FixedDate(...args) {
    if (new.target === undefined || args.length === 0) native.observedTime();
    if (new.target === undefined) return new RealDate(now).toString();
    return Reflect.construct(RealDate, args.length === 0 ? [now] : args, new.target);
  }
  Object.setPrototypeOf(FixedDate, RealDate);
  FixedDate.prototype = RealDate.prototype;
  define(FixedDate, "now", function now_() {
    native.observedTime();
    return now;
  });
  define(RealDate.prototype, "constructor", FixedDate);
  define(globalThis, "Date", FixedDate);
  invocationStart = now;

  // Garbage collection must not show through.
  define(globalThis, "WeakRef", StrongWeakRef);
  define(globalThis, "FinalizationRegistry", NoFinalizationRegistry);

  define(globalThis, "fetch", refusedFetch);
  define(globalThis, "setTimeout", refusedTimer("setTimeout"));
  define(globalThis, "setInterval", refusedTimer("setInterval"));
}
