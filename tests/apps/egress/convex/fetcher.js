// Actions that call outside APIs the way real apps do (an AI model, a payment provider, a webhook):
// fetch with every kind of body, streamed responses, redirects, aborts and timers. The peer's base
// URL is an argument.
import { v } from "convex/values";
import { action, query } from "./_generated/server";

// What a Response looked like, body as text.
async function describe(response) {
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: response.url,
    redirected: response.redirected,
    type: response.type,
    headers: [...response.headers],
    setCookies: response.headers.getSetCookie(),
    body: await response.text(),
  };
}

const errorOf = (e) => ({ name: e?.name ?? null, message: String(e?.message ?? e), isTypeError: e instanceof TypeError });

export const get = action({
  args: { url: v.string(), init: v.optional(v.any()) },
  handler: async (_ctx, { url, init }) => {
    try {
      return await describe(await fetch(url, init));
    } catch (e) {
      return { error: errorOf(e) };
    }
  },
});

// POSTs `kind` of body to the peer's /echo and returns what it saw.
export const send = action({
  args: { base: v.string(), kind: v.string() },
  handler: async (_ctx, { base, kind }) => {
    let body;
    switch (kind) {
      case "string": body = "hello, ünïcode"; break;
      case "arrayBuffer": body = new Uint8Array([0, 1, 2, 255]).buffer; break;
      case "uint8Array": body = new Uint8Array([104, 105]); break;
      case "blob": body = new Blob(["blob ", "parts"], { type: "text/x-blob" }); break;
      case "formData": {
        body = new FormData();
        body.append("name", "ann");
        body.append("file", new Blob(["file body"], { type: "text/plain" }), "a.txt");
        break;
      }
      case "urlSearchParams": body = new URLSearchParams({ q: "a b", n: "1" }); break;
      case "stream": {
        let i = 0;
        body = new ReadableStream({
          pull(controller) {
            if (i === 3) return controller.close();
            controller.enqueue(new TextEncoder().encode(`part${i++};`));
          },
        });
        break;
      }
      case "bigStream": {
        // 3 MiB in 48 KiB chunks: more than one host call's part.
        let sent = 0;
        body = new ReadableStream({
          pull(controller) {
            if (sent >= 3 << 20) return controller.close();
            controller.enqueue(new Uint8Array(48 << 10).fill(97));
            sent += 48 << 10;
          },
        });
        break;
      }
      default: throw new Error(`unknown kind ${kind}`);
    }
    const response = await fetch(`${base}/echo`, { method: "POST", body, headers: { "x-custom": "yes" } });
    const echo = await response.json();
    // A large body's echo is summed up: the peer got it whole, chunked.
    return kind === "bigStream" ? { length: echo.length, allA: /^(61)*$/.test(echo.hex), headers: echo.headers } : echo;
  },
});

// Reads a large body a chunk at a time (never whole) and returns its length and a checksum.
export const stream = action({
  args: { url: v.string() },
  handler: async (_ctx, { url }) => {
    const response = await fetch(url);
    const reader = response.body.getReader();
    let length = 0;
    let sum = 0;
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let i = 0; i < value.length; i += 4099) sum = (sum + value[i] * ((length + i) % 7 + 1)) % 1000000007;
      length += value.length;
      chunks++;
    }
    return { length, sum, chunks, contentLength: response.headers.get("content-length") };
  },
});

// Fetches `url` `n` times in a row, reading each body a chunk at a time: the time it took (bench/fetch)
// and the bytes read.
export const repeat = action({
  args: { url: v.string(), n: v.number() },
  handler: async (_ctx, { url, n }) => {
    const started = Date.now();
    let bytes = 0;
    let headMs = 0;
    let parts = 0;
    for (let i = 0; i < n; i++) {
      const asked = Date.now();
      const reader = (await fetch(url)).body.getReader();
      headMs += Date.now() - asked;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        parts++;
      }
    }
    return { us: (Date.now() - started) * 1000, headUs: headMs * 1000, bytes, parts };
  },
});

// Aborts a request to `url` after `afterMs` (0: before it starts).
export const abort = action({
  args: { url: v.string(), afterMs: v.number() },
  handler: async (_ctx, { url, afterMs }) => {
    const controller = new AbortController();
    if (afterMs === 0) controller.abort();
    else setTimeout(() => controller.abort(), afterMs);
    const started = Date.now();
    try {
      await fetch(url, { signal: controller.signal });
      return { error: null };
    } catch (e) {
      return { error: errorOf(e), tookMs: Date.now() - started };
    }
  },
});

// Holds the deployment's fetch slots with two requests to `slow` (each tried again while refused: a
// quick one may hold a slot for a moment), then fetches `quick` until that is refused: the refusal,
// and how the slow ones end.
export const saturate = action({
  args: { slow: v.string(), quick: v.string() },
  handler: async (_ctx, { slow, quick }) => {
    const hold = async () => {
      for (;;) {
        try {
          return (await fetch(slow)).status;
        } catch (e) {
          if (!e.message.startsWith("Too many concurrent fetches")) return e.message;
        }
      }
    };
    const hanging = [hold(), hold()];
    let refusal = null;
    for (let i = 0; i < 1000 && refusal === null; i++) {
      try {
        await (await fetch(quick)).text();
      } catch (e) {
        refusal = e.message;
      }
    }
    return { refusal, hanging: await Promise.all(hanging) };
  },
});

// Timers in actions: setTimeout, setInterval and clearTimeout.
export const timers = action({
  args: {},
  handler: async () => {
    const events = [];
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
    events.push("timeout");
    let ticks = 0;
    await new Promise((resolve) => {
      const id = setInterval(() => {
        ticks++;
        if (ticks === 3) {
          clearInterval(id);
          resolve();
        }
      }, 10);
    });
    events.push(`interval x${ticks}`);
    const cleared = setTimeout(() => events.push("cleared timer fired"), 10);
    clearTimeout(cleared);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // A 0 ms interval yields to other work (here a 20 ms timer) rather than spinning.
    let spins = 0;
    const spinning = setInterval(() => spins++, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    clearInterval(spinning);
    if (spins > 0) events.push("0 ms interval ticked and yielded");
    return { events, elapsedAtLeast: Date.now() - started >= 80 };
  },
});

export const fetchInQuery = query({
  args: {},
  handler: async () => {
    try {
      await fetch("https://example.com");
      return "fetched";
    } catch (e) {
      return e.message;
    }
  },
});
