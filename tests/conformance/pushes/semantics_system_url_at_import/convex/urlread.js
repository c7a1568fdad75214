// Push case semantics/system_url_at_import: the system environment variables are set while modules
// import, as every other environment variable is.
import { queryGeneric as query } from "convex/server";

const cloud = process.env.CONVEX_CLOUD_URL;
const site = process.env.CONVEX_SITE_URL;

export const read = query({
  args: {},
  handler: async () => ({
    cloudIsHttp: typeof cloud === "string" && /^https?:\/\//.test(cloud),
    siteIsHttp: typeof site === "string" && /^https?:\/\//.test(site),
    sameAsAtRunTime: cloud === process.env.CONVEX_CLOUD_URL && site === process.env.CONVEX_SITE_URL,
  }),
});
