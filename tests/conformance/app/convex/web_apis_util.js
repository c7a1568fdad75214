// Helpers shared by the web_apis modules (no Convex functions here).
import { v } from "convex/values";

// Classifies a thrown value by the web/JS error class it is an instance of.
export function kindOf(e) {
  if (typeof DOMException !== "undefined" && e instanceof DOMException) {
    return "DOMException";
  }
  if (e instanceof TypeError) return "TypeError";
  if (e instanceof RangeError) return "RangeError";
  if (e instanceof SyntaxError) return "SyntaxError";
  if (e instanceof Error) return "Error";
  return typeof e;
}

// A small, stable description of a thrown value.
export function errInfo(e) {
  if (e === null || typeof e !== "object") {
    return { kind: kindOf(e), value: String(e) };
  }
  const out = { kind: kindOf(e), name: String(e.name), message: String(e.message) };
  if (out.kind === "DOMException") {
    out.code = e.code;
  }
  return out;
}

export function catchSync(f) {
  try {
    f();
    return { threw: false };
  } catch (e) {
    return errInfo(e);
  }
}

export async function catchAsync(f) {
  try {
    await f();
    return { threw: false };
  } catch (e) {
    return errInfo(e);
  }
}

export function tag(x) {
  return Object.prototype.toString.call(x);
}

export function hex(buf) {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

export function bytes(buf) {
  return Array.from(buf instanceof Uint8Array ? buf : new Uint8Array(buf));
}

export function utf8(s) {
  return new TextEncoder().encode(s);
}

// Reads every chunk of a ReadableStream.
export async function readAll(stream) {
  const reader = stream.getReader();
  const chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return chunks;
}

export async function streamText(stream) {
  const chunks = await readAll(stream);
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

// A function definition that runs `table[which]()`.
export function scenarios(table) {
  return {
    args: { which: v.string() },
    handler: async (ctx, { which }) => {
      const f = table[which];
      if (f === undefined) {
        throw new Error(`unknown scenario ${which}`);
      }
      return await f(ctx);
    },
  };
}
