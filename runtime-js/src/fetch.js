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
  if (init instanceof ArrayBuffer || ArrayBuffer.isView(init)) return { bytes: bytesOf(init).slice(), type: null };
  if (typeof init?.getReader === "function") {
    throw new TypeError("Streaming bodies are not supported yet; pass a string, bytes or a Blob");
  }
  return { bytes: utf8Encode(String(init)), type: "text/plain;charset=UTF-8" };
}

const webFetch = once(() => {
let freezeHeaders;  // (headers) -> headers, now immutable; set by Headers' static block
class Headers {
  #list = [];  // [lowercased name, value], in insertion order
  #immutable = false;
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
  #mutable() {
    if (this.#immutable) throw new TypeError("Headers are immutable");
  }
  append(name, value) {
    const n = this.#name(name, "append");
    this.#mutable();
    this.#list.push([n, String(value)]);
  }
  delete(name) {
    const n = this.#name(name, "delete");
    this.#mutable();
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
  static {
    freezeHeaders = (headers) => {
      headers.#immutable = true;
      return headers;
    };
  }
}

let bodyBytesOf;  // (request or response) -> Uint8Array or null, without consuming it
let setBodyBytes;  // (request or response, Uint8Array or null)
// The body mixin shared by Request and Response.
class Body {
  #bytes = null;
  #used = false;
  get bodyUsed() { return this.#used; }
  #stream = null;
  // The bytes as a stream (the same stream on every access; null without a body).
  get body() {
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
    return Promise.resolve(this.#bytes ?? new Uint8Array(0));
  }
  async text() { return utf8Decode(await this.#consume("text"), false); }
  async json() { return JSON.parse(utf8Decode(await this.#consume("json"), false)); }
  async arrayBuffer() { return (await this.#consume("arrayBuffer")).slice().buffer; }
  async bytes() { return (await this.#consume("bytes")).slice(); }
  async blob() {
    const bytes = await this.#consume("blob");
    return new (webBlob().Blob)([bytes], { type: this.headers.get("content-type") ?? "" });
  }
  async formData() {
    const type = this.headers.get("content-type") ?? "";
    if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
      throw domException("formData() reads only application/x-www-form-urlencoded bodies here", "NotSupportedError");
    }
    const form = new (webFormData().FormData)();
    for (const [name, value] of new URLSearchParams(await this.text())) form.append(name, value);
    return form;
  }
  static {
    bodyBytesOf = (body) => {
      if (body.#used) throw new TypeError("Body has already been consumed");
      return body.#bytes;
    };
    setBodyBytes = (body, bytes) => {
      body.#bytes = bytes;
    };
  }
}

const kMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];

class Request extends Body {
  #url;
  #method;
  #headers;
  #signal;
  #redirect;
  constructor(input, init = {}) {
    super();
    const source = input instanceof Request ? input : null;
    this.#url = source !== null ? source.url : new (webUrl().URL)(String(input)).href;
    let method = init.method !== undefined ? String(init.method) : source !== null ? source.method : "GET";
    if (!kToken.test(method)) throw new TypeError(`Invalid method: ${method.slice(0, 50)}`);
    if (kMethods.includes(method.toUpperCase())) method = method.toUpperCase();
    if (["CONNECT", "TRACE", "TRACK"].includes(method.toUpperCase())) throw new TypeError(`Forbidden method: ${method}`);
    this.#method = method;
    this.#headers = new Headers(init.headers !== undefined ? init.headers : source?.headers);
    this.#signal = init.signal ?? source?.signal ?? new (webEvents().AbortController)().signal;
    this.#redirect = init.redirect ?? source?.redirect ?? "follow";
    let bytes = source !== null && init.body === undefined ? bodyBytesOf(source) : null;
    if (init.body !== undefined && init.body !== null) {
      if (method === "GET" || method === "HEAD") throw new TypeError("Request with GET/HEAD method cannot have body");
      const body = extractBody(init.body);
      bytes = body.bytes;
      if (body.type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", body.type);
    }
    setBodyBytes(this, bytes);
  }
  get url() { return this.#url; }
  get method() { return this.#method; }
  get headers() { return this.#headers; }
  get signal() { return this.#signal; }
  get redirect() { return this.#redirect; }
  clone() {
    return new Request(this);
  }
  get [Symbol.toStringTag]() { return "Request"; }
}

class Response extends Body {
  #status;
  #statusText;
  #headers;
  #type = "default";
  #url = "";
  constructor(body = null, init = {}) {
    super();
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`The status provided (${init.status}) is outside the range [200, 599]`);
    }
    this.#status = status;
    this.#statusText = init.statusText === undefined ? "" : String(init.statusText);
    this.#headers = new Headers(init.headers);
    const extracted = extractBody(body);
    if (extracted.bytes !== null && [101, 204, 205, 304].includes(status)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    if (extracted.type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", extracted.type);
    setBodyBytes(this, extracted.bytes);
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
  static error() {
    const response = new Response(null, { status: 200 });
    response.#status = 0;
    response.#type = "error";
    freezeHeaders(response.#headers);
    return response;
  }
  static redirect(url, status = 302) {
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid redirect status ${status}`);
    return new Response(null, { status, headers: { location: new (webUrl().URL)(String(url)).href } });
  }
  get status() { return this.#status; }
  get statusText() { return this.#statusText; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get headers() { return this.#headers; }
  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return false; }
  clone() {
    const bytes = bodyBytesOf(this);
    return new Response(bytes === null ? null : bytes.slice(), { status: this.#status, statusText: this.#statusText, headers: this.#headers });
  }
  get [Symbol.toStringTag]() { return "Response"; }
}
return { Headers, Request, Response, bodyBytesOf };
});
defineLazy("Headers", () => webFetch().Headers);
defineLazy("Request", () => webFetch().Request);
defineLazy("Response", () => webFetch().Response);
