// A cron that runs from the first push on.
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("tick", { seconds: 1 }, internal.ticks.record);
export default crons;
