// Conformance area "web_apis": URL, URLSearchParams, Headers and which globals the default
// (V8) runtime defines. Every export is a query taking `{which}` that runs one scenario and
// returns a small, stable observation (see web_apis_util.js).
import { query } from "./_generated/server";
import { catchSync, scenarios, tag } from "./web_apis_util";

// ---------------------------------------------------------------------------------------------
// URL
// ---------------------------------------------------------------------------------------------
const urlScenarios = {
  parse() {
    const u = new URL("https://baz.qat:8000/qux/quux?foo=bar&baz=12#qat");
    return {
      hash: u.hash,
      host: u.host,
      hostname: u.hostname,
      href: u.href,
      origin: u.origin,
      pathname: u.pathname,
      port: u.port,
      protocol: u.protocol,
      search: u.search,
      username: u.username,
      password: u.password,
      foo: u.searchParams.getAll("foo"),
    };
  },
  invalidScheme() {
    return catchSync(() => new URL("1://foo"));
  },
  relativeWithoutBase() {
    return catchSync(() => new URL("/foo"));
  },
  invalidBase() {
    return catchSync(() => new URL("/foo", "not-a-url"));
  },
  invalidHosts() {
    const inputs = [
      "http://256.0.0.0",
      "http://4294967296",
      "http:// a",
      "http://%",
      "https:///",
      "https://baz.qat:65536",
      "https://baz.qat:9land",
      "file://foo:8000",
    ];
    return inputs.map((input) => catchSync(() => new URL(input)).message);
  },
  resolve() {
    const base = "http://foo/a/b?c#d";
    const rel = ["", "#e", "?e", "e", ".", "..", "/e", "//bar", "efgh:"];
    const out = rel.map((r) => new URL(r, base).href);
    out.push(new URL("http:b", "http://foo/a").href);
    out.push(new URL("d", new URL("http://foo/a?b#c")).href);
    return out;
  },
  hostnames() {
    return [
      "http://260",
      "http://4294967295",
      "http://0.0.65535",
      "http://[0:f:0:0:f:f:0:0]",
      "http://ma\u00f1ana/c?d#e",
      "http://%21",
      "abcd://%21",
      "abcd://EXAMPLE.COM",
    ].map((input) => new URL(input).hostname);
  },
  normalise() {
    return [
      new URL("http://EXAMPLE.COM").href,
      new URL(" http://example.com  ").href,
      new URL("https:\\\\baz.qat:8000\\qux\\quux?foo=bar&baz=12#qat").href,
      new URL("http:foo").href,
      new URL("http://foo//bar//").pathname,
      new URL("http://example.com").pathname,
    ];
  },
  defaultPorts() {
    const https = new URL("https://baz.qat:443");
    return {
      httpsPort: https.port,
      httpsHref: https.href,
      ftpPort: new URL("ftp://baz.qat:21").port,
      httpHost: new URL("http://x:80/").host,
    };
  },
  nonSpecialScheme() {
    const u = new URL("abcd://foo:bar@baz:8000/p?q#h");
    return {
      protocol: u.protocol,
      username: u.username,
      password: u.password,
      host: u.host,
      hostname: u.hostname,
      port: u.port,
      pathname: u.pathname,
      search: u.search,
      hash: u.hash,
      origin: u.origin,
      emptyPath: new URL("abcd://foo").pathname,
    };
  },
  opaquePath() {
    const u = new URL("about:blank");
    return { href: u.href, protocol: u.protocol, pathname: u.pathname, origin: u.origin };
  },
  credentials() {
    const u = new URL("http://foo:bar@baz");
    return {
      username: u.username,
      password: u.password,
      hostname: u.hostname,
      href: u.href,
      origin: u.origin,
    };
  },
  fileScheme() {
    return [
      new URL("file:///C:/..").href,
      new URL("file:foo").href,
      new URL("file://foo/C:").href,
      new URL("file:///foo").origin,
    ];
  },
  setters() {
    const u = new URL("https://baz.qat:8000/qux/quux?foo=bar&baz=12#qat");
    const hrefs = [];
    u.hash = "";
    hrefs.push(u.href);
    u.hostname = "foo.bar";
    hrefs.push(u.href);
    u.pathname = "/foo/bar%qat";
    hrefs.push(u.href);
    u.port = "";
    hrefs.push(u.href);
    u.protocol = "http";
    hrefs.push(u.href);
    u.search = "?foo=bar&foo=baz";
    hrefs.push(u.href);
    u.hash = "#frag";
    hrefs.push(u.href);
    return hrefs;
  },
  pathAndHashEncoding() {
    const u = new URL("http://foo.bar/baz%qat/qux%quux");
    const out = [u.pathname];
    u.pathname = "baz#qat qux";
    out.push(u.pathname);
    u.pathname = "\\a\\b\\c";
    out.push(u.pathname);
    const h = new URL("http://foo.bar");
    h.hash = "%foo bar/qat%qux#bar";
    out.push(h.hash);
    return out;
  },
  portSetter() {
    const u = new URL("https://deno.land:3000");
    const out = [];
    u.port = "65536";
    out.push(u.port);
    u.port = "443";
    out.push(u.port);
    u.port = "8080";
    out.push(u.port);
    u.port = "abc";
    out.push(u.port);
    const f = new URL("file:///foo");
    f.port = "1000";
    out.push(f.href);
    return out;
  },
  hrefSetter() {
    const u = new URL("http://example.com/");
    u.href = "https://foo:bar@example.com:8080/baz/qat#qux";
    return {
      protocol: u.protocol,
      username: u.username,
      password: u.password,
      host: u.host,
      pathname: u.pathname,
      hash: u.hash,
    };
  },
  hrefSetterInvalid() {
    const u = new URL("http://example.com/");
    return catchSync(() => {
      u.href = "foo";
    });
  },
  hostSetter() {
    const u = new URL("https://baz.qat:8000/qux/quux?foo=bar&baz=12#qat");
    try {
      u.host = "qat.baz:8080";
    } catch (e) {
      return "caught: " + e.message;
    }
    return u.href;
  },
  usernameSetter() {
    const u = new URL("https://baz.qat/");
    try {
      u.username = "me";
    } catch (e) {
      return "caught: " + e.message;
    }
    return u.href;
  },
  searchParamsLink() {
    const u = new URL("http://foo.bar/p?foo=bar&foo=baz");
    const out = [];
    u.searchParams.set("bar", "qat");
    out.push(u.href);
    u.searchParams.delete("foo");
    out.push(u.href);
    u.searchParams.append("foo", "bar");
    out.push(u.href);
    u.searchParams.delete("bar");
    u.searchParams.delete("foo");
    out.push(u.href);
    out.push(u.search);
    u.search = "?a=1";
    out.push(u.searchParams.get("a"));
    return out;
  },
  emptyQuery() {
    const u = new URL("http://example.com/?");
    const before = u.href;
    u.searchParams.sort();
    return [before, u.href, u.search];
  },
  searchParamsIdentity() {
    const u = new URL("http://foo.com/");
    const sp = u.searchParams;
    u.hostname = "baz.qat";
    u.href = "http://bar.com/?baz=42";
    return { same: sp === u.searchParams, baz: sp.get("baz") };
  },
  stringify() {
    const u = new URL("http://example.com/a?b=1");
    return {
      string: String(u),
      json: u.toJSON(),
      stringified: JSON.stringify({ u }),
      tag: tag(u),
    };
  },
  canParse() {
    return [
      URL.canParse("http://x"),
      URL.canParse("nope"),
      URL.canParse("/a", "http://x"),
      URL.parse("nope") === null,
      URL.parse("/a", "http://x/").href,
    ];
  },
  nonStringInput() {
    const input = { toString: () => "http://a/b" };
    const base = { toString: () => "http://a/b/" };
    return [new URL(input).href, new URL("c", base).href];
  },
  percentEncoding() {
    return {
      path: new URL("http://example.com/a ~!@$&*()=:/,;+").pathname,
      search: new URL("http://example.com?a ~!@$&*()=:/,;?+").search,
      hash: new URL("http://example.com#a ~!@#$&*()=:/,;?+").hash,
      specialQuote: new URL("http://example.com/?x'y").search,
      nonSpecialQuote: new URL("abcd://example.com?x'y").search,
    };
  },
};

export const url = query(scenarios(urlScenarios));

// ---------------------------------------------------------------------------------------------
// URLSearchParams
// ---------------------------------------------------------------------------------------------
const searchParamsScenarios = {
  encode() {
    return [
      new URLSearchParams({ str: "this string has spaces in it" }).toString(),
      new URLSearchParams([["str", "hello, world!"]]).toString(),
      new URLSearchParams([["str", "'hello world'"]]).toString(),
      new URLSearchParams([["str", "(hello world)"]]).toString(),
      new URLSearchParams([["str", "hello~world"]]).toString(),
      new URLSearchParams({ linefeed: "\n", tab: "\t" }).toString(),
      new URLSearchParams({ "\u00e1": "\u00e9" }).toString(),
      new URLSearchParams({ "*-._": "x" }).toString(),
    ];
  },
  initString() {
    return [
      new URLSearchParams("c=4&a=2&b=3&%C3%A1=1").toString(),
      new URLSearchParams("?a=1").toString(),
      new URLSearchParams("q=a+b").get("q"),
      new URLSearchParams("q=a+b").toString(),
      new URLSearchParams("x=%20").toString(),
    ];
  },
  malformedPercent() {
    return [
      new URLSearchParams("id=0&value=%").get("value"),
      new URLSearchParams("b=%2sf%2a").get("b"),
      new URLSearchParams("b=%2%2af%2a").get("b"),
      new URLSearchParams("b=%%2a").get("b"),
    ];
  },
  missingParts() {
    return {
      emptyName: new URLSearchParams("=4").get(""),
      emptyNameString: new URLSearchParams("=4").toString(),
      noEquals: new URLSearchParams("4").get("4"),
      noEqualsString: new URLSearchParams("4").toString(),
      emptyPairs: new URLSearchParams("c=4&&a=54&").toString(),
    };
  },
  getters() {
    const p = new URLSearchParams("a=54&b=true&a=true");
    return {
      get: p.get("a"),
      getAll: p.getAll("a"),
      getAllMissing: p.getAll("c"),
      getMissing: p.get("c"),
      has: p.has("a"),
      hasMissing: p.has("c"),
    };
  },
  setAppendsAtEnd() {
    const p = new URLSearchParams("a=54&b=true&a=true");
    p.set("a", "false");
    return p.toString();
  },
  sort() {
    const p = new URLSearchParams("c=4&a=2&b=3&a=1");
    p.sort();
    return p.toString();
  },
  sortLocaleCompare() {
    const p = new URLSearchParams("b=1&B=2&a=3&A=4");
    p.sort();
    return [...p.keys()];
  },
  iteration() {
    const p = new URLSearchParams("a=1&b=2&a=3");
    const forEach = [];
    p.forEach((value, key, parent) => forEach.push([key, value, parent === p]));
    return {
      spread: [...p],
      entries: [...p.entries()],
      keys: [...p.keys()],
      values: [...p.values()],
      forEach,
    };
  },
  badPair() {
    return catchSync(() => new URLSearchParams([["1"]]));
  },
  nonStringValues() {
    return [
      new URLSearchParams({ a: 123, b: true }).toString(),
      new URLSearchParams(new URLSearchParams("x=1")).toString(),
    ];
  },
  valueArgumentIgnored() {
    const p = new URLSearchParams("a=1&a=2&b=3");
    p.delete("a", "1");
    return { afterDelete: p.toString(), hasOtherValue: p.has("b", "999") };
  },
  toJson() {
    const p = new URLSearchParams("a=1");
    return { json: JSON.stringify(p), tag: tag(p) };
  },
  size() {
    return typeof new URLSearchParams("a=1&b=2").size;
  },
};

export const searchParams = query(scenarios(searchParamsScenarios));

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------
const headersScenarios = {
  caseInsensitive() {
    const h = new Headers({ "Content-Type": "text/html" });
    return { get: h.get("content-TYPE"), has: h.has("CONTENT-type"), keys: [...h.keys()] };
  },
  appendCombines() {
    const h = new Headers();
    h.append("a", "1");
    h.append("A", "2");
    return h.get("a");
  },
  iterationOrder() {
    const h = new Headers([
      ["b", "1"],
      ["a", "2"],
      ["B", "3"],
    ]);
    return [...h];
  },
  setMovesToEnd() {
    const h = new Headers([
      ["a", "1"],
      ["b", "2"],
      ["a", "3"],
    ]);
    h.set("A", "x");
    return [...h];
  },
  deleteAll() {
    const h = new Headers([
      ["a", "1"],
      ["b", "2"],
      ["a", "3"],
    ]);
    h.delete("A");
    return [...h];
  },
  invalidNames() {
    const h = new Headers();
    return [
      catchSync(() => h.append("H\u00e9-y", "ok")),
      catchSync(() => h.get("He y")),
      catchSync(() => h.has("")),
      catchSync(() => h.delete("a:b")),
      catchSync(() => h.set("(x)", "1")),
    ];
  },
  constructorInvalidName() {
    return catchSync(() => new Headers({ "He y": "ok" }));
  },
  badPair() {
    return catchSync(() => new Headers([["1"]]));
  },
  valuesNotNormalised() {
    const h = new Headers({ x: " a b ", y: undefined });
    h.append("z", "line\u0000null");
    return { x: h.get("x"), y: h.get("y"), zLength: h.get("z").length };
  },
  getSetCookie() {
    const h = new Headers();
    const first = h.getSetCookie();
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    return { first, all: h.getSetCookie(), get: h.get("set-cookie") };
  },
  nullInit() {
    const h = new Headers(null);
    return [...h];
  },
  toStringTag() {
    const h = new Headers();
    return { tag: tag(h), string: String(h) };
  },
  copyIsIndependent() {
    const a = new Headers({ x: "1" });
    const b = new Headers(a);
    b.set("x", "2");
    return { a: a.get("x"), b: b.get("x") };
  },
  forEach() {
    const h = new Headers([
      ["a", "1"],
      ["B", "2"],
    ]);
    const out = [];
    h.forEach((value, key, parent) => out.push([value, key, parent === h]));
    return out;
  },
};

export const headers = query(scenarios(headersScenarios));

// ---------------------------------------------------------------------------------------------
// Globals
// ---------------------------------------------------------------------------------------------
const ABSENT = [
  "queueMicrotask",
  "navigator",
  "window",
  "document",
  "global",
  "Buffer",
  "setImmediate",
  "clearImmediate",
  "XMLHttpRequest",
  "WebSocket",
  "Worker",
  "CustomEvent",
  "MessageChannel",
  "BroadcastChannel",
  "localStorage",
  "sessionStorage",
  "indexedDB",
  "caches",
  "CompressionStream",
  "DecompressionStream",
  "requestAnimationFrame",
  "requestIdleCallback",
  "reportError",
  "ErrorEvent",
  "FileReader",
  "location",
  "Deno",
];

const PRESENT = [
  "URL",
  "URLSearchParams",
  "Headers",
  "Request",
  "Response",
  "Blob",
  "File",
  "FormData",
  "TextEncoder",
  "TextDecoder",
  "TextEncoderStream",
  "TextDecoderStream",
  "atob",
  "btoa",
  "structuredClone",
  "Event",
  "EventTarget",
  "AbortController",
  "AbortSignal",
  "Crypto",
  "SubtleCrypto",
  "CryptoKey",
  "DOMException",
  "fetch",
  "setTimeout",
  "setInterval",
  "clearTimeout",
  "clearInterval",
  "ReadableStream",
  "WritableStream",
  "TransformStream",
  "ReadableStreamDefaultReader",
  "ReadableStreamBYOBReader",
  "WritableStreamDefaultWriter",
  "ReadableStreamDefaultController",
  "ReadableByteStreamController",
  "ReadableStreamBYOBRequest",
  "WritableStreamDefaultController",
  "TransformStreamDefaultController",
  "ByteLengthQueuingStrategy",
  "CountQueuingStrategy",
  "Performance",
  "PerformanceEntry",
  "PerformanceMark",
  "PerformanceMeasure",
  "AsyncLocalStorage",
  "AsyncResource",
  "WeakRef",
  "FinalizationRegistry",
  "crypto",
  "performance",
  "WebAssembly",
  "process",
  "self",
];

function typeofGlobal(name) {
  return typeof globalThis[name];
}

const globalsScenarios = {
  absent() {
    return Object.fromEntries(ABSENT.map((n) => [n, typeofGlobal(n)]));
  },
  present() {
    return Object.fromEntries(PRESENT.map((n) => [n, typeofGlobal(n)]));
  },
  globalObject() {
    return {
      tag: tag(globalThis),
      isEventTarget: globalThis instanceof EventTarget,
      selfIsGlobal: self === globalThis,
      selfObjectIsObject: self.Object === Object,
    };
  },
  process() {
    return {
      keys: Object.keys(process),
      envType: typeof process.env,
      version: typeof process.version,
      missingVar: typeof process.env.WEB_APIS_SURELY_UNSET_VARIABLE,
    };
  },
  webAssemblySync() {
    const bytes = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 97,
      100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11,
    ]);
    const module = new WebAssembly.Module(bytes);
    const instance = new WebAssembly.Instance(module, {});
    return {
      valid: WebAssembly.validate(bytes),
      invalid: WebAssembly.validate(new Uint8Array([1, 2, 3])),
      exports: WebAssembly.Module.exports(module).map((e) => `${e.kind}:${e.name}`),
      sum: instance.exports.add(2, 3),
    };
  },
  uint8ArrayBase64() {
    return {
      toBase64: new Uint8Array([104, 105, 255]).toBase64(),
      fromBase64: Array.from(Uint8Array.fromBase64("aGn/")),
      toHex: new Uint8Array([1, 171]).toHex(),
    };
  },
};

export const globals = query(scenarios(globalsScenarios));
