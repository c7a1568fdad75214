// Prelude fragment: performance, with the User Timing API as Convex's runtime offers it (udf-runtime
// 27_performance.ts): now() counts milliseconds since the invocation began (frozen in queries and
// mutations, where Date is frozen too); mark() and measure() keep entries for the request;
// Performance is an EventTarget with no tag of its own.

let invocationStart = Date.now();
let performanceEntries = [];  // this request's marks and measures, oldest first
const kPerformanceSecret = Symbol("performance");
const performanceNow = () => Date.now() - invocationStart;

const webPerformance = once(() => {
  const { EventTarget } = webEvents();

  class PerformanceEntry {
    #name;
    #entryType;
    #startTime;
    #duration;
    constructor(name = undefined, entryType = undefined, startTime = undefined, duration = undefined, secret = undefined) {
      if (secret !== kPerformanceSecret) throw new TypeError("Illegal constructor");
      this.#name = String(name);
      this.#entryType = entryType;
      this.#startTime = startTime;
      this.#duration = duration;
    }
    get name() { return this.#name; }
    get entryType() { return this.#entryType; }
    get startTime() { return this.#startTime; }
    get duration() { return this.#duration; }
    toJSON() {
      return { name: this.name, entryType: this.entryType, startTime: this.startTime, duration: this.duration };
    }
    get [Symbol.toStringTag]() { return "PerformanceEntry"; }
  }

  class PerformanceMark extends PerformanceEntry {
    #detail;
    constructor(name, options = undefined) {
      requireArgumentCount(arguments.length, 1, "constructor", "PerformanceMark");
      const startTime = options?.startTime ?? performanceNow();
      if (startTime < 0) {
        throw new TypeError(`Cannot construct PerformanceMark: startTime cannot be negative, received ${startTime}`);
      }
      super(name, "mark", startTime, 0, kPerformanceSecret);
      this.#detail = structuredClone(options?.detail ?? null);
    }
    get detail() { return this.#detail; }
    toJSON() { return { ...super.toJSON(), detail: this.detail }; }
  }

  class PerformanceMeasure extends PerformanceEntry {
    #detail;
    constructor(name = undefined, startTime = undefined, duration = undefined, detail = undefined, secret = undefined) {
      super(name, "measure", startTime, duration, secret);
      this.#detail = detail;
    }
    get detail() { return this.#detail; }
    toJSON() { return { ...super.toJSON(), detail: this.detail }; }
  }

  // A mark's name stands for its most recent start time; a number for itself.
  const timestampOf = (mark) => {
    if (typeof mark === "string") {
      const entry = performanceEntries.findLast((e) => e.name === mark && e.entryType === "mark");
      if (entry === undefined) throw domException(`Cannot find mark: "${mark}"`, "SyntaxError");
      return entry.startTime;
    }
    if (mark < 0) throw new TypeError(`Mark cannot be negative: received ${mark}`);
    return mark;
  };
  const entriesOf = (name, type) =>
    performanceEntries.filter((e) => (name === undefined || e.name === name) && (type === undefined || e.entryType === type));

  class Performance extends EventTarget {
    constructor(secret = undefined) {
      if (secret !== kPerformanceSecret) throw new TypeError("Illegal constructor");
      super();
    }
    now() { return performanceNow(); }
    get timeOrigin() { return invocationStart; }
    toJSON() { return { timeOrigin: this.timeOrigin }; }
    mark(name, options = undefined) {
      requireArgumentCount(arguments.length, 1, "mark", "Performance");
      const entry = new PerformanceMark(name, options);
      performanceEntries.push(entry);
      return entry;
    }
    measure(name, startOrOptions = undefined, endMark = undefined) {
      requireArgumentCount(arguments.length, 1, "measure", "Performance");
      const options = typeof startOrOptions === "object" && startOrOptions !== null ? startOrOptions : undefined;
      if (options !== undefined && Object.keys(options).length > 0) {
        if (endMark) throw new TypeError('Options cannot be passed with "endMark"');
        if ("start" in options && "duration" in options && "end" in options) {
          throw new TypeError('Cannot specify "start", "end", and "duration" together in options');
        }
      }
      let end;
      if (endMark) end = timestampOf(endMark);
      else if (options?.end !== undefined) end = timestampOf(options.end);
      else if (options?.start !== undefined && options?.duration !== undefined) {
        end = timestampOf(options.start) + timestampOf(options.duration);
      } else end = performanceNow();
      let start = 0;
      if (options?.start !== undefined) start = timestampOf(options.start);
      else if (options?.end !== undefined && options?.duration !== undefined) {
        start = timestampOf(options.end) - timestampOf(options.duration);
      } else if (typeof startOrOptions === "string") start = timestampOf(startOrOptions);
      const entry = new PerformanceMeasure(name, start, end - start, options?.detail ?? null, kPerformanceSecret);
      performanceEntries.push(entry);
      return entry;
    }
    getEntries() { return entriesOf(); }
    getEntriesByName(name, type = undefined) {
      requireArgumentCount(arguments.length, 1, "getEntriesByName", "Performance");
      return entriesOf(name, type);
    }
    getEntriesByType(type) {
      requireArgumentCount(arguments.length, 1, "getEntriesByType", "Performance");
      return entriesOf(undefined, type);
    }
    clearMarks(name = undefined) {
      performanceEntries = performanceEntries.filter((e) => e.entryType !== "mark" || (name !== undefined && e.name !== name));
    }
    clearMeasures(name = undefined) {
      performanceEntries = performanceEntries.filter((e) => e.entryType !== "measure" || (name !== undefined && e.name !== name));
    }
    clearResourceTimings() {}
    setResourceTimingBufferSize() {
      requireArgumentCount(arguments.length, 1, "setResourceTimingBufferSize", "Performance");
    }
  }
  return { Performance, PerformanceEntry, PerformanceMark, PerformanceMeasure,
    performance: new Performance(kPerformanceSecret) };
});
for (const name of ["Performance", "PerformanceEntry", "PerformanceMark", "PerformanceMeasure", "performance"]) {
  defineLazy(name, () => webPerformance()[name]);
}
