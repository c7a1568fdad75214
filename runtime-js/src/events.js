// Prelude fragment: DOMException, Event, EventTarget, AbortController and AbortSignal.

const kDomExceptionCodes = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
  SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
  TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};

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

let beginDispatch;  // (event, target) -> isStopped(); set by Event's static block
class Event {
  #type;
  #cancelable;
  #bubbles;
  #defaultPrevented = false;
  #stopped = false;
  #target = null;
  #timeStamp = Date.now();
  constructor(type, init = {}) {
    if (arguments.length === 0) throw new TypeError("Event requires a type");
    this.#type = String(type);
    this.#cancelable = Boolean(init?.cancelable);
    this.#bubbles = Boolean(init?.bubbles);
  }
  get type() { return this.#type; }
  get cancelable() { return this.#cancelable; }
  get bubbles() { return this.#bubbles; }
  get defaultPrevented() { return this.#defaultPrevented; }
  get target() { return this.#target; }
  get currentTarget() { return this.#target; }
  get timeStamp() { return this.#timeStamp; }
  get isTrusted() { return false; }
  get composed() { return false; }
  // The targets the event passes through: just its target (there is no tree here), while dispatching.
  composedPath() {
    return this.#target === null ? [] : [this.#target];
  }
  preventDefault() {
    if (this.#cancelable) this.#defaultPrevented = true;
  }
  stopPropagation() {}
  stopImmediatePropagation() {
    this.#stopped = true;
  }
  static {
    beginDispatch = (event, target) => {
      event.#target = target;
      return () => event.#stopped;
    };
  }
}

class EventTarget {
  #listeners = new Map();  // type -> [{callback, once}]
  addEventListener(type, callback, options) {
    if (callback === null || callback === undefined) return;
    const once = typeof options === "object" && options !== null && Boolean(options.once);
    const signal = typeof options === "object" && options !== null ? options.signal : undefined;
    if (signal?.aborted) return;
    const list = this.#listeners.get(String(type)) ?? [];
    if (list.some((l) => l.callback === callback)) return;
    list.push({ callback, once });
    this.#listeners.set(String(type), list);
    signal?.addEventListener("abort", () => this.removeEventListener(type, callback));
  }
  removeEventListener(type, callback) {
    const list = this.#listeners.get(String(type));
    if (list === undefined) return;
    const index = list.findIndex((l) => l.callback === callback);
    if (index >= 0) list.splice(index, 1);
  }
  dispatchEvent(event) {
    if (!(event instanceof Event)) throw new TypeError("dispatchEvent expects an Event");
    const stopped = beginDispatch(event, this);
    const handler = this[`on${event.type}`];
    const list = [...(this.#listeners.get(event.type) ?? [])];
    if (typeof handler === "function") list.unshift({ callback: handler, once: false });
    for (const listener of list) {
      if (listener.once) this.removeEventListener(event.type, listener.callback);
      const callback = listener.callback;
      if (typeof callback === "function") callback.call(this, event);
      else if (typeof callback?.handleEvent === "function") callback.handleEvent(event);
      if (stopped()) break;
    }
    return !event.defaultPrevented;
  }
}

const kAbortSecret = Symbol("abort");
let abortSignal;  // (signal, reason): aborts once; set by AbortSignal's static block
class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  onabort = null;
  constructor(secret) {
    super();
    if (secret !== kAbortSecret) throw new TypeError("Illegal constructor");
  }
  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }
  get [Symbol.toStringTag]() { return "AbortSignal"; }
  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }
  static abort(reason) {
    const signal = new AbortSignal(kAbortSecret);
    abortSignal(signal, reason);
    return signal;
  }
  static timeout() {
    throw new DOMException("AbortSignal.timeout() is not supported in Convex functions", "NotSupportedError");
  }
  static any(signals) {
    const signal = new AbortSignal(kAbortSecret);
    for (const s of signals) {
      if (s.aborted) {
        abortSignal(signal, s.reason);
        return signal;
      }
    }
    for (const s of signals) s.addEventListener("abort", () => abortSignal(signal, s.reason));
    return signal;
  }
  static {
    abortSignal = (signal, reason) => {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
      signal.dispatchEvent(new Event("abort"));
    };
  }
}

class AbortController {
  #signal = new AbortSignal(kAbortSecret);
  get signal() { return this.#signal; }
  get [Symbol.toStringTag]() { return "AbortController"; }
  abort(reason) {
    abortSignal(this.#signal, reason);
  }
}
return { DOMException, Event, EventTarget, AbortSignal, AbortController, abortSignal };
});
for (const name of ["DOMException", "Event", "EventTarget", "AbortSignal", "AbortController"]) {
  defineLazy(name, () => webEvents()[name]);
}
const domException = (message, name) => new (webEvents().DOMException)(message, name);
