// Entry point of a worker process, forked by the master (src/arbiter/master.ts).
import { describeError } from "../log.ts";
import { runWorker } from "./worker.ts";

runWorker().catch((err: unknown) => {
  process.stderr.write(`oryx: worker ${process.pid} failed: ${describeError(err)}\n`);
  process.exit(1);
});
