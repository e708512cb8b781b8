/**
 * `npm run bench` (node --import tsx bench/run.ts): the side-by-side benchmark suite (issues 5 and 19).
 *
 *   npm run bench                 full run: 5 interleaved rounds, writes bench/RESULTS.md
 *   npm run bench -- --quick      smoke run: 1 round of 2 s, report in /tmp
 *   npm run bench -- --help       every option
 *
 * Phases: the main scenarios (every server running, pinned to CPU 0; wrk/oryx bench on CPU 1), the workers
 * scenario (oryx -w 1 vs -w 2 on both cores), the idle-connection scenario (a fresh server per round and
 * peer), the WebSocket scenario (bench/ws-scenario.ts). Every server runs at its defaults. Progress goes to stderr; the Markdown report to stdout and to a file.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ALL_SCENARIOS, HELP, isFullRun, parseArgs, UsageError, type Options } from "./args.ts";
import { keepAliveWindowMs } from "./defaults.ts";
import { runIdle } from "./idle.ts";
import { checkTaskset, ensureDist, ensureWrk, hardNofile, loadAverage, machineFacts } from "./machine.ts";
import { runPhase } from "./phase.ts";
import { installCleanup, killAllNow } from "./procs.ts";
import { buildReport, type RunData } from "./report.ts";
import { IDLE_PEERS, MAIN_SCENARIOS, measuresOf, WORKERS_SCENARIO } from "./scenarios.ts";
import { calibrate, spin } from "./servers/common.mjs";
import { median } from "./stats.ts";
import { runWs } from "./ws-scenario.ts";

const FULL_REPORT = "bench/RESULTS.md";
const OTHER_REPORT = "/tmp/oryx-bench-RESULTS.md";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  process.chdir(fileURLToPath(new URL("..", import.meta.url)));
  installCleanup();

  // Preflight: the tools, two CPUs, dist/, the open-file limit.
  for (const problem of [ensureWrk(log), checkTaskset()]) {
    if (problem !== null) {
      log(`bench: ${problem}`);
      return 1;
    }
  }
  const warnings: string[] = [];
  const machine = machineFacts();
  if (machine.nproc < 2) {
    log("bench: this suite pins servers to CPU 0 and the load to CPU 1: it needs at least 2 CPUs.");
    return 1;
  }
  if (machine.nproc > 2) warnings.push(`this machine has ${machine.nproc} CPUs; the suite uses CPUs 0 and 1 only.`);
  const stale = ensureDist(opts.build, log);
  if (stale !== null) {
    warnings.push(stale);
    log(`bench: warning: ${stale}`);
  }
  const hard = hardNofile();
  const nofile = Math.min(hard, Math.max(20_000, opts.idle + 1000));
  const idleCount = Math.min(opts.idle, nofile - 500);
  if (idleCount < opts.idle) {
    const w = `the open-file hard limit is ${hard}: the idle scenario opens ${idleCount} connections instead of ${opts.idle}.`;
    warnings.push(w);
    log(`bench: warning: ${w}`);
  }

  // /cpu's work, the same for every server.
  const cpuIters = calibrate(1);
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    spin(cpuIters);
    times.push(performance.now() - t);
  }
  const cpuMs = median(times) ?? 1;
  const env = { CPU_ITERS: String(cpuIters) };
  log(`/cpu: ${cpuIters} iterations ≈ ${cpuMs.toFixed(2)} ms`);

  const only = new Set(opts.only ?? ALL_SCENARIOS);
  const mainScenarios = MAIN_SCENARIOS.filter((s) => only.has(s.id));
  const startedAt = new Date();
  const common = { rounds: opts.rounds, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds, env, nofile, log };

  const mainResult = mainScenarios.length > 0 ? await runPhase({ ...common, measures: measuresOf(mainScenarios), loadCpus: "1" }) : null;
  const workers = only.has("workers") ? await runPhase({ ...common, measures: measuresOf([WORKERS_SCENARIO]), loadCpus: null }) : null;
  const keepAliveMs = keepAliveWindowMs();
  const idle = only.has("idle") ? { ...(await runIdle({ ...common, count: idleCount, peers: IDLE_PEERS, keepAliveMs })), peers: IDLE_PEERS, keepAliveMs } : null;
  const ws = only.has("ws") ? await runWs(common) : null;

  const full = isFullRun(opts);
  const data: RunData = {
    opts,
    full,
    startedAt,
    finishedAt: new Date(),
    machine,
    loadAverageEnd: loadAverage(),
    cpuIters,
    cpuMs,
    nofile,
    idleCount,
    mainScenarios,
    main: mainResult,
    workersScenario: workers !== null ? WORKERS_SCENARIO : null,
    workers,
    idle,
    ws,
    warnings,
  };
  const report = buildReport(data);
  process.stdout.write(report);
  const file = full ? FULL_REPORT : opts.quick ? OTHER_REPORT.replace(".md", ".quick.md") : OTHER_REPORT;
  writeFileSync(file, report);
  log(`\nreport written to ${file}${full ? "" : " (only a full run writes bench/RESULTS.md)"}`);
  return 0;
}

main(process.argv.slice(2))
  .then((code) => {
    killAllNow();
    process.exit(code);
  })
  .catch((err: unknown) => {
    log(`bench: ${(err as Error).stack ?? String(err)}`);
    killAllNow();
    process.exit(1);
  });
