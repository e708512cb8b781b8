/**
 * Soak: workers stopping under load must lose no request (issue 18, scenario A).
 *
 *   node --import tsx bench/soak-stops.ts [--duration 60] [--clients 50] [--workers 2] [--reloads 6]
 *        [--max-requests 20000] [--jitter 2000] [--scale 2] [--app examples/echo.ts] [--body 64] [--json]
 *
 * Starts the built CLI (`npm run build` first) with `-w WORKERS --max-requests N --max-requests-jitter J` on
 * 127.0.0.1:0 and runs CLIENTS non-retrying keep-alive clients POSTing back to back (bench/soak-clients.ts) for
 * DURATION seconds, while it sends the master SIGHUP RELOADS times, evenly spread, and SCALE pairs of SIGTTIN and
 * SIGTTOU (one worker more, then the oldest stops), and workers also retire by --max-requests. Then it stops
 * oryx with SIGTERM and prints the figures: requests, failures by kind (with the first few, timed), worker
 * stops by cause, and how long the master took to exit. Exit 0 when no request failed, 1 otherwise.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { failures, runClients, summary } from "./soak-clients.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist", "cli.js");

const { values: v } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    clients: { type: "string", default: "50" },
    workers: { type: "string", default: "2" },
    reloads: { type: "string", default: "6" },
    scale: { type: "string", default: "2" },
    "max-requests": { type: "string", default: "20000" },
    jitter: { type: "string", default: "2000" },
    requests: { type: "string", default: "100000000" },
    app: { type: "string", default: "examples/echo.ts" },
    body: { type: "string", default: "64" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (v.help) {
  process.stdout.write("usage: node --import tsx bench/soak-stops.ts [--duration S] [--clients N] [--workers N] [--reloads N] [--scale N] [--max-requests N] [--jitter N] [--requests N] [--app FILE] [--body BYTES] [--json]\n");
  process.exit(0);
}
const durationMs = Number(v.duration) * 1000;
const clients = Number(v.clients);
const reloads = Number(v.reloads);
const scale = Number(v.scale);
// Bounded: at most an hour, at most 1,000 clients.
if (!(durationMs > 0 && durationMs <= 3_600_000) || !(clients >= 1 && clients <= 1000)) {
  process.stderr.write("soak-stops: --duration must be 0..3600 s and --clients 1..1000\n");
  process.exit(2);
}

const args = [CLI, v.app!, "-w", v.workers!, "-b", "127.0.0.1:0", "--max-requests", v["max-requests"]!, "--max-requests-jitter", v.jitter!];
const oryx = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
let log = "";
oryx.stderr!.on("data", (d: Buffer) => (log += d.toString()));
const exited = new Promise<number | null>((r) => oryx.on("exit", (code) => r(code)));
const startup = await new Promise<RegExpExecArray>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`no startup line in 30 s:\n${log}`)), 30_000);
  const check = (): void => {
    const m = / on http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)\)/.exec(log);
    if (m !== null) {
      clearTimeout(t);
      oryx.stderr!.off("data", check);
      resolve(m);
    }
  };
  oryx.stderr!.on("data", check);
  void exited.then((code) => reject(new Error(`oryx exited (${code}) before its startup line:\n${log}`)));
});
const port = Number(startup[1]);
const master = Number(startup[2]);
if (!v.json) process.stdout.write(`soak-stops: ${args.slice(1).join(" ")} (port ${port}, master ${master}); ${clients} clients for ${durationMs / 1000}s, ${reloads} SIGHUP, ${scale} TTIN/TTOU pairs\n`);

const run = runClients({ port, clients, requests: Number(v.requests), durationMs, body: Buffer.alloc(Number(v.body), "x") });

// Signals, evenly spread over the run: SIGHUPs, and TTIN/TTOU pairs (TTOU half a slot after its TTIN).
const events: Array<{ at: number; sig: NodeJS.Signals }> = [];
for (let i = 1; i <= reloads; i++) events.push({ at: (durationMs * i) / (reloads + 1), sig: "SIGHUP" });
for (let i = 1; i <= scale; i++) {
  const at = (durationMs * (i - 0.5)) / (scale + 0.5);
  events.push({ at, sig: "SIGTTIN" }, { at: at + durationMs / (scale + 0.5) / 2, sig: "SIGTTOU" });
}
const t0 = performance.now();
const timers = events.map((e) => setTimeout(() => oryx.exitCode === null && process.kill(master, e.sig), e.at));
const ticker = v.json
  ? null
  : setInterval(() => process.stdout.write(`  ${((performance.now() - t0) / 1000).toFixed(0)}s: ${summary(run.tally)}\n`), 10_000);

const tally = await run.done;
for (const t of timers) clearTimeout(t);
if (ticker !== null) clearInterval(ticker);
const elapsed = (performance.now() - t0) / 1000;

const stopAt = performance.now();
process.kill(master, "SIGTERM");
const killer = setTimeout(() => process.kill(master, "SIGKILL"), 60_000);
const code = await exited;
clearTimeout(killer);
const stopMs = performance.now() - stopAt;

const count = (re: RegExp): number => (log.match(re) ?? []).length;
const figures = {
  seconds: Number(elapsed.toFixed(1)),
  clients,
  sent: tally.sent,
  ok: tally.ok,
  failed: failures(tally),
  byKind: { reset: tally.reset, unanswered: tally.unanswered, status: tally.status, timeout: tally.timeout, malformed: tally.malformed, other: tally.other },
  requestsPerSecond: Math.round(tally.ok / elapsed),
  connections: tally.connections,
  closeResponses: tally.closeResponses,
  idleClosed: tally.idleClosed,
  slowestMs: Math.round(tally.maxLatencyMs),
  stops: {
    reload: count(/stopping old worker \d+ \(reload\)/g),
    maxRequests: count(/stopping worker \d+ \(--max-requests/g),
    ttou: count(/stopping worker \d+ \(\d+ wanted\)/g),
    unexpectedExits: count(/starting a replacement/g),
    killed: count(/did not stop in time/g),
  },
  masterExit: code,
  masterStopMs: Math.round(stopMs),
  errorLines: log.split("\n").filter((l) => /\[(ERROR|CRITICAL)\]/.test(l)).length,
  firstFailures: tally.examples,
};
if (v.json) {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  const f = figures;
  process.stdout.write(
    [
      `requests   ${f.sent} sent, ${f.ok} ok, ${f.failed} failed in ${f.seconds}s (${f.requestsPerSecond} ok/s)`,
      `failures   reset ${f.byKind.reset}, closed unanswered ${f.byKind.unanswered}, non-2xx ${f.byKind.status}, timeout ${f.byKind.timeout}, malformed ${f.byKind.malformed}, other ${f.byKind.other}`,
      `clients    ${f.connections} connections opened, ${f.closeResponses} Connection: close responses, ${f.idleClosed} closed while idle; slowest response ${f.slowestMs} ms`,
      `stops      ${f.stops.reload} by reload, ${f.stops.maxRequests} by --max-requests, ${f.stops.ttou} by TTOU; ${f.stops.unexpectedExits} unexpected exits, ${f.stops.killed} killed at the stop deadline`,
      `oryx       SIGTERM → exit ${f.masterExit} in ${f.masterStopMs} ms; ${f.errorLines} error lines in its log`,
      ...(f.firstFailures.length > 0 ? ["first failures:", ...f.firstFailures.map((e) => `  ${e}`)] : []),
      "",
    ].join("\n"),
  );
}
process.exit(figures.failed === 0 ? 0 : 1);
