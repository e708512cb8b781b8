/**
 * --max-semi-space: the cap oryx puts on each worker's V8 young generation. Checked on real workers by what V8
 * reports after the app keeps far more young objects alive than one semi-space holds: by default (auto) a fetch
 * app's young generation stays within two semi-spaces of the fetch apps' cap, and a Node (req, res) app's grows
 * past it, as on node:http (V8's own default, 2 × 16 MiB on 64-bit), as with 0. A user's number, or NODE_OPTIONS,
 * wins for both kinds.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { youngGeneration as flagsFor } from "../../src/arbiter/worker-spawn.ts";
import { FETCH_APP_SEMI_SPACE, SEMI_SPACE_AUTO, SETTINGS } from "../../src/config/settings.ts";
import { type CliProcess, ROOT, runCli, startCli } from "../support/cli.ts";

const APP = path.join(ROOT, "test", "fixtures", "young-generation.ts");
const NODE_APP = path.join(ROOT, "test", "fixtures", "young-generation-node.ts");

interface Seen {
  execArgv: string[];
  newSpaceMiB: number;
  kept: number;
  pid?: number;
  stderr: string;
}

async function youngGeneration(args: string[], env: NodeJS.ProcessEnv = {}, app = APP): Promise<Seen> {
  let cli: CliProcess | null = null;
  try {
    cli = await startCli([app, "-b", "127.0.0.1:0", ...args], { env });
    const res = await fetch(`${cli.url}/`);
    assert.equal(res.status, 200);
    return { ...((await res.json()) as Omit<Seen, "stderr">), stderr: cli.stderr() };
  } finally {
    if (cli !== null) {
      cli.kill("SIGTERM");
      await cli.exited;
    }
  }
}

// The fetch apps' cap, as the settings say; V8 sizes semi-spaces in powers of two.
const DEFAULT_CAP = FETCH_APP_SEMI_SPACE;
const DEFAULT_YOUNG_MIB = 2 * 2 ** Math.ceil(Math.log2(DEFAULT_CAP));

const SEMI_FLAGS = (argv: string[]): string[] => argv.filter((a) => /--max[-_]semi[-_]space[-_]size/.test(a));

const workerExecArgv = (mib: number, nodeOptions: string, nodeApp = false): string[] => flagsFor(mib, nodeApp, nodeOptions).execArgv;

test("the flags a worker gets: the cap, none for 0, none when NODE_OPTIONS sets one", () => {
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(4, "")), ["--max-semi-space-size=4"]);
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(16, "--enable-source-maps")), ["--max-semi-space-size=16"]);
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(0, "")), []);
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(4, "--max-semi-space-size=64")), []);
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(4, "--max_semi_space_size=64")), []);
  // A number is the user's, for a Node app too.
  assert.deepEqual(SEMI_FLAGS(workerExecArgv(4, "", true)), ["--max-semi-space-size=4"]);
});

test("auto, the default: the fetch apps' cap until the app is known to be a Node app, then none", () => {
  assert.equal(SETTINGS.find((s) => s.key === "maxSemiSpace")?.default, SEMI_SPACE_AUTO);
  assert.deepEqual(flagsFor(SEMI_SPACE_AUTO, false, ""), { execArgv: flagsFor(0, false, "").execArgv.concat(`--max-semi-space-size=${FETCH_APP_SEMI_SPACE}`), fetchAppCap: true });
  assert.deepEqual(SEMI_FLAGS(flagsFor(SEMI_SPACE_AUTO, true, "").execArgv), []);
  assert.equal(flagsFor(SEMI_SPACE_AUTO, true, "").fetchAppCap, false);
  // The user's NODE_OPTIONS stands: no cap of oryx's, so nothing to start again for.
  assert.deepEqual(flagsFor(SEMI_SPACE_AUTO, false, "--max-semi-space-size=2"), { execArgv: flagsFor(0, false, "").execArgv, fetchAppCap: false });
  assert.equal(flagsFor(4, false, "").fetchAppCap, false);
});

test("the fetch apps' cap is below V8's own, so it caps something", () => {
  assert.ok(Number.isInteger(DEFAULT_CAP) && DEFAULT_CAP > 0 && DEFAULT_YOUNG_MIB < 32, `default ${DEFAULT_CAP}`);
});

test("by default a worker's young generation stays within two semi-spaces of the cap while the app keeps many young objects", async () => {
  const seen = await youngGeneration([]);
  assert.equal(seen.kept, 600_000);
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), [`--max-semi-space-size=${DEFAULT_CAP}`]);
  assert.ok(seen.newSpaceMiB > 0 && seen.newSpaceMiB <= DEFAULT_YOUNG_MIB, `young generation ${seen.newSpaceMiB} MiB`);
});

test("by default a Node app's worker has V8's own young generation, as on node:http (its first worker is started again)", async () => {
  const seen = await youngGeneration(["-w", "2"], {}, NODE_APP);
  assert.equal(seen.kept, 600_000);
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), []);
  assert.ok(seen.newSpaceMiB > DEFAULT_YOUNG_MIB, `young generation ${seen.newSpaceMiB} MiB`);
  // Starting the first worker again is no failure, and says nothing at the default log level.
  assert.doesNotMatch(seen.stderr, /before it was ready|error|warning/i, seen.stderr);
});

test("a number for --max-semi-space applies to a Node app too", async () => {
  const seen = await youngGeneration(["--max-semi-space", "2"], {}, NODE_APP);
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), ["--max-semi-space-size=2"]);
  assert.ok(seen.newSpaceMiB > 0 && seen.newSpaceMiB <= 4, `young generation ${seen.newSpaceMiB} MiB`);
});

test("--max-semi-space 2 caps it lower still", async () => {
  const seen = await youngGeneration(["--max-semi-space", "2"]);
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), ["--max-semi-space-size=2"]);
  assert.ok(seen.newSpaceMiB > 0 && seen.newSpaceMiB <= 4, `young generation ${seen.newSpaceMiB} MiB`);
});

test("--max-semi-space 0 leaves V8's default, and the same app grows the young generation past the default cap", async () => {
  const seen = await youngGeneration(["--max-semi-space", "0"]);
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), []);
  assert.ok(seen.newSpaceMiB > DEFAULT_YOUNG_MIB, `young generation ${seen.newSpaceMiB} MiB`);
});

test("a --max-semi-space-size in NODE_OPTIONS is the user's choice and stands", async () => {
  const seen = await youngGeneration([], { NODE_OPTIONS: "--max-semi-space-size=1" });
  assert.deepEqual(SEMI_FLAGS(seen.execArgv), []);
  assert.ok(seen.newSpaceMiB > 0 && seen.newSpaceMiB <= 2, `young generation ${seen.newSpaceMiB} MiB`);
});

test("a bad --max-semi-space is refused with one sentence", async () => {
  const r = await runCli([APP, "--max-semi-space", "lots"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /max-semi-space/);
  assert.ok(r.stderr.trim().split("\n").length <= 2, r.stderr);
});
