// Conformance area "web_apis": Request, Response, Blob, File, FormData and web streams.
// Queries take `{which}` and return small observations (see web_apis_util.js).
import { action, query } from "./_generated/server";
import {
  bytes,
  catchAsync,
  catchSync,
  readAll,
  scenarios,
  streamText,
  tag,
  utf8,
} from "./web_apis_util";

function headerList(h) {
  return [...h];
}

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------
const requestScenarios = {
  defaults() {
    const r = new Request("http://foo");
    return {
      url: r.url,
      method: r.method,
      bodyUsed: r.bodyUsed,
      bodyIsNull: r.body === null,
      headers: headerList(r.headers),
      signalAborted: r.signal.aborted,
      tag: tag(r),
    };
  },
  methodNormalisation() {
    return ["poST", "foo", "patch", "delete", "Options"].map(
      (method) => new Request("http://foo/", { method }).method,
    );
  },
  getWithBody() {
    return [
      catchSync(() => new Request("http://foo/", { body: "x" })),
      catchSync(() => new Request("http://foo/", { method: "head", body: "x" })),
    ];
  },
  unsupportedScheme() {
    return catchSync(() => new Request("ftp://foo/"));
  },
  relativeUrl() {
    return catchSync(() => new Request("/x"));
  },
  invalidInput() {
    return catchSync(() => new Request({}));
  },
  undefinedInput() {
    return catchSync(() => new Request(undefined));
  },
  async textBody() {
    const r = new Request("http://foo/", { method: "POST", body: "ahoyhoy", headers: { "X-A": "1" } });
    return { headers: headerList(r.headers), text: await r.text(), bodyUsed: r.bodyUsed };
  },
  async searchParamsBody() {
    const r = new Request("http://foo/", {
      method: "POST",
      body: new URLSearchParams({ hello: "world" }),
    });
    return { contentType: r.headers.get("content-type"), text: await r.text() };
  },
  async bodyUsedTwice() {
    const r = new Request("http://foo/", { method: "POST", body: "x" });
    await r.text();
    return await catchAsync(() => r.text());
  },
  async newRequestConsumesBody() {
    const r = new Request("http://foo/", { method: "POST", body: "payload" });
    const copy = new Request(r);
    return {
      originalUsed: r.bodyUsed,
      copyText: await copy.text(),
      again: catchSync(() => new Request(r)),
    };
  },
  async clone() {
    const r1 = new Request("http://foo/", { method: "POST", body: "a test body" });
    const r2 = r1.clone();
    return [await r1.text(), await r2.text(), r2.method];
  },
  async urlencodedFormData() {
    const r = new Request("http://foo/", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "a=b&c=d&a=e",
    });
    const fd = await r.formData();
    return [...fd.entries()];
  },
  async invalidJson() {
    const r = new Request("http://foo/", { method: "POST", body: "ahoyhoy" });
    return (await catchAsync(() => r.json())).kind;
  },
  toJson() {
    const r = new Request("http://foo/");
    return JSON.stringify(r);
  },
  async fetchInQuery() {
    await fetch("http://127.0.0.1:9/web_apis");
    return "fetched";
  },
  unimplementedGetter() {
    const r = new Request("http://foo/");
    try {
      return r.mode;
    } catch (e) {
      return "caught: " + e.message;
    }
  },
};

export const request = query(scenarios(requestScenarios));

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------
const responseScenarios = {
  defaults() {
    const r = new Response();
    return {
      status: r.status,
      ok: r.ok,
      statusText: r.statusText,
      type: r.type,
      url: r.url,
      redirected: r.redirected,
      bodyUsed: r.bodyUsed,
      bodyIsNull: r.body === null,
      headers: headerList(r.headers),
      tag: tag(r),
    };
  },
  async textBody() {
    const r = new Response("hello world", { status: 201, statusText: "Created" });
    return {
      contentType: r.headers.get("content-type"),
      status: r.status,
      statusText: r.statusText,
      text: await r.text(),
      bodyUsed: r.bodyUsed,
    };
  },
  statusOutOfRange() {
    return [199, 600, 0, "418foo", null, 200.5].map((status) =>
      catchSync(() => new Response("", { status })),
    );
  },
  statusCoercion() {
    const r = new Response("", { status: "418" });
    return { status: r.status, ok: r.ok, nullInit: new Response("", null).status };
  },
  async jsonStatic() {
    const r = Response.json({ hello: "world" }, { status: 418 });
    return {
      status: r.status,
      contentType: r.headers.get("content-type"),
      text: await r.text(),
    };
  },
  jsonStaticOverridesContentType() {
    const r = Response.json({}, { headers: { "content-type": "text/plain" } });
    return headerList(r.headers);
  },
  jsonStaticNotSerializable() {
    const circular = {};
    circular.self = circular;
    return [
      catchSync(() => Response.json(undefined)),
      catchSync(() => Response.json(circular)),
      catchSync(() => Response.json({ n: 1n })),
    ];
  },
  errorStatic() {
    const r = Response.error();
    return { status: r.status, type: r.type, ok: r.ok };
  },
  redirectStatic() {
    const a = Response.redirect("http://x/a", 301);
    const b = Response.redirect(new URL("http://x/b"));
    const c = Response.redirect("/relative", 200);
    return [
      [a.status, a.headers.get("location")],
      [b.status, b.headers.get("location")],
      [c.status, c.headers.get("location")],
    ];
  },
  async bodyUsedTwice() {
    const r = new Response("body");
    await r.arrayBuffer();
    return await catchAsync(() => r.json());
  },
  async nullBodyReusable() {
    const r = new Response(null);
    const first = await r.text();
    const second = await r.text();
    return { first, second, bodyUsed: r.bodyUsed };
  },
  async clone() {
    const r1 = new Response("a test body", { status: 418, headers: { "x-a": "1" } });
    const r2 = r1.clone();
    return {
      texts: [await r1.text(), await r2.text()],
      status: r2.status,
      headers: headerList(r2.headers),
    };
  },
  async arrayBufferBody() {
    const r = new Response(new Uint8Array([1, 2, 3]).buffer);
    const buf = await r.arrayBuffer();
    return { isArrayBuffer: buf instanceof ArrayBuffer, bytes: bytes(buf), contentType: r.headers.get("content-type") };
  },
  async blobBodyType() {
    const r = new Response(new Blob(["xyz"], { type: "Text/Plain" }));
    const b = await r.blob();
    return { contentType: r.headers.get("content-type"), blobType: b.type, size: b.size };
  },
  async blobReadOnce() {
    const b = await new Response("hi").blob();
    const first = await b.text();
    const second = await catchAsync(() => b.text());
    return { first, second };
  },
  async bodyStream() {
    const r = new Response("hello");
    const body = r.body;
    return {
      isStream: body instanceof ReadableStream,
      tag: tag(body),
      text: await streamText(body),
      bodyUsed: r.bodyUsed,
    };
  },
  async streamBody() {
    const r = new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(utf8("part1"));
          controller.enqueue(utf8("part2"));
          controller.close();
        },
      }),
    );
    return await r.text();
  },
  async multipartFormDataInQuery() {
    const fd = new FormData();
    fd.append("hello", "world");
    const r = new Response(fd);
    const contentType = r.headers.get("content-type");
    return {
      multipart: /^multipart\/form-data; boundary=\S+$/.test(contentType),
      error: await catchAsync(() => r.formData()),
    };
  },
  async formDataContentTypes() {
    return [
      await catchAsync(() => new Response("a=b").formData()),
      await catchAsync(() => new Response(null).formData()),
      await catchAsync(() =>
        new Response("x", { headers: { "content-type": "multipart/form-data" } }).formData(),
      ),
    ];
  },
  toJson() {
    return JSON.stringify(new Response("x"));
  },
};

export const response = query(scenarios(responseScenarios));

// multipart/form-data parsing is an async op that only actions may use.
export const responseAction = action(
  scenarios({
    async multipartFormData() {
      const input = new FormData();
      input.append("text", "value");
      input.append("hello", new Blob(["world"]));
      input.append("upload", new Blob(["abcdefg"], { type: "audio/webm" }), "my mixtape");
      const parsed = await new Response(input).formData();
      const hello = parsed.get("hello");
      const upload = parsed.get("upload");
      return {
        text: parsed.get("text"),
        keys: [...parsed.keys()],
        hello: [hello instanceof File, hello.name, hello.type, await hello.text()],
        upload: [upload instanceof File, upload.name, upload.type, await upload.text()],
      };
    },
  }),
);

// ---------------------------------------------------------------------------------------------
// Blob and File
// ---------------------------------------------------------------------------------------------
const blobScenarios = {
  async basic() {
    const b = new Blob(["test", new Uint8Array([49, 50]), new Blob(["3"])]);
    return {
      size: b.size,
      type: b.type,
      text: await b.text(),
      empty: [new Blob().size, new Blob().type],
    };
  },
  typeNormalisation() {
    const b = new Blob(["Deno", "Foo"]);
    return [
      new Blob([], { type: "Text/HTML" }).type,
      new Blob([], { type: "\u0521" }).type,
      b.slice(0, 3, "Text/HTML").type,
      b.slice(0, 3).type,
      new Blob([], { type: "a\tb" }).type,
    ];
  },
  async slice() {
    const b = new Blob(["Deno", "Foo"]);
    return {
      sizes: [b.slice(0, 3).size, b.slice(-1, 3).size, b.slice(100, 3).size, b.slice(0, 10).size],
      middle: await b.slice(1, 6).text(),
      tail: await b.slice(-3).text(),
      nested: await b.slice(2).slice(1, 4).text(),
    };
  },
  async copiesInput() {
    const input = new Uint8Array([1, 2, 3]);
    const fromBuffer = new Blob([input.buffer]);
    const fromView = new Blob([input.subarray(1)]);
    input[0] = 10;
    input[1] = 20;
    return {
      fromBuffer: bytes(await fromBuffer.arrayBuffer()),
      fromView: bytes(await fromView.arrayBuffer()),
    };
  },
  async stream() {
    const s = new Blob(["Hello", " ", "World"]).stream();
    return { isStream: s instanceof ReadableStream, text: await streamText(s) };
  },
  async invalidUtf8Text() {
    const t = await new Blob([new Uint8Array([0x61, 0xff, 0x62])]).text();
    return Array.from(t, (c) => c.codePointAt(0));
  },
  unsupportedPart() {
    try {
      new Blob([123]);
    } catch (e) {
      return "caught: " + e.message;
    }
    return "no error";
  },
  tags() {
    const f = new File(["x"], "a.txt");
    return {
      blob: tag(new Blob()),
      file: tag(f),
      fileIsBlob: f instanceof Blob,
    };
  },
  file() {
    const f = new File(["bits"], "name.txt", { type: "Text/Plain", lastModified: 42 });
    return {
      name: f.name,
      size: f.size,
      type: f.type,
      lastModified: f.lastModified,
      nullName: new File(["x"], null).name,
      numberName: new File(["x"], 1).name,
      unicodeSize: new File(["\u{1d4fd}\u{1d4ee}\u{1d501}\u{1d4fd}"], "u").size,
    };
  },
  fileDefaultLastModified() {
    return new File([], "x").lastModified === Date.now();
  },
};

export const blob = query(scenarios(blobScenarios));

// ---------------------------------------------------------------------------------------------
// FormData
// ---------------------------------------------------------------------------------------------
const formDataScenarios = {
  basic() {
    const fd = new FormData();
    fd.append("a", "1");
    fd.append("b", "2");
    fd.append("a", "3");
    return {
      get: fd.get("a"),
      getAll: fd.getAll("a"),
      missing: fd.get("zzz"),
      has: [fd.has("b"), fd.has("zzz")],
      entries: [...fd.entries()],
      keys: [...fd.keys()],
      values: [...fd.values()],
      tag: tag(fd),
    };
  },
  async appendBlob() {
    const fd = new FormData();
    fd.append("plain", new Blob(["abc"], { type: "text/plain" }));
    fd.append("named", new Blob(["abc"], { type: "text/plain" }), "x.txt");
    fd.append("file", new File(["de"], "orig.bin", { type: "application/x-y" }));
    const out = {};
    for (const [k, f] of fd) {
      out[k] = [f instanceof File, f.name, f.type, await f.text()];
    }
    return out;
  },
  async setBlob() {
    const fd = new FormData();
    fd.set("f", new Blob(["abc"], { type: "text/plain" }));
    const f = fd.get("f");
    return [f instanceof File, f.name, f.type, await f.text()];
  },
  setAndDelete() {
    const fd = new FormData();
    fd.append("a", "1");
    fd.append("b", "2");
    fd.set("a", "x");
    fd.set("c", "y");
    const afterSet = [...fd];
    fd.delete("b");
    return { afterSet, afterDelete: [...fd] };
  },
  forEach() {
    const fd = new FormData();
    fd.append("k", "v");
    const out = [];
    fd.forEach(function (value, key, parent) {
      out.push([value, key, parent === fd, this.marker]);
    }, { marker: "thisArg" });
    return out;
  },
};

export const formData = query(scenarios(formDataScenarios));

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------
const streamScenarios = {
  async readerSequence() {
    const s = new ReadableStream({
      start(c) {
        c.enqueue("a");
        c.enqueue("b");
        c.close();
      },
    });
    const reader = s.getReader();
    const out = [];
    for (let i = 0; i < 3; i++) {
      const { value, done } = await reader.read();
      out.push([done, value === undefined ? "undefined" : value]);
    }
    return out;
  },
  lockedTwice() {
    const s = new ReadableStream();
    s.getReader();
    return { locked: s.locked, error: catchSync(() => s.getReader()) };
  },
  async pipeThrough() {
    const source = new ReadableStream({
      start(c) {
        c.enqueue("hel");
        c.enqueue("lo");
        c.close();
      },
    });
    const upper = new TransformStream({
      transform(chunk, controller) {
        controller.enqueue(chunk.toUpperCase());
      },
    });
    const chunks = await readAll(source.pipeThrough(upper));
    return chunks;
  },
  async writer() {
    const written = [];
    const ws = new WritableStream({
      write(chunk) {
        written.push(chunk);
      },
      close() {
        written.push("closed");
      },
    });
    const w = ws.getWriter();
    await w.write("x");
    await w.write("y");
    await w.close();
    return { written, tag: tag(w) };
  },
  async asyncIteration() {
    const s = new ReadableStream({
      start(c) {
        c.enqueue(1);
        c.enqueue(2);
        c.close();
      },
    });
    const out = [];
    for await (const chunk of s) out.push(chunk);
    return out;
  },
  async tee() {
    const s = new ReadableStream({
      start(c) {
        c.enqueue("t");
        c.close();
      },
    });
    const [a, b] = s.tee();
    return [await readAll(a), await readAll(b)];
  },
  async textStreams() {
    const source = new ReadableStream({
      start(c) {
        c.enqueue("h\u00e9");
        c.enqueue("llo");
        c.close();
      },
    });
    const encoded = source.pipeThrough(new TextEncoderStream());
    const decoded = encoded.pipeThrough(new TextDecoderStream());
    return (await readAll(decoded)).join("");
  },
  tags() {
    const ts = new TransformStream();
    return [
      tag(new ReadableStream()),
      tag(new WritableStream()),
      tag(ts),
      tag(new ReadableStream().getReader()),
      tag(new TextEncoderStream()),
      tag(new TextDecoderStream()),
    ];
  },
  async byteStreamController() {
    let controller;
    const s = new ReadableStream({
      type: "bytes",
      start(c) {
        controller = c;
      },
    });
    const reader = s.getReader();
    controller.enqueue(utf8("hi "));
    const first = await reader.read();
    controller.close();
    const second = await reader.read();
    return {
      first: [first.done, bytes(first.value)],
      secondDone: second.done,
      controllerTag: tag(controller),
    };
  },
};

export const streams = query(scenarios(streamScenarios));
