// Prelude fragment: Headers, Request and Response. Bodies are held as bytes (no streams yet), so they
// can be read synchronously by the runtime's own jsSyscalls.

const kToken = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// A body init as {bytes, type}: the bytes and the content type it implies (or null).
function extractBody(init) {
  if (init === null || init === undefined) return { bytes: null, type: null };
  if (typeof init === "string") return { bytes: utf8Encode(init), type: "text/plain;charset=UTF-8" };
  if (init instanceof webUrl().URLSearchParams) {
    return { bytes: utf8Encode(init.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (isBlob(init)) return { bytes: blobBytes(init).slice(), type: init.type === "" ? null : init.type };
  if (init instanceof webFormData().FormData) return formDataBody(init);
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) return { bytes: bytesOf(init).slice(), type: null };
  if (init instanceof webStreams().ReadableStream) {
    if (init.locked) throw new TypeError("Failed to construct: the body's ReadableStream is locked");
    return { bytes: null, stream: init, type: null };
  }
  return { bytes: utf8Encode(String(init)), type: "text/plain;charset=UTF-8" };
}

const webFetch = once(() => {
class Headers {
  #list = [];  // [lowercased name, value], in insertion order
  constructor(init) {
    if (init === undefined || init === null) return;
    if (init instanceof Headers) {
      for (const [k, v] of init.#list) this.#list.push([k, v]);
    } else if (typeof init === "object" && typeof init[Symbol.iterator] === "function") {
      for (const pair of init) {
        const entry = [...pair];
        if (entry.length !== 2) throw new TypeError("Failed to construct 'Headers': Invalid value");
        this.append(entry[0], entry[1]);
      }
    } else if (typeof init === "object") {
      for (const key of Object.keys(init)) this.append(key, init[key]);
    } else {
      throw new TypeError("Headers init must be an object or a sequence of pairs");
    }
  }
  // As Convex's polyfill (udf-runtime 20_headers.ts) has them: names validated and lower-cased by
  // every method, values kept as given (String(value)), pairs in insertion order, never combined
  // when iterated; set removes every pair of the name and appends one.
  #name(name, method) {
    const n = String(name);
    if (!kToken.test(n)) throw new TypeError(`Failed to execute '${method}' on 'Headers: Invalid name`);
    return n.toLowerCase();
  }
  append(name, value) {
    const n = this.#name(name, "append");
    this.#list.push([n, String(value)]);
  }
  delete(name) {
    const n = this.#name(name, "delete");
    this.#list = this.#list.filter(([k]) => k !== n);
  }
  get(name) {
    const n = this.#name(name, "get");
    const values = this.#list.filter(([k]) => k === n).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }
  getSetCookie() {
    return this.#list.filter(([k]) => k === "set-cookie").map(([, v]) => v);
  }
  has(name) {
    const n = this.#name(name, "has");
    return this.#list.some(([k]) => k === n);
  }
  set(name, value) {
    const n = this.#name(name, "set");
    this.delete(n);
    this.append(n, value);
  }
  entries() { return this.#list.map(([k, v]) => [k, v])[Symbol.iterator](); }
  keys() { return this.#list.map(([k]) => k)[Symbol.iterator](); }
  values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#list) callback.call(thisArg, v, k, this);
  }
  [Symbol.iterator]() { return this.entries(); }
  get [Symbol.toStringTag]() { return "Headers"; }
}

let bodyBytesOf;  // (request or response) -> Uint8Array or null, without consuming it
let takeBody;  // (request or response, method) -> Uint8Array or null, consuming it
let setBodyBytes;  // (request or response, Uint8Array or null)
let bodyStreamOf;  // (request or response) -> the ReadableStream it was given as its body, or null
let takeBodyStream;  // (request or response, method) -> that stream, marking the body used
let setBodyStream;  // (request or response, ReadableStream)
let fetchedResponse;  // (head from isobar/fetchHead, ReadableStream or null) -> the Response fetch() gives

// The whole of a body given as a stream, whose chunks must be Uint8Arrays (as the Fetch standard's).
async function readAllBytes(stream, method, on) {
  const reader = stream.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`Failed to execute '${method}' on '${on}': the body stream gave a chunk that is not a Uint8Array`);
    }
    parts.push(value);
    total += value.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}
// The body mixin shared by Request and Response.
class Body {
  #bytes = null;
  #used = false;
  get bodyUsed() { return this.#used; }
  #stream = null;
  #source = null;  // a stream given as the body
  // The bytes as a stream (the same stream on every access; null without a body).
  get body() {
    if (this.#source !== null) return this.#source;
    if (this.#bytes === null) return null;
    if (this.#stream === null) this.#stream = byteStream(this.#bytes.slice());
    return this.#stream;
  }
  #consume(method) {
    if (this.#used) {
      // Convex's words: "Failed to execute 'text' on 'Request': body stream already read".
      return Promise.reject(new TypeError(`Failed to execute '${method}' on '${this[Symbol.toStringTag]}': body stream already read`));
    }
    this.#used = true;
    if (this.#source !== null) {
      if (this.#source.locked) {
        return Promise.reject(new TypeError(`Failed to execute '${method}' on '${this[Symbol.toStringTag]}': body stream is locked`));
      }
      return readAllBytes(this.#source, method, this[Symbol.toStringTag]);
    }
    return Promise.resolve(this.#bytes ?? new Uint8Array(0));
  }
  async text() { return utf8Decode(await this.#consume("text"), false); }
  async json() { return JSON.parse(utf8Decode(await this.#consume("json"), false)); }
  async arrayBuffer() { return (await this.#consume("arrayBuffer")).slice().buffer; }
  async bytes() { return (await this.#consume("bytes")).slice(); }
  async blob() {
    const bytes = await this.#consume("blob");
    const blob = new (webBlob().Blob)([bytes], { type: this.headers.get("content-type") ?? "" });
    // A Response's blob streams from its body on Convex: it can be read once.
    return this instanceof Response && bytes.length > 0 ? webBlob().markReadOnce(blob) : blob;
  }
  async formData() {
    const bytes = await this.#consume("formData");
    return parseFormData(bytes, this.headers.get("content-type"));
  }
  static {
    bodyBytesOf = (body) => {
      if (body.#used) throw new TypeError("Body has already been consumed");
      return body.#bytes;
    };
    // A body handed to another object: used from now on, if there is one (Convex's words when it was).
    takeBody = (body, method) => {
      if (body.#used) {
        throw new TypeError(`Failed to execute '${method}' on '${body[Symbol.toStringTag]}': body stream already read`);
      }
      if (body.#bytes !== null) body.#used = true;
      return body.#bytes;
    };
    setBodyBytes = (body, bytes) => {
      body.#bytes = bytes;
    };
    bodyStreamOf = (body) => body.#source;
    takeBodyStream = (body, method) => {
      if (body.#used || body.#source?.locked) {
        throw new TypeError(`Failed to execute '${method}' on '${body[Symbol.toStringTag]}': body stream already read`);
      }
      body.#used = true;
      return body.#source;
    };
    setBodyStream = (body, stream) => {
      body.#source = stream;
    };
  }
}

const kMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
// The reason phrases of RFC 9110 (and a few registered since), by status.
const kStatusText = {
  100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
  200: "OK", 201: "Created", 202: "Accepted", 203: "Non Authoritative Information", 204: "No Content",
  205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
  300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
  305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
  409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large",
  414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed",
  418: "I'm a teapot", 421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
  424: "Failed Dependency", 426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
  431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
  504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
  507: "Insufficient Storage", 508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
};

class Request extends Body {
  #url;
  #method;
  #headers;
  #signal;
  constructor(input, init = {}) {
    super();
    const source = input instanceof Request ? input : null;
    if (input === undefined) throw new TypeError("Request URL is undefined");
    // Convex's Request takes http and https URLs only.
    const url = new (webUrl().URL)(source !== null ? source.url : input instanceof webUrl().URL ? input.href : String(input));
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Unsupported URL scheme -- http and https are supported (scheme was ${url.protocol.slice(0, -1)})`);
    }
    this.#url = url.href;
    let method = init.method !== undefined ? String(init.method) : source !== null ? source.method : "GET";
    if (!kToken.test(method)) throw new TypeError(`Invalid method: ${method.slice(0, 50)}`);
    if (kMethods.includes(method.toUpperCase())) method = method.toUpperCase();
    if (["CONNECT", "TRACE", "TRACK"].includes(method.toUpperCase())) throw new TypeError(`Forbidden method: ${method}`);
    this.#method = method;
    this.#headers = new Headers(init.headers !== undefined ? init.headers : source?.headers);
    this.#signal = init.signal ?? source?.signal ?? new (webEvents().AbortController)().signal;
    const inherits = source !== null && (init.body === undefined || init.body === null);
    let stream = inherits && bodyStreamOf(source) !== null ? takeBodyStream(source, "new Request()") : null;
    let bytes = inherits && stream === null ? takeBody(source, "new Request()") : null;
    if (init.body !== undefined && init.body !== null) {
      if (method === "GET" || method === "HEAD") {
        throw new TypeError("Failed to construct 'Request': Request with GET/HEAD method cannot have body.");
      }
      const body = extractBody(init.body);
      bytes = body.bytes;
      stream = body.stream ?? null;
      if (body.type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", body.type);
    }
    setBodyBytes(this, bytes);
    if (stream !== null) setBodyStream(this, stream);
  }
  get url() { return this.#url; }
  get method() { return this.#method; }
  get headers() { return this.#headers; }
  get signal() { return this.#signal; }
  clone() {
    return new Request(this.#url, { method: this.#method, headers: this.#headers, signal: this.#signal, body: cloneBody(this) });
  }
  get [Symbol.toStringTag]() { return "Request"; }
  static {
    for (const name of ["destination", "referrer", "referrerPolicy", "mode", "credentials", "cache", "redirect",
      "integrity", "keepalive", "isReloadNavigation", "isHistoryNavigation", "duplex"]) {
      Object.defineProperty(Request.prototype, name, {
        get() {
          return notImplemented(`get ${name}`, "Request");
        },
        configurable: true,
      });
    }
  }
}

class Response extends Body {
  #status;
  #statusText;
  #headers;
  #type = "default";
  #url = "";
  #redirected = false;
  constructor(body = null, init = {}) {
    super();
    const status = init.status === undefined ? 200 : typeof init.status === "string" ? +init.status : init.status;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError("Failed to construct 'Response': The status provided is outside the range [200, 599].");
    }
    this.#status = status;
    this.#statusText = init.statusText === undefined ? "" : String(init.statusText);
    this.#headers = new Headers(init.headers);
    const extracted = extractBody(body);
    if (extracted.bytes !== null && [101, 204, 205, 304].includes(status)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    if (extracted.stream !== undefined && [101, 204, 205, 304].includes(status)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    if (extracted.type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", extracted.type);
    setBodyBytes(this, extracted.bytes);
    if (extracted.stream !== undefined) setBodyStream(this, extracted.stream);
  }
  static json(data, init = {}) {
    let text;
    try {
      text = JSON.stringify(data);
    } catch {
      text = undefined;
    }
    if (text === undefined) throw new TypeError("Failed to execute 'json' on 'Response': The data is not JSON serializable");
    const headers = new Headers(init.headers);
    headers.set("content-type", "application/json");  // as Convex: always
    return new Response(text, { ...init, headers });
  }
  // As Convex's: an error response is a plain 500, and a redirect takes any status and the location
  // as given.
  static error() {
    return new Response(null, { status: 500 });
  }
  static redirect(url, status = undefined) {
    const location = typeof url === "string" ? url : url.href;
    return new Response(null, { status: status ?? 302, headers: { location } });
  }
  get status() { return this.#status; }
  get statusText() { return this.#statusText; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get headers() { return this.#headers; }
  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return this.#redirected; }
  clone() {
    const copy = new Response(null, { headers: this.#headers });
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#type = this.#type;
    copy.#url = this.#url;
    copy.#redirected = this.#redirected;
    const body = cloneBody(this);
    if (body instanceof webStreams().ReadableStream) setBodyStream(copy, body);
    else setBodyBytes(copy, body);
    return copy;
  }
  get [Symbol.toStringTag]() { return "Response"; }
  static {
    // As Convex's fetch gives it: type "basic", the status and headers as received (a header whose
    // name is not a token is dropped), and a statusText made from the status, not the peer's words.
    fetchedResponse = (head, stream) => {
      const response = new Response(null);
      response.#status = head.status;
      response.#statusText = kStatusText[head.status] ?? "";
      for (const [name, value] of head.headerPairs) {
        if (kToken.test(name)) response.#headers.append(name, value);
      }
      response.#type = "basic";
      response.#url = head.url;
      response.#redirected = head.redirected;
      if (stream !== null) setBodyStream(response, stream);
      return response;
    };
  }
}
// A clone's body: a copy of the bytes, or one branch of the stream (the original keeps the other).
function cloneBody(body) {
  const stream = bodyStreamOf(body);
  if (stream === null) {
    const bytes = bodyBytesOf(body);
    return bytes === null ? null : bytes.slice();
  }
  if (body.bodyUsed || stream.locked) throw new TypeError("Body has already been consumed");
  const [mine, theirs] = stream.tee();
  setBodyStream(body, mine);
  return theirs;
}
return { Headers, Request, Response, bodyBytesOf, bodyStreamOf, takeBodyStream, fetchedResponse };
});
defineLazy("Headers", () => webFetch().Headers);
defineLazy("Request", () => webFetch().Request);
defineLazy("Response", () => webFetch().Response);
