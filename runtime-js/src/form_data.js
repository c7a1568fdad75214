// Prelude fragment: FormData (entries of strings and Files, in order), its multipart/form-data
// encoding, and what Body.formData() reads (urlencoded bodies; multipart ones in actions).

const webFormData = once(() => {
  const entryValue = (value, filename) => {
    const { Blob, File } = webBlob();
    if (!(value instanceof Blob)) return String(value);
    if (value instanceof File && filename === undefined) return value;
    const name = filename !== undefined ? String(filename) : value instanceof File ? value.name : "blob";
    return new File([value], name, { type: value.type });
  };
  class FormData {
    #entries = [];
    constructor(form) {
      if (form !== undefined) throw new TypeError("FormData can only be constructed empty here (no HTML forms)");
    }
    append(name, value, filename) {
      this.#entries.push([String(name), entryValue(value, filename)]);
    }
    delete(name) {
      const key = String(name);
      this.#entries = this.#entries.filter(([k]) => k !== key);
    }
    get(name) {
      const key = String(name);
      const found = this.#entries.find(([k]) => k === key);
      return found === undefined ? null : found[1];
    }
    getAll(name) {
      const key = String(name);
      return this.#entries.filter(([k]) => k === key).map(([, v]) => v);
    }
    has(name) {
      const key = String(name);
      return this.#entries.some(([k]) => k === key);
    }
    set(name, value, filename) {
      const key = String(name);
      // As Convex's set: a Blob becomes a File named by `filename` (else ""), without its type.
      const { Blob, File } = webBlob();
      const entry = [key, value instanceof Blob ? new File([value], filename !== undefined ? String(filename) : "")
        : String(value)];
      const first = this.#entries.findIndex(([k]) => k === key);
      if (first < 0) {
        this.#entries.push(entry);
        return;
      }
      this.#entries = this.#entries.filter(([k], i) => k !== key || i === first).map((e, i) => (i === first ? entry : e));
    }
    *entries() {
      for (const [k, v] of this.#entries) yield [k, v];
    }
    *keys() {
      for (const [k] of this.#entries) yield k;
    }
    *values() {
      for (const [, v] of this.#entries) yield v;
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this.#entries) callback.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    get [Symbol.toStringTag]() {
      return "FormData";
    }
  }
  return { FormData };
});
defineLazy("FormData", () => webFormData().FormData);

// multipart/form-data, as Convex writes and reads it (udf-runtime 21_formdata.ts; its parser is an
// async op, so only actions read multipart bodies).
const kCrLf = "\r\n";
const fixLineEndings = (s) => s.replace(/\r(?!\n)|(?<!\r)\n/g, kCrLf);
const escapeQuoted = (s) => s.replace(/[\r\n"]/g, (c) => (c === "\n" ? "%0A" : c === "\r" ? "%0D" : "%22"));

// A FormData as {bytes, type}: a random boundary of digits, each entry a part.
function formDataBody(form) {
  const boundary = `${Math.random()}${Math.random()}`.replace(".", "").slice(-28);
  const chunks = [];
  for (const [name, value] of form) {
    let head = `--${boundary}${kCrLf}Content-Disposition: form-data; name="${escapeQuoted(fixLineEndings(name))}"`;
    if (typeof value === "string") {
      chunks.push(utf8Encode(`${head}${kCrLf}${kCrLf}${fixLineEndings(value)}${kCrLf}`));
      continue;
    }
    head += `; filename="${escapeQuoted(value.name)}"${kCrLf}Content-Type: ${value.type || "application/octet-stream"}`;
    chunks.push(utf8Encode(`${head}${kCrLf}${kCrLf}`), blobBytes(value), utf8Encode(kCrLf));
  }
  chunks.push(utf8Encode(`--${boundary}--${kCrLf}`));
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { bytes, type: `multipart/form-data; boundary=${boundary}` };
}

// The first index of `needle` in `haystack` at or after `from`, or -1.
function indexOfBytes(haystack, needle, from) {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// {essence, boundary} of a Content-Type, or null when it is not one.
function mimeTypeOf(contentType) {
  const [essence, ...params] = contentType.split(";");
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(essence.trim())) return null;
  let boundary = null;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    boundary = param.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
  }
  return { essence: essence.trim().toLowerCase(), boundary };
}

// The parts of a multipart body: [{name, filename, type, bytes}].
function parseMultipart(bytes, boundary) {
  const malformed = () => new TypeError("Failed to parse the multipart/form-data body");
  const delimiter = utf8Encode(`--${boundary}`);
  const headerEnd = utf8Encode(`${kCrLf}${kCrLf}`);
  let at = indexOfBytes(bytes, delimiter, 0);
  if (at < 0) throw malformed();
  const parts = [];
  for (;;) {
    at += delimiter.length;
    if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return parts;  // "--": the last delimiter
    if (bytes[at] !== 0x0d || bytes[at + 1] !== 0x0a) throw malformed();
    const headersEnd = indexOfBytes(bytes, headerEnd, at + 2);
    if (headersEnd < 0) throw malformed();
    const next = indexOfBytes(bytes, utf8Encode(`${kCrLf}--${boundary}`), headersEnd + 4);
    if (next < 0) throw malformed();
    const headers = utf8Decode(bytes.subarray(at + 2, headersEnd), false).split(kCrLf);
    const part = { name: null, filename: null, type: null, bytes: bytes.slice(headersEnd + 4, next) };
    for (const header of headers) {
      const colon = header.indexOf(":");
      if (colon < 0) continue;
      const field = header.slice(0, colon).trim().toLowerCase();
      const value = header.slice(colon + 1).trim();
      if (field === "content-type") part.type = value;
      if (field !== "content-disposition") continue;
      part.name = /(?:^|;)\s*name="([^"]*)"/i.exec(value)?.[1] ?? null;
      part.filename = /(?:^|;)\s*filename="([^"]*)"/i.exec(value)?.[1] ?? null;
    }
    if (part.name === null) throw malformed();
    parts.push(part);
    at = next + 2;
  }
}

// What Body.formData() makes of a body and its Content-Type, in Convex's words when it cannot.
function parseFormData(bytes, contentType) {
  if (contentType === null) throw new TypeError("Missing content type");
  const mimeType = mimeTypeOf(contentType);
  if (mimeType === null) throw new TypeError("Invalid content type");
  const { FormData } = webFormData();
  const form = new FormData();
  if (mimeType.essence === "multipart/form-data") {
    if (mimeType.boundary === null) throw new TypeError("Missing boundary parameter in mime type of multipart formdata.");
    if (deterministicCrypto) {
      throw refusal("formData()");
    }
    const { Blob } = webBlob();
    for (const part of parseMultipart(bytes, mimeType.boundary)) {
      if (part.filename === null) form.append(part.name, utf8Decode(part.bytes, false));
      else form.append(part.name, new Blob([part.bytes], { type: part.type ?? "" }), part.filename);
    }
    return form;
  }
  if (mimeType.essence === "application/x-www-form-urlencoded") {
    for (const [name, value] of new URLSearchParams(utf8Decode(bytes, false))) form.append(name, value);
    return form;
  }
  throw new TypeError("Body cannot be decoded as form data");
}
