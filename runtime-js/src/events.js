// Prelude fragment: DOMException, Event, EventTarget (dispatch on one target, as Convex's Deno-derived
// runtime does it), globalThis as an EventTarget tagged Window, and
// AbortController/AbortSignal from abortcontroller-polyfill (abort_controller.js, the package Convex's
// runtime installs: its signals are not EventTargets, and its default reason is an Error named
// AbortError).

const kDomExceptionCodes = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
  SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
  TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};
// The legacy code constants, on DOMException.prototype only (as Convex defines them).
const kDomExceptionConstants = [
  "INDEX_SIZE_ERR", "DOMSTRING_SIZE_ERR", "HIERARCHY_REQUEST_ERR", "WRONG_DOCUMENT_ERR", "INVALID_CHARACTER_ERR",
  "NO_DATA_ALLOWED_ERR", "NO_MODIFICATION_ALLOWED_ERR", "NOT_FOUND_ERR", "NOT_SUPPORTED_ERR", "INUSE_ATTRIBUTE_ERR",
  "INVALID_STATE_ERR", "SYNTAX_ERR", "INVALID_MODIFICATION_ERR", "NAMESPACE_ERR", "INVALID_ACCESS_ERR",
  "VALIDATION_ERR", "TYPE_MISMATCH_ERR", "SECURITY_ERR", "NETWORK_ERR", "ABORT_ERR", "URL_MISMATCH_ERR",
  "QUOTA_EXCEEDED_ERR", "TIMEOUT_ERR", "INVALID_NODE_TYPE_ERR", "DATA_CLONE_ERR",
];

// EventTarget's prototype exists from the start, so that globalThis can inherit from it; the class
// and its methods are made on first use (webEvents()).
const eventTargetPrototype = Object.create(Object.prototype);
const windowPrototype = Object.create(eventTargetPrototype, {
  [Symbol.toStringTag]: { value: "Window", configurable: true },
});
Object.setPrototypeOf(globalThis, windowPrototype);
// Until the event classes are made, the methods globalThis inherits make them first (then the real
// methods replace these).
for (const name of ["addEventListener", "removeEventListener", "dispatchEvent"]) {
  define(eventTargetPrototype, name, function (...args) {
    webEvents();
    return eventTargetPrototype[name].apply(this, args);
  });
}

const webEvents = once(() => {
class DOMException extends Error {
  constructor(message = "", options = "Error") {
    super(String(message));
    const name = typeof options === "object" && options !== null ? String(options.name ?? "Error") : String(options);
    // An own data property (the spec has a prototype getter) so that error reports, which read only
    // own data, show "AbortError: ..." rather than "DOMException: ...".
    define(this, "name", name);
    if (typeof options === "object" && options !== null && "cause" in options) define(this, "cause", options.cause);
  }
  get code() {
    return kDomExceptionCodes[this.name] ?? 0;
  }
  get [Symbol.toStringTag]() { return "DOMException"; }
}
kDomExceptionConstants.forEach((name, i) => Object.defineProperty(DOMException.prototype, name, { value: i + 1 }));

// An event's dispatch state, kept by the runtime (not reachable from user code).
const state = new WeakMap();
const stateOf = (event) => state.get(event);
// isTrusted: an own, enumerable getter shared by every event (as the spec's [LegacyUnforgeable]).
const isTrusted = Object.getOwnPropertyDescriptor({ get isTrusted() { return false; } }, "isTrusted").get;

class Event {
  constructor(type, init = undefined) {
    requireArgumentCount(arguments.length, 1, "constructor", "Event");
    state.set(this, {
      type: String(type),
      bubbles: Boolean(init?.bubbles),
      cancelable: Boolean(init?.cancelable),
      composed: Boolean(init?.composed),
      target: null,
      currentTarget: null,
      phase: 0,
      canceled: false,
      stop: false,
      stopImmediate: false,
      passive: false,
      dispatching: false,
      timeStamp: Date.now(),
    });
    Object.defineProperty(this, "isTrusted", { get: isTrusted, enumerable: true });
  }
  get type() { return stateOf(this).type; }
  get bubbles() { return stateOf(this).bubbles; }
  get cancelable() { return stateOf(this).cancelable; }
  get composed() { return stateOf(this).composed; }
  get target() { return stateOf(this).target; }
  get srcElement() { return null; }
  get currentTarget() { return stateOf(this).currentTarget; }
  get eventPhase() { return stateOf(this).phase; }
  get timeStamp() { return stateOf(this).timeStamp; }
  get defaultPrevented() { return stateOf(this).canceled; }
  get returnValue() { return !stateOf(this).canceled; }
  set returnValue(value) {
    if (!value) this.preventDefault();
  }
  get cancelBubble() { return stateOf(this).stop; }
  set cancelBubble(value) {
    if (value) stateOf(this).stop = true;
  }
  // The targets the event passes through while dispatched: its one target (there is no tree here).
  composedPath() {
    const s = stateOf(this);
    return s.currentTarget === null ? [] : [s.currentTarget];
  }
  preventDefault() {
    const s = stateOf(this);
    if (s.cancelable && !s.passive) s.canceled = true;
  }
  stopPropagation() {
    stateOf(this).stop = true;
  }
  stopImmediatePropagation() {
    const s = stateOf(this);
    s.stop = true;
    s.stopImmediate = true;
  }
  get [Symbol.toStringTag]() { return "Event"; }
}
["NONE", "CAPTURING_PHASE", "AT_TARGET", "BUBBLING_PHASE"].forEach((name, value) =>
  Object.defineProperty(Event, name, { get: () => value, enumerable: true }));

// Listeners by target (any object: methods called without a target act on globalThis).
const listenersOf = new WeakMap();  // target -> Map(type -> [{callback, capture, once, passive, removed}])
const flagsOf = (options) =>
  typeof options === "object" && options !== null
    ? { capture: Boolean(options.capture), once: Boolean(options.once), passive: Boolean(options.passive),
        signal: options.signal }
    : { capture: Boolean(options), once: false, passive: false, signal: undefined };

function EventTarget() {
  if (new.target === undefined) throw new TypeError("Class constructor EventTarget cannot be invoked without 'new'");
}
EventTarget.prototype = eventTargetPrototype;
Object.defineProperty(eventTargetPrototype, "constructor", { value: EventTarget, writable: true, configurable: true });
const eventTargetMethods = {
  addEventListener(type, callback, options = undefined) {
    requireArgumentCount(arguments.length, 2, "addEventListener", "EventTarget");
    const self = this ?? globalThis;
    if (callback === null || callback === undefined) return;
    const flags = flagsOf(options);
    if (flags.signal?.aborted) return;
    let byType = listenersOf.get(self);
    if (byType === undefined) listenersOf.set(self, (byType = new Map()));
    const key = String(type);
    const list = byType.get(key) ?? [];
    if (list.some((l) => l.callback === callback && l.capture === flags.capture)) return;
    list.push({ callback, capture: flags.capture, once: flags.once, passive: flags.passive, removed: false });
    byType.set(key, list);
    flags.signal?.addEventListener("abort", () => self.removeEventListener(type, callback, options));
  },
  removeEventListener(type, callback, options = undefined) {
    requireArgumentCount(arguments.length, 2, "removeEventListener", "EventTarget");
    const self = this ?? globalThis;
    const list = listenersOf.get(self)?.get(String(type));
    if (list === undefined) return;
    // Every listener of the callback goes, whatever its capture flag (as in Convex's runtime).
    for (const l of list) if (l.callback === callback) l.removed = true;
    listenersOf.get(self).set(String(type), list.filter((l) => !l.removed));
  },
  dispatchEvent(event) {
    requireArgumentCount(arguments.length, 1, "dispatchEvent", "EventTarget");
    const self = this ?? globalThis;
    const s = stateOf(event);
    if (s === undefined) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
    if (s.dispatching) throw new DOMException("Invalid event state.", "InvalidStateError");
    s.dispatching = true;
    s.target = self;
    s.currentTarget = self;
    s.phase = Event.AT_TARGET;
    const listeners = [...(listenersOf.get(self)?.get(s.type) ?? [])];
    try {
      // At the target every listener runs in the order it was added, capturing or not (as in
      // Convex's runtime).
      {
        for (const listener of listeners) {
          if (s.stopImmediate || listener.removed) continue;
          if (listener.once) self.removeEventListener(s.type, listener.callback, { capture: listener.capture });
          s.passive = listener.passive;
          try {  // a listener's exception propagates, as in Convex's runtime
            const callback = listener.callback;
            if (typeof callback === "function") callback.call(self, event);
            else if (typeof callback?.handleEvent === "function") callback.handleEvent(event);
          } finally {
            s.passive = false;
          }
        }
      }
    } finally {
      s.dispatching = false;
      s.phase = Event.NONE;
      s.currentTarget = null;
      s.stop = false;
      s.stopImmediate = false;
    }
    return !s.canceled;
  },
};
for (const [name, method] of Object.entries(eventTargetMethods)) define(eventTargetPrototype, name, method);
Object.defineProperty(eventTargetPrototype, Symbol.toStringTag, { value: "EventTarget", configurable: true });

// AbortController and AbortSignal: Convex's polyfill, over these Event and DOMException classes.
const { AbortController, AbortSignal } = loadAbortController();
return { DOMException, Event, EventTarget, AbortSignal, AbortController };
});
for (const name of ["DOMException", "Event", "EventTarget", "AbortSignal", "AbortController"]) {
  defineLazy(name, () => webEvents()[name]);
}
const domException = (message, name) => new (webEvents().DOMException)(message, name);
