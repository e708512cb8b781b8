/** How the master starts a worker process: its entry file and its node flags. */
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A worker's node flags: the master's own, plus the semi-space cap unless it is 0 or the user already chose one
 * (in NODE_OPTIONS or on node's command line), whose choice stands.
 */
export function workerExecArgv(maxSemiSpace: number, nodeOptions = process.env.NODE_OPTIONS ?? ""): string[] {
  const own = workerEntry.execArgv;
  if (maxSemiSpace <= 0 || SEMI_SPACE_FLAG.test(nodeOptions) || own.some((a) => SEMI_SPACE_FLAG.test(a))) return own;
  return [...own, `--max-semi-space-size=${maxSemiSpace}`];
}

/** V8 takes its flags with - or _ between words. */
const SEMI_SPACE_FLAG = /--max[-_]semi[-_]space[-_]size/;

/** The worker's entry file, beside this one: .js when built, .ts when run from source (then through tsx). */
export const workerEntry = (() => {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const file = path.join(path.dirname(here), `worker-main${ext}`);
  const execArgv = [...process.execArgv];
  if (ext === ".ts" && !execArgv.some((a) => a.includes("tsx"))) execArgv.push("--import", "tsx");
  return { file, execArgv };
})();
