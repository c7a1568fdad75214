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

// The globals that differ between deterministic calls (queries, mutations) and actions are installed
// once, as stable functions that ask the current invocation: code that took one at module scope
// (`const now = Date.now`, as lodash does) gets the call's behaviour, in a reused context and in a
// context copied from a snapshot made while the modules were imported.
let deterministic = false;
let currentRandom = realRandom;
let fixedNow = 0;
// As on Convex, a timer in a query or mutation fails the function even where the call is caught: the
// refusal is a rejection nobody can handle.
const refusedTimer = (what) => () => {
  Promise.reject(refusal(what));
  return 0;
};
function refusedFetch() {
  return Promise.reject(refusal("fetch()"));
}

// Timers in actions, kept as Convex's runtime keeps them: one queue ordered by deadline (then by
// creation); a host call (isobar/sleep, at most a minute each) wakes the runtime for the earliest; due
// timers run one at a time, with the microtasks each queued run before the next. Cleared timers never
// call back; timers still pending when the action returns are dropped (without a warning, as on Convex).
let nextTimerId = 1;
let timerSequence = 0;
const liveTimers = new Set();
const timerQueue = [];  // {id, at, seq, callback, args, interval (ms, or null)}
let wakeAt = Infinity;  // the earliest wake-up asked for and not yet come
let runningTimers = false;
const delayOf = (delay) => Math.max(0, Number(delay) || 0);
function queueTimer(timer) {
  let at = timerQueue.length;
  while (at > 0 && (timerQueue[at - 1].at > timer.at ||
    (timerQueue[at - 1].at === timer.at && timerQueue[at - 1].seq > timer.seq))) at--;
  timerQueue.splice(at, 0, timer);
  scheduleWake();
}
function scheduleWake() {
  if (timerQueue.length === 0 || timerQueue[0].at >= wakeAt) return;
  const at = timerQueue[0].at;
  wakeAt = at;
  const ms = Math.min(Math.max(0, at - RealDate.now()), 60000);
  asyncSyscall("isobar/sleep", jsonStringify({ ms })).then(() => {
    if (wakeAt === at) wakeAt = Infinity;
    runDueTimers();
  });
}
async function runDueTimers() {
  if (runningTimers) return;
  runningTimers = true;
  try {
    // The timers due now; any they start (and intervals re-armed) wait for the next wake-up, so even
    // a 0 ms interval yields to the action's other work.
    const now = RealDate.now();
    let due = 0;
    while (due < timerQueue.length && timerQueue[due].at <= now) due++;
    for (const timer of timerQueue.splice(0, due)) {
      await null;  // what the previous callback queued runs first
      if (!liveTimers.has(timer.id)) continue;
      if (timer.interval === null) liveTimers.delete(timer.id);
      try {
        if (typeof timer.callback === "function") timer.callback(...timer.args);
      } catch (error) {
        Promise.reject(error);  // as an unhandled rejection: it fails the action, as before
      }
      if (timer.interval !== null && liveTimers.has(timer.id)) {
        timer.at = RealDate.now() + timer.interval;
        timer.seq = timerSequence++;
        queueTimer(timer);
      }
    }
  } finally {
    runningTimers = false;
    scheduleWake();
  }
}
// A code string as the handler is refused, uncatchably, as Convex refuses it.
const refuseCodeString = (callback, name) => {
  if (typeof callback === "string") {
    notImplemented("code string argument", name);
  }
};
function startTimer(callback, delay, args, repeat) {
  const id = nextTimerId++;
  liveTimers.add(id);
  const ms = delayOf(delay);
  queueTimer({ id, at: RealDate.now() + ms, seq: timerSequence++, callback, args, interval: repeat ? ms : null });
  return id;
}
function actionSetTimeout(callback, delay, ...args) {
  refuseCodeString(callback, "setTimeout");
  return startTimer(callback, delay, args, false);
}
function actionSetInterval(callback, delay, ...args) {
  refuseCodeString(callback, "setInterval");
  return startTimer(callback, delay, args, true);
}
function clearTimer(id) {
  if (!liveTimers.delete(id)) return;
  const at = timerQueue.findIndex((timer) => timer.id === id);
  if (at >= 0) timerQueue.splice(at, 1);
}
define(globalThis, "clearTimeout", clearTimer);
define(globalThis, "clearInterval", clearTimer);
const refusedSetTimeout = refusedTimer("setTimeout");
const refusedSetInterval = refusedTimer("setInterval");
define(globalThis, "setTimeout", {
  setTimeout(callback, delay, ...args) {
    return deterministic ? refusedSetTimeout() : actionSetTimeout(callback, delay, ...args);
  },
}.setTimeout);
define(globalThis, "setInterval", {
  setInterval(callback, delay, ...args) {
    return deterministic ? refusedSetInterval() : actionSetInterval(callback, delay, ...args);
  },
}.setInterval);
define(globalThis, "fetch", {
  fetch(input, init = undefined) {
    return deterministic ? refusedFetch() : actionFetch(input, init);
  },
}.fetch);

define(Math, "random", {
  random() {
    return currentRandom();
  },
}.random);

// Date.now() and new Date() read the invocation's fixed time in deterministic calls; other forms are
// untouched.
const StableDate = function Date(...args) {
  if (!deterministic) return new.target === undefined ? RealDate() : Reflect.construct(RealDate, args, new.target);
  if (new.target === undefined || args.length === 0) native.observedTime();
  if (new.target === undefined) return new RealDate(fixedNow).toString();
  return Reflect.construct(RealDate, args.length === 0 ? [fixedNow] : args, new.target);
};
Object.setPrototypeOf(StableDate, RealDate);
Object.defineProperty(StableDate, "length", { value: RealDate.length });
StableDate.prototype = RealDate.prototype;
define(StableDate, "now", {
  now() {
    if (!deterministic) return RealDate.now();
    native.observedTime();
    return fixedNow;
  },
}.now);
define(RealDate.prototype, "constructor", StableDate);
define(globalThis, "Date", StableDate);

// Garbage collection must not show through in deterministic calls: a WeakRef made in one holds its
// target as long as the WeakRef lives (a WeakMap entry keyed by the ref), and finalization callbacks
// are dropped while a deterministic call runs.
if (RealWeakRef !== undefined) {
  const heldByRef = new WeakMap();
  const StableWeakRef = function WeakRef(target) {
    if (new.target === undefined) throw new TypeError("Constructor WeakRef requires 'new'");
    const ref = Reflect.construct(RealWeakRef, [target], new.target);
    if (deterministic) heldByRef.set(ref, target);
    return ref;
  };
  Object.defineProperty(StableWeakRef, "length", { value: 1 });
  StableWeakRef.prototype = RealWeakRef.prototype;
  define(RealWeakRef.prototype, "constructor", StableWeakRef);
  define(globalThis, "WeakRef", StableWeakRef);
}
if (RealFinalizationRegistry !== undefined) {
  const StableFinalizationRegistry = function FinalizationRegistry(cleanup) {
    if (new.target === undefined) throw new TypeError("Constructor FinalizationRegistry requires 'new'");
    const callback = typeof cleanup === "function" ? (held) => deterministic || cleanup(held) : cleanup;
    return Reflect.construct(RealFinalizationRegistry, [callback], new.target);
  };
  Object.defineProperty(StableFinalizationRegistry, "length", { value: 1 });
  StableFinalizationRegistry.prototype = RealFinalizationRegistry.prototype;
  define(RealFinalizationRegistry.prototype, "constructor", StableFinalizationRegistry);
  define(globalThis, "FinalizationRegistry", StableFinalizationRegistry);
}

function enterInvocation(params) {
  timers.clear();  // console.time's timers last one request
  liveTimers.clear();
  timerQueue.length = 0;
  wakeAt = Infinity;
  runningTimers = false;
  deterministic = Boolean(params.deterministic);
  deterministicCrypto = deterministic;
  performanceEntries = [];  // marks and measures last one request
  if (!deterministic) {
    currentRandom = realRandom;
    fillRandom = realFillRandom;
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
  currentRandom = () => next() / 4294967296;
  fillRandom = (bytes) => {
    for (let i = 0; i < bytes.length; i += 4) {
      const r = next();
      for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (r >>> (8 * j)) & 0xff;
    }
  };
  fixedNow = params.now;
  invocationStart = fixedNow;
}
