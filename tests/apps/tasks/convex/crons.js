// Keeps the scratch table clear, every second.
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("clear scratch", { seconds: 1 }, internal.jobs.clearScratch);
export default crons;
