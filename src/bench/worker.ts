/** A bench worker thread: runs its share of the plan and posts its counts (and live progress once a second). */
import { parentPort, workerData } from "node:worker_threads";
import { Runner, type RunPlan } from "./run.ts";

const runner = new Runner(workerData as RunPlan);
const ticker = setInterval(() => parentPort!.postMessage({ type: "progress", progress: runner.progress() }), 1000);
const data = await runner.run();
clearInterval(ticker);
parentPort!.postMessage({ type: "done", data });
