// HTTP actions as apps write them (convex/http.ts): exact paths, a path prefix, the app's own CORS,
// ctx.runMutation / runQuery / scheduler from a handler, failures, and bodies of every kind.
import { httpRouter } from "convex/server";
import { ConvexError } from "convex/values";
import { api } from "./_generated/api";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/hello",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const url = new URL(request.url);
    return Response.json({ hello: url.searchParams.get("name") ?? "world", url: request.url, method: request.method });
  }),
});

// The body back, byte for byte, with the request's content type and a header derived from one sent.
http.route({
  path: "/echo",
  method: "POST",
  handler: httpAction(async (_ctx, request) => {
    const bytes = await request.arrayBuffer();
    return new Response(bytes, {
      status: 201,
      statusText: "Created",
      headers: {
        "content-type": request.headers.get("content-type") ?? "application/octet-stream",
        "x-echo-custom": request.headers.get("x-custom") ?? "",
        "access-control-allow-origin": "*",
      },
    });
  }),
});

// The preflight as the app declares it (Convex adds nothing of its own).
http.route({
  path: "/echo",
  method: "OPTIONS",
  handler: httpAction(async (_ctx, request) =>
    new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": request.headers.get("origin") ?? "*",
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": "content-type, x-custom",
        "access-control-max-age": "86400",
      },
    })),
});

http.route({
  pathPrefix: "/profile/",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const path = new URL(request.url).pathname;
    return new Response(`profile ${path.slice(path.indexOf("/profile/") + "/profile/".length)}`);
  }),
});

http.route({
  pathPrefix: "/profile/admin/",
  method: "GET",
  handler: httpAction(async () => new Response("the longer prefix wins")),
});

http.route({
  path: "/notes",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { text } = await request.json();
    const id = await ctx.runMutation(api.notes.add, { text });
    const notes = await ctx.runQuery(api.notes.list, {});
    const scheduled = await ctx.scheduler.runAfter(0, api.notes.add, { text: `${text} (scheduled)` });
    return Response.json({ id, count: notes.length, scheduled: typeof scheduled });
  }),
});

http.route({
  path: "/throws",
  method: "GET",
  handler: httpAction(async () => {
    console.log("about to fail");
    throw new Error("boom from an HTTP action");
  }),
});

http.route({
  path: "/convex-error",
  method: "GET",
  handler: httpAction(async () => {
    throw new ConvexError({ reason: "closed", code: 7 });
  }),
});

http.route({
  path: "/not-a-response",
  method: "GET",
  handler: httpAction(async () => "just a string"),
});

http.route({
  path: "/cookies",
  method: "GET",
  handler: httpAction(async () => {
    const headers = new Headers();
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Path=/");
    return new Response("two cookies", { headers });
  }),
});

// n bytes of "x".
http.route({
  path: "/big",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const n = Number(new URL(request.url).searchParams.get("n"));
    return new Response(new Uint8Array(n).fill(120));
  }),
});

http.route({
  path: "/site-url",
  method: "GET",
  handler: httpAction(async () => new Response(process.env.CONVEX_SITE_URL)),
});

// A file stored from a request's body, and served back from storage.
http.route({
  path: "/files",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const id = await ctx.storage.store(await request.blob());
    return Response.json({ storageId: id });
  }),
});

http.route({
  path: "/files",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const blob = await ctx.storage.get(new URL(request.url).searchParams.get("id"));
    return blob === null ? new Response("no such file", { status: 404 }) : new Response(blob);
  }),
});

// Bodies sent as they are made, the way AI chat apps stream tokens: a ReadableStream for the body.
// ?chunks=N&size=S: N chunks of S bytes ("chunk i\n" when S is 0).
http.route({
  path: "/stream",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const params = new URL(request.url).searchParams;
    const chunks = Number(params.get("chunks") ?? "3");
    const size = Number(params.get("size") ?? "0");
    const encoder = new TextEncoder();
    let i = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (i === chunks) return controller.close();
        controller.enqueue(size > 0 ? new Uint8Array(size).fill(97 + (i % 26)) : encoder.encode(`chunk ${i}\n`));
        i += 1;
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8", "x-streamed": "yes" } });
  }),
});

// "first", then "second" only once a note with the text ?key= exists: which the client writes after
// it has read "first". A response sent whole at the end would never get there.
http.route({
  path: "/stream-handshake",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const key = new URL(request.url).searchParams.get("key");
    const encoder = new TextEncoder();
    let step = 0;
    const body = new ReadableStream({
      async pull(controller) {
        if (step === 0) {
          controller.enqueue(encoder.encode("first\n"));
        } else if (step === 1) {
          for (let tries = 0; tries < 300; tries += 1) {
            const notes = await ctx.runQuery(api.notes.list, {});
            if (notes.some((note) => note.text === key)) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          controller.enqueue(encoder.encode("second\n"));
        } else {
          controller.close();
        }
        step += 1;
      },
    });
    return new Response(body);
  }),
});

// A stream that fails after its first chunk: the client must learn the body was cut.
http.route({
  path: "/stream-fails",
  method: "GET",
  handler: httpAction(async () => {
    let sent = false;
    const body = new ReadableStream({
      pull(controller) {
        if (!sent) {
          sent = true;
          return controller.enqueue(new TextEncoder().encode("partial"));
        }
        controller.error(new Error("the model went away"));
      },
    });
    return new Response(body);
  }),
});

export default http;
