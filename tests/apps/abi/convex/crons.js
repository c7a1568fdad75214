// CONVEX_ABI.md §9.3: crons of three schedule kinds.
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("clear", { minutes: 5 }, internal.messages.cleanup, { id: "x" });
crons.daily("daily", { hourUTC: 3, minuteUTC: 15 }, internal.messages.countThem);
crons.cron("raw", "0 * * * *", internal.messages.countThem);
export default crons;
