// Prelude fragment: Blob and File. A blob's bytes live in a private field and are never shared
// mutably: slices and reads copy.

const webBlob = once(() => {
let blobBytes;  // (blob) -> Uint8Array, for other fragments; set by Blob's static block
let markReadOnce;  // (blob) -> blob, readable once from now on
class Blob {
  #bytes;
  #type;
  constructor(parts = [], options = {}) {
    if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
      throw new TypeError("Blob parts must be a sequence");
    }
    const chunks = [];
    let size = 0;
    for (const part of parts) {
      // Convex takes strings, Blobs and bytes only, and refuses anything else uncatchably.
      if (!(typeof part === "string" || part instanceof Blob || part instanceof ArrayBuffer || ArrayBuffer.isView(part))) {
        notImplemented("constructor with unsupported Blob part", "Blob", "Only ArrayBuffer, Blob and string supported");
      }
      const bytes = part instanceof Blob ? part.#bytes
        : typeof part === "string" ? utf8Encode(part) : bytesOf(part).slice();
      chunks.push(bytes);
      size += bytes.length;
    }
    this.#bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      this.#bytes.set(chunk, offset);
      offset += chunk.length;
    }
    const type = options?.type === undefined ? "" : String(options.type);
    this.#type = /^[\x20-\x7e]*$/.test(type) ? type.toLowerCase() : "";
  }
  get size() { return this.#bytes.length; }
  get type() { return this.#type; }
  slice(start = 0, end = this.#bytes.length, contentType = "") {
    const clamp = (i) => (i < 0 ? Math.max(this.#bytes.length + i, 0) : Math.min(i, this.#bytes.length));
    const blob = new Blob([], { type: contentType });
    blob.#bytes = this.#bytes.slice(clamp(Math.trunc(start) || 0), clamp(Math.trunc(end) || 0));
    return blob;
  }
  // A Blob a Response's blob() made reads once, as Convex's streaming Blob does.
  #readOnce = false;
  #wasRead = false;
  #read() {
    if (this.#readOnce) {
      if (this.#wasRead) throw new TypeError("Can't re-read streaming Blob");
      this.#wasRead = true;
    }
    return this.#bytes;
  }
  async text() {
    return utf8Decode(this.#read(), false);
  }
  async arrayBuffer() {
    return this.#read().slice().buffer;
  }
  async bytes() {
    return this.#read().slice();
  }
  stream() {
    return byteStream(this.#read().slice());
  }
  get [Symbol.toStringTag]() { return "Blob"; }
  static {
    blobBytes = (blob) => blob.#bytes;
    markReadOnce = (blob) => {
      blob.#readOnce = true;
      return blob;
    };
  }
}

class File extends Blob {
  #name;
  #lastModified;
  constructor(parts, name, options = {}) {
    super(parts, options);
    if (arguments.length < 2) throw new TypeError("File requires a name");
    this.#name = String(name);
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
  }
  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
  get [Symbol.toStringTag]() { return "File"; }
}
return { Blob, File, blobBytes, markReadOnce };
});
defineLazy("Blob", () => webBlob().Blob);
defineLazy("File", () => webBlob().File);
const blobBytes = (blob) => webBlob().blobBytes(blob);
const isBlob = (value) => value instanceof webBlob().Blob;
