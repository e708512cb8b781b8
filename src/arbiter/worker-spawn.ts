/** How the master starts a worker process: its entry file and its node flags. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FETCH_APP_SEMI_SPACE, SEMI_SPACE_AUTO } from "../config/settings.ts";

/** A worker's node flags, and whether its young-generation cap is `auto`'s choice for a fetch app. */
export interface WorkerFlags {
  execArgv: string[];
  /**
   * The cap is FETCH_APP_SEMI_SPACE because the setting is `auto` and the app's kind was not known to be Node:
   * a worker that finds a Node app asks to be started again without it (worker.ts, master.ts).
   */
  fetchAppCap: boolean;
}

/**
 * A worker's node flags: the master's own, plus the young-generation cap. `maxSemiSpace` is the setting: a
 * number of MiB (0: none, V8's own), or SEMI_SPACE_AUTO: FETCH_APP_SEMI_SPACE for a fetch app, none for a Node
 * (req, res) app, which allocates per request as it does on node:http and there gets V8's own young generation
 * (capped at 8 MiB, Express served about 10 % less than on node:http, with a p99 eight times as long). A cap the
 * user already chose (in NODE_OPTIONS or on node's command line) stands.
 */
export function youngGeneration(maxSemiSpace: number, nodeApp: boolean, nodeOptions = process.env.NODE_OPTIONS ?? ""): WorkerFlags {
  const own = workerEntry.execArgv;
  const auto = maxSemiSpace === SEMI_SPACE_AUTO;
  const mib = auto ? (nodeApp ? 0 : FETCH_APP_SEMI_SPACE) : maxSemiSpace;
  if (mib <= 0 || SEMI_SPACE_FLAG.test(nodeOptions) || own.some((a) => SEMI_SPACE_FLAG.test(a))) return { execArgv: own, fetchAppCap: false };
  return { execArgv: [...own, `--max-semi-space-size=${mib}`], fetchAppCap: auto };
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
