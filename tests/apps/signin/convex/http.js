// An HTTP action that answers who called it, as apps' webhooks and API routes read
// ctx.auth.getUserIdentity() from a request's Authorization header.
import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/me",
  method: "GET",
  handler: httpAction(async (ctx) => {
    try {
      const identity = await ctx.auth.getUserIdentity();
      return Response.json({ subject: identity?.subject ?? null });
    } catch (e) {
      return Response.json({ error: e.message }, { status: 401 });
    }
  }),
});

export default http;
