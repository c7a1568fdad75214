// CONVEX_ABI.md §9.3: an HTTP router with an exact route and a prefix route.
import { httpRouter } from "convex/server";
import { api } from "./_generated/api";
import { httpAction } from "./_generated/server";

const hello = httpAction(async (ctx, request) => {
  const { name } = await request.json();
  const messages = await ctx.runQuery(api.messages.list, {});
  return new Response(JSON.stringify({ greeting: `hello ${name}`, messages: messages.length }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
});

const files = httpAction(async (_ctx, request) => new Response(new URL(request.url).pathname));

const http = httpRouter();
http.route({ path: "/hello", method: "POST", handler: hello });
http.route({ pathPrefix: "/files/", method: "GET", handler: files });
export default http;
