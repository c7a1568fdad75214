// Conformance area "web_apis": Event, EventTarget, AbortController/AbortSignal, timers and the
// Performance API. Functions take `{which}` and return small observations (see web_apis_util.js).
import { action, mutation, query } from "./_generated/server";
import { catchSync, errInfo, scenarios, tag } from "./web_apis_util";

// performance.now() while this module is being imported (fixed at 0 in Convex).
let IMPORT_TIME_PERFORMANCE_NOW;
try {
  IMPORT_TIME_PERFORMANCE_NOW = performance.now();
} catch (e) {
  IMPORT_TIME_PERFORMANCE_NOW = "threw: " + e.message;
}

// ---------------------------------------------------------------------------------------------
// Event / EventTarget
// ---------------------------------------------------------------------------------------------
const eventScenarios = {
  defaults() {
    const e = new Event("click");
    return {
      type: e.type,
      bubbles: e.bubbles,
      cancelable: e.cancelable,
      composed: e.composed,
      isTrusted: e.isTrusted,
      targetIsNull: e.target === null,
      currentTargetIsNull: e.currentTarget === null,
      eventPhase: e.eventPhase,
      defaultPrevented: e.defaultPrevented,
      composedPath: e.composedPath().length,
      tag: tag(e),
    };
  },
  init() {
    const e = new Event("submit", { bubbles: true, cancelable: true, composed: true });
    return [e.bubbles, e.cancelable, e.composed, new Event(undefined).type, new Event(12).type];
  },
  phaseConstants() {
    return [Event.NONE, Event.CAPTURING_PHASE, Event.AT_TARGET, Event.BUBBLING_PHASE];
  },
  timeStamp() {
    const e = new Event("x");
    return { isDateNow: e.timeStamp === Date.now() };
  },
  preventDefault() {
    const plain = new Event("x");
    plain.preventDefault();
    const cancelable = new Event("x", { cancelable: true });
    cancelable.preventDefault();
    const viaReturnValue = new Event("x", { cancelable: true });
    viaReturnValue.returnValue = false;
    return [
      [plain.defaultPrevented, plain.returnValue],
      [cancelable.defaultPrevented, cancelable.returnValue],
      [viaReturnValue.defaultPrevented, viaReturnValue.returnValue],
    ];
  },
  stopPropagationFlags() {
    const a = new Event("x");
    const before = a.cancelBubble;
    a.stopPropagation();
    const b = new Event("x");
    b.stopImmediatePropagation();
    return [before, a.cancelBubble, b.cancelBubble];
  },
  isTrustedGetter() {
    const d1 = Object.getOwnPropertyDescriptor(new Event("x"), "isTrusted");
    const d2 = Object.getOwnPropertyDescriptor(new Event("y"), "isTrusted");
    return { isGetter: typeof d1.get === "function", shared: d1.get === d2.get, enumerable: d1.enumerable };
  },
  dispatch() {
    const target = new EventTarget();
    const event = new Event("foo");
    const log = [];
    target.addEventListener("foo", function (e) {
      log.push([
        "first",
        this === target,
        e === event,
        e.target === target,
        e.currentTarget === target,
        e.eventPhase,
        e.composedPath().length,
        e.composedPath()[0] === target,
      ]);
    });
    target.addEventListener("foo", () => log.push(["second"]));
    const result = target.dispatchEvent(event);
    return {
      log,
      result,
      after: [event.eventPhase, event.currentTarget === null, event.target === target, event.composedPath().length],
    };
  },
  dispatchWithoutListeners() {
    const target = new EventTarget();
    const event = new Event("nobody");
    const result = target.dispatchEvent(event);
    return { result, targetSet: event.target === target };
  },
  captureListenersAtTarget() {
    const target = new EventTarget();
    const log = [];
    target.addEventListener("x", () => log.push("bubble"));
    target.addEventListener("x", () => log.push("capture"), { capture: true });
    target.addEventListener("x", () => log.push("capture-bool"), true);
    target.dispatchEvent(new Event("x"));
    return log;
  },
  once() {
    const target = new EventTarget();
    let calls = 0;
    target.addEventListener("x", () => calls++, { once: true });
    target.dispatchEvent(new Event("x"));
    target.dispatchEvent(new Event("x"));
    return calls;
  },
  duplicateListener() {
    const target = new EventTarget();
    let calls = 0;
    const cb = () => calls++;
    target.addEventListener("x", cb);
    target.addEventListener("x", cb);
    target.addEventListener("x", cb, { capture: false });
    target.dispatchEvent(new Event("x"));
    return calls;
  },
  removeIgnoresCapture() {
    const target = new EventTarget();
    let calls = 0;
    const cb = () => calls++;
    target.addEventListener("x", cb, true);
    target.addEventListener("x", cb, false);
    target.removeEventListener("x", cb, false);
    target.dispatchEvent(new Event("x"));
    return calls;
  },
  stopImmediatePropagation() {
    const target = new EventTarget();
    const log = [];
    target.addEventListener("x", (e) => {
      log.push("a");
      e.stopImmediatePropagation();
    });
    target.addEventListener("x", () => log.push("b"));
    target.dispatchEvent(new Event("x"));
    return log;
  },
  handleEventObject() {
    const target = new EventTarget();
    const log = [];
    const listener = {
      handleEvent(e) {
        log.push([e.type, this === listener]);
      },
    };
    target.addEventListener("x", listener);
    target.dispatchEvent(new Event("x"));
    target.removeEventListener("x", listener);
    target.dispatchEvent(new Event("x"));
    return log;
  },
  cancelledDispatchResult() {
    const target = new EventTarget();
    target.addEventListener("x", (e) => e.preventDefault());
    return [
      target.dispatchEvent(new Event("x", { cancelable: true })),
      target.dispatchEvent(new Event("x")),
    ];
  },
  passiveListener() {
    const target = new EventTarget();
    target.addEventListener("x", (e) => e.preventDefault(), { passive: true });
    const e = new Event("x", { cancelable: true });
    return [target.dispatchEvent(e), e.defaultPrevented];
  },
  redispatchDuringDispatch() {
    const target = new EventTarget();
    const event = new Event("x");
    let inner = null;
    target.addEventListener("x", () => {
      inner = catchSync(() => target.dispatchEvent(event));
    });
    target.dispatchEvent(event);
    return inner;
  },
  listenersAddedDuringDispatch() {
    const target = new EventTarget();
    let calls = 0;
    target.addEventListener("x", () => {
      calls++;
      target.addEventListener("x", () => calls++);
    });
    target.dispatchEvent(new Event("x"));
    return calls;
  },
  signalOption() {
    const target = new EventTarget();
    const controller = new AbortController();
    let calls = 0;
    target.addEventListener("x", () => calls++, { signal: controller.signal });
    target.dispatchEvent(new Event("x"));
    controller.abort();
    target.dispatchEvent(new Event("x"));
    const aborted = new AbortController();
    aborted.abort();
    target.addEventListener("y", () => calls++, { signal: aborted.signal });
    target.dispatchEvent(new Event("y"));
    return calls;
  },
  requiredArguments() {
    const target = new EventTarget();
    return [
      catchSync(() => target.addEventListener("x")),
      catchSync(() => target.removeEventListener("x")),
      catchSync(() => target.dispatchEvent()),
    ];
  },
  nullListener() {
    const target = new EventTarget();
    target.addEventListener("x", null);
    target.removeEventListener("x", null);
    return target.dispatchEvent(new Event("x"));
  },
  subclass() {
    class Emitter extends EventTarget {}
    const e = new Emitter();
    let calls = 0;
    e.addEventListener("x", () => calls++);
    e.dispatchEvent(new Event("x"));
    return { calls, tag: tag(e), string: String(e) };
  },
  globalTarget() {
    const { addEventListener, removeEventListener, dispatchEvent } = EventTarget.prototype;
    let calls = 0;
    const listener = () => calls++;
    addEventListener("webApisHello", listener);
    globalThis.dispatchEvent(new Event("webApisHello"));
    removeEventListener("webApisHello", listener);
    dispatchEvent(new Event("webApisHello"));
    return calls;
  },
};

export const events = query(scenarios(eventScenarios));

// ---------------------------------------------------------------------------------------------
// AbortController / AbortSignal
// ---------------------------------------------------------------------------------------------
const abortScenarios = {
  basic() {
    const controller = new AbortController();
    const { signal } = controller;
    const log = [];
    signal.onabort = (e) => log.push(["onabort", e.type]);
    signal.addEventListener("abort", function (e) {
      log.push(["listener", e.type, this === signal]);
    });
    const before = signal.aborted;
    controller.abort();
    return { before, after: signal.aborted, log };
  },
  tags() {
    const controller = new AbortController();
    return {
      controller: tag(controller),
      signal: tag(controller.signal),
      controllerString: String(controller),
      signalString: String(controller.signal),
      keys: [Object.keys(controller).length, Object.keys(controller.signal).length],
    };
  },
  defaultReason() {
    const controller = new AbortController();
    controller.abort();
    const r = controller.signal.reason;
    return { ...errInfo(r), isDOMException: r instanceof DOMException };
  },
  customReason() {
    const controller = new AbortController();
    controller.abort("hey!");
    let thrown;
    try {
      controller.signal.throwIfAborted();
    } catch (e) {
      thrown = e;
    }
    return { reason: controller.signal.reason, thrown };
  },
  notAbortedThrowIfAborted() {
    return catchSync(() => new AbortController().signal.throwIfAborted());
  },
  abortTwice() {
    const controller = new AbortController();
    let calls = 0;
    controller.signal.addEventListener("abort", () => calls++);
    controller.abort();
    controller.abort();
    return calls;
  },
  abortEventTarget() {
    const controller = new AbortController();
    let observed = null;
    controller.signal.addEventListener("abort", (e) => {
      observed = {
        isEvent: e instanceof Event,
        targetIsNull: e.target === null,
        currentTargetIsNull: e.currentTarget === null,
      };
    });
    controller.abort();
    return observed;
  },
  statics() {
    return {
      abort: typeof AbortSignal.abort,
      timeout: typeof AbortSignal.timeout,
      any: typeof AbortSignal.any,
    };
  },
  any() {
    const a = new AbortController();
    const b = new AbortController();
    const combined = AbortSignal.any([a.signal, b.signal]);
    const before = combined.aborted;
    b.abort("second");
    const pre = new AbortController();
    pre.abort("early");
    const already = AbortSignal.any([new AbortController().signal, pre.signal]);
    return {
      before,
      after: combined.aborted,
      reason: combined.reason,
      already: [already.aborted, already.reason],
    };
  },
  signalIsNotEventTarget() {
    const signal = new AbortSignal();
    return {
      constructible: signal.aborted === false,
      isEventTarget: signal instanceof EventTarget,
      reasonIsUndefined: signal.reason === undefined,
    };
  },
};

export const abort = query(scenarios(abortScenarios));

// AbortSignal.timeout() uses setTimeout, so it can only fire in an action.
export const abortAction = action(
  scenarios({
    async timeout() {
      const signal = AbortSignal.timeout(10);
      const before = signal.aborted;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { before, after: signal.aborted, reason: errInfo(signal.reason) };
    },
  }),
);

// ---------------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------------
export const timersQuery = query(
  scenarios({
    setTimeout() {
      setTimeout(() => {}, 10);
      return "returned";
    },
    setInterval() {
      setInterval(() => {}, 10);
      return "returned";
    },
  }),
);

export const timersMutation = mutation(
  scenarios({
    setTimeout() {
      setTimeout(() => {}, 10);
      return "returned";
    },
  }),
);

export const timersAction = action(
  scenarios({
    async order() {
      let log = "";
      await new Promise((resolve) => {
        let remaining = 4;
        const logger = (s) => {
          log += s;
          if (--remaining === 0) resolve();
        };
        setTimeout(logger, 50, "2");
        setTimeout(logger, 50, "3");
        setTimeout(logger, 0, "1");
        setTimeout(logger, 100, "4");
      });
      return log;
    },
    async microtaskOrdering() {
      let s = "";
      await new Promise((resolve) => {
        setTimeout(() => {
          Promise.resolve().then(() => {
            s += "con";
          });
        });
        setTimeout(() => {
          s += "vex";
          resolve();
        });
      });
      return s;
    },
    async clearTimeout() {
      const log = [];
      const t1 = setTimeout(() => log.push("t1"), 20);
      clearTimeout(t1);
      clearTimeout(t1);
      await new Promise((resolve) => setTimeout(resolve, 60));
      log.push("done");
      return log;
    },
    async setInterval() {
      let count = 0;
      await new Promise((resolve) => {
        const id = setInterval(() => {
          count++;
          if (count === 3) {
            clearInterval(id);
            setTimeout(resolve, 50);
          }
        }, 10);
      });
      return count;
    },
    timerIds() {
      const a = setTimeout(() => {}, 0);
      const b = setTimeout(() => {}, 0);
      clearTimeout(a);
      clearTimeout(b);
      return { type: typeof a, increasing: b > a, integer: Number.isInteger(a) };
    },
    stringHandler() {
      try {
        setTimeout("1 + 1", 0);
      } catch (e) {
        return "caught: " + e.message;
      }
      return "no error";
    },
  }),
);

// ---------------------------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------------------------
const performanceScenarios = {
  nowFixedInQuery() {
    const a = performance.now();
    let x = 0;
    for (let i = 0; i < 100000; i++) x += i;
    const b = performance.now();
    return { type: typeof a, equal: a === b, nonNegative: a >= 0, spin: x > 0 };
  },
  importTimeNow() {
    return IMPORT_TIME_PERFORMANCE_NOW;
  },
  timeOrigin() {
    const origin = performance.timeOrigin;
    return {
      type: typeof origin,
      notAfterNow: origin <= Date.now(),
      sumIsDateNow: Math.abs(origin + performance.now() - Date.now()) < 1,
      json: JSON.stringify(performance) === JSON.stringify({ timeOrigin: origin }),
    };
  },
  marksAndMeasures() {
    performance.clearMarks();
    performance.clearMeasures();
    const a = performance.mark("a", { startTime: 10, detail: { k: 1 } });
    performance.mark("b", { startTime: 25 });
    const m = performance.measure("m", "a", "b");
    const m2 = performance.measure("m2", { start: 5, duration: 7 });
    return {
      mark: a.toJSON(),
      measure: m.toJSON(),
      measure2: [m2.startTime, m2.duration],
      marks: performance.getEntriesByType("mark").map((e) => e.name),
      byName: performance.getEntriesByName("m").length,
      entryTypes: performance.getEntries().map((e) => e.entryType),
    };
  },
  missingMark() {
    return catchSync(() => performance.measure("m", "nope"));
  },
  illegalConstructors() {
    return [
      catchSync(() => new Performance()),
      catchSync(() => new PerformanceEntry()),
      catchSync(() => new PerformanceMeasure()),
    ];
  },
  tags() {
    return {
      performance: tag(performance),
      mark: tag(performance.mark("t", { startTime: 1 })),
      isEventTarget: performance instanceof EventTarget,
    };
  },
  negativeMark() {
    return catchSync(() => performance.mark("neg", { startTime: -1 }));
  },
};

export const perf = query(scenarios(performanceScenarios));

export const perfMutation = mutation(
  scenarios({
    nowMonotonic() {
      const a = performance.now();
      let x = 0;
      for (let i = 0; i < 200000; i++) x += i;
      const b = performance.now();
      return { notDecreasing: b >= a, nonNegative: a >= 0, spin: x > 0 };
    },
  }),
);
