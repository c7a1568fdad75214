// An HTTP action that proxies to an outside API and streams its answer back, as apps relaying an AI
// model's tokens do.
import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/proxy",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const target = new URL(request.url).searchParams.get("to");
    const upstream = await fetch(target);
    return new Response(upstream.body, { status: upstream.status, headers: { "x-proxied": "1" } });
  }),
});

export default http;
