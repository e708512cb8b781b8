/**
 * Soak: held connections must not starve new clients (issue 18, scenario B).
 *
 *   node --import tsx bench/soak-slowloris.ts [--mode slowloris|idle] [--sockets 2000] [--duration 30]
 *        [--trickle 3] [--probe-every 1] [--probe-timeout 5] [--json] [-- ORYX FLAGS…]
 *
 * Starts the built CLI (`npm run build` first) on 127.0.0.1:0 with examples/hello.ts and the flags after `--`
 * (none: every default), then opens SOCKETS connections, a few hundred at a time:
 *
 * - slowloris: each sends a partial request head and then one more byte of it every TRICKLE seconds, never
 *   finishing; a socket the server closes is opened again (as an attacker does), so SOCKETS stay open or opening;
 * - idle: each sends one GET / on a kept-alive connection, reads the response and then holds the connection.
 *
 * Meanwhile a fresh client (a new connection, `GET /`, `Connection: close`) probes every PROBE-EVERY seconds;
 * a probe not answered within PROBE-TIMEOUT seconds counts as unanswered. Prints: probes answered and their
 * latencies, the sockets the server held (and, in idle mode, how many were served), the worker's RSS. Everything
 * is on 127.0.0.1 and bounded: at most 20,000 sockets, at most 10 minutes.
 */
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openFilesLimit } from "./soak-clients.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist", "cli.js");

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: "string", default: "slowloris" },
    sockets: { type: "string", default: "2000" },
    duration: { type: "string", default: "30" },
    trickle: { type: "string", default: "3" },
    "probe-every": { type: "string", default: "1" },
    "probe-timeout": { type: "string", default: "5" },
    app: { type: "string", default: "examples/hello.ts" },
    json: { type: "boolean", default: false },
  },
});
const mode = v.mode === "idle" ? "idle" : "slowloris";
const want = Number(v.sockets);
const durationMs = Number(v.duration) * 1000;
const trickleMs = Number(v.trickle) * 1000;
const probeEveryMs = Number(v["probe-every"]) * 1000;
const probeTimeoutMs = Number(v["probe-timeout"]) * 1000;
if (!(want >= 1 && want <= 20_000) || !(durationMs > 0 && durationMs <= 600_000)) {
  process.stderr.write("soak-slowloris: --sockets must be 1..20000 and --duration 0..600 s\n");
  process.exit(2);
}
const nofile = openFilesLimit();
if (nofile !== null && want + 200 > nofile) {
  process.stderr.write(`soak-slowloris: this process may open ${nofile} files; ${want} sockets need more (ulimit -n)\n`);
  process.exit(2);
}

const args = [CLI, v.app!, "-b", "127.0.0.1:0", ...positionals];
const oryx = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
let log = "";
oryx.stderr!.on("data", (d: Buffer) => (log += d.toString()));
const exited = new Promise<number | null>((r) => oryx.on("exit", (code) => r(code)));
const port = await new Promise<number>((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`no startup line in 30 s:\n${log}`)), 30_000);
  const check = (): void => {
    const m = / on http:\/\/127\.0\.0\.1:(\d+) \(pid \d+\)/.exec(log);
    if (m === null) return;
    clearTimeout(t);
    resolve(Number(m[1]));
  };
  oryx.stderr!.on("data", check);
  void exited.then((code) => reject(new Error(`oryx exited (${code}) before its startup line:\n${log}`)));
});
const start = performance.now();
const deadline = start + durationMs;
const say = (line: string): void => void (v.json || process.stdout.write(`${line}\n`));
say(`soak-slowloris: ${args.slice(1).join(" ")} (port ${port}); ${want} ${mode} sockets for ${durationMs / 1000}s, a probe every ${probeEveryMs / 1000}s`);

// ─── the held sockets ───────────────────────────────────────────────────────────────────────────────────────

const held = new Set<net.Socket>();
let opened = 0;
let closedByServer = 0;
let served = 0; // idle mode: connections whose GET was answered
let answered503 = 0;
let answered408 = 0;

function openHeld(): Promise<void> {
  return new Promise((resolve) => {
    opened++;
    const s = net.connect({ host: "127.0.0.1", port });
    let settled = false;
    const settle = (): void => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    let trickle: NodeJS.Timeout | null = null;
    let got = "";
    s.on("connect", () => {
      held.add(s);
      if (mode === "slowloris") {
        s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        let n = 0;
        trickle = setInterval(() => s.write(`X-${n++}: a\r\n`), trickleMs);
        settle();
      } else {
        s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      }
    });
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (mode === "idle" && /\r\n\r\n/.test(got) && !settled) {
        served++;
        settle();
      }
    });
    const gone = (): void => {
      if (trickle !== null) clearInterval(trickle);
      if (held.delete(s) && !stopping) closedByServer++;
      if (got.startsWith("HTTP/1.1 503")) answered503++;
      if (got.startsWith("HTTP/1.1 408")) answered408++;
      settle();
      // An attacker opens a new one; an idle client does not.
      if (mode === "slowloris" && performance.now() < deadline && !stopping) void openHeld();
    };
    s.on("error", () => {});
    s.on("close", gone);
    setTimeout(settle, 10_000).unref();
  });
}

let stopping = false;
const t0 = performance.now();
for (let i = 0; i < want && performance.now() < deadline; i += 250) {
  await Promise.all(Array.from({ length: Math.min(250, want - i) }, () => openHeld()));
}
say(`  ${held.size} of ${want} sockets open after ${((performance.now() - t0) / 1000).toFixed(1)}s${mode === "idle" ? `, ${served} served` : ""}`);

// ─── probes ─────────────────────────────────────────────────────────────────────────────────────────────────

interface Probe {
  ms: number | null;
}
const probes: Probe[] = [];
function probe(): Promise<Probe> {
  return new Promise((resolve) => {
    const t = performance.now();
    const s = net.connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ms: ok ? performance.now() - t : null });
    };
    const timer = setTimeout(() => done(false), probeTimeoutMs);
    s.on("connect", () => s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (/^HTTP\/1\.1 200 [^]*\r\n\r\n/.test(got)) done(true);
    });
    s.on("error", () => done(false));
    s.on("close", () => done(/^HTTP\/1\.1 200/.test(got)));
  });
}
const pending: Array<Promise<void>> = [];
const probeStart = performance.now();
let minHeld = held.size;
let maxHeld = held.size;
while (performance.now() < deadline) {
  pending.push(probe().then((p) => void probes.push(p)));
  await new Promise((r) => setTimeout(r, probeEveryMs));
  minHeld = Math.min(minHeld, held.size);
  maxHeld = Math.max(maxHeld, held.size);
}
await Promise.all(pending);
stopping = true;
const workerRss = workerRssKiB(oryx.pid!);
const heldAtEnd = held.size;
for (const s of held) s.destroy();
process.kill(oryx.pid!, "SIGTERM");
const killer = setTimeout(() => process.kill(oryx.pid!, "SIGKILL"), 40_000);
await exited;
clearTimeout(killer);

const times = probes.filter((p) => p.ms !== null).map((p) => p.ms!).sort((a, b) => a - b);
const q = (f: number): number => (times.length === 0 ? NaN : Math.round(times[Math.min(times.length - 1, Math.floor(f * times.length))]!));
const figures = {
  mode,
  flags: positionals,
  sockets: want,
  opened,
  heldAfterOpening: maxHeld,
  heldMin: minHeld,
  heldAtEnd,
  closedByServer,
  answered503,
  answered408,
  served: mode === "idle" ? served : null,
  probes: probes.length,
  probesAnswered: times.length,
  probeP50Ms: q(0.5),
  probeMaxMs: times.length === 0 ? NaN : Math.round(times[times.length - 1]!),
  probeSeconds: Math.round((performance.now() - probeStart) / 1000),
  workerRssKiB: workerRss,
};
if (v.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
else {
  say(`probes     ${figures.probesAnswered} of ${figures.probes} answered within ${probeTimeoutMs / 1000}s; p50 ${figures.probeP50Ms} ms, slowest ${figures.probeMaxMs} ms`);
  say(`sockets    ${figures.opened} opened; held between ${figures.heldMin} and ${figures.heldAfterOpening} while probing, ${figures.heldAtEnd} at the end; ${figures.closedByServer} closed by the server (${figures.answered503} with 503, ${figures.answered408} with 408)${mode === "idle" ? `; ${served} served` : ""}`);
  say(`worker     RSS ${workerRss.map((k) => `${(k / 1024).toFixed(1)} MiB`).join(", ")}`);
}
process.exit(0);


/** The RSS of each worker (the master's children), in KiB. */
function workerRssKiB(master: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== master) continue;
      out.push(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0));
    } catch {
      // gone
    }
  }
  return out;
}
