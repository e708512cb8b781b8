/**
 * Soak: a request body costs a worker memory in proportion to its bytes, however small its chunks (issue 18).
 *
 *   node --import tsx bench/soak-body.ts [--mib 8] [--clients 3] [--chunk 1] [--paths arrayBuffer,text,…]
 *        [--max-per-byte 16] [--timeout 300] [--json]
 *
 * For each read path, a fresh `oryx APP -w 1 -b 127.0.0.1:0` (the built CLI: `npm run build` first): one small
 * warm-up request, the worker's peak RSS (VmHWM) read, then CLIENTS clients at once each POST a body of MIB MiB
 * in the chunked coding, CHUNK bytes a chunk (1: `1\r\nX\r\n` over and over, 6 bytes of wire a byte), and the
 * worker's peak RSS is read again. The app answers each body's length and SHA-256, which are checked. Prints one
 * line per path: the peak's growth, that growth per body byte sent, and the time taken. Exit 0 when every
 * response was right and every path's growth stayed under MAX-PER-BYTE bytes per body byte sent, 1 otherwise (a
 * worker killed by V8's out-of-memory counts as wrong). Measured at 3 × 8 MiB in 1-byte chunks: 120-330 bytes per
 * body byte when every chunk reached the app as a Buffer of its own (3 GiB for fetch apps, 7.7 GiB for Express);
 * 2-6 since they are gathered per read (issue 18). (Below a few MiB in all, the young generation's growth
 * alone can pass the mark: 1 × 1 MiB measured 5-23.)
 *
 * Paths: fetch apps (test/fixtures/body-sink.ts) arrayBuffer, text, json, bytes, blob, formData, reader (an app
 * keeping every chunk of request.body's reader), for-await; Node apps (test/fixtures/body-sink-express.ts)
 * express.raw, express.json, on-data (a plain req.on("data") gathering the chunks).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { childPids, memoryKiB, patternSha256, postChunked, type PostResult } from "./body-client.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist", "cli.js");
const FETCH_APP = "test/fixtures/body-sink.ts";
const NODE_APP = "test/fixtures/body-sink-express.ts";

interface ReadPath {
  app: string;
  target: string;
  prefix?: string;
  suffix?: string;
  contentType?: string;
}

const PATHS: Record<string, ReadPath> = {
  arrayBuffer: { app: FETCH_APP, target: "/?via=arrayBuffer" },
  text: { app: FETCH_APP, target: "/?via=text" },
  json: { app: FETCH_APP, target: "/?via=json", prefix: '"', suffix: '"', contentType: "application/json" },
  bytes: { app: FETCH_APP, target: "/?via=bytes" },
  blob: { app: FETCH_APP, target: "/?via=blob" },
  formData: { app: FETCH_APP, target: "/?via=formData", prefix: "a=", contentType: "application/x-www-form-urlencoded" },
  reader: { app: FETCH_APP, target: "/?via=reader" },
  "for-await": { app: FETCH_APP, target: "/?via=for-await" },
  "express.raw": { app: NODE_APP, target: "/raw" },
  "express.json": { app: NODE_APP, target: "/json", prefix: '"', suffix: '"', contentType: "application/json" },
  "on-data": { app: NODE_APP, target: "/data" },
};

const { values: v } = parseArgs({
  options: {
    mib: { type: "string", default: "8" },
    clients: { type: "string", default: "3" },
    chunk: { type: "string", default: "1" },
    paths: { type: "string", default: Object.keys(PATHS).join(",") },
    "max-per-byte": { type: "string", default: "16" },
    timeout: { type: "string", default: "300" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (v.help) {
  process.stdout.write(`usage: node --import tsx bench/soak-body.ts [--mib N] [--clients N] [--chunk BYTES] [--paths ${Object.keys(PATHS).join(",")}] [--max-per-byte B] [--timeout S] [--json]\n`);
  process.exit(0);
}
const bytes = Math.round(Number(v.mib) * 1024 * 1024);
const clients = Number(v.clients);
const chunk = Number(v.chunk);
const timeoutMs = Number(v.timeout) * 1000;
const maxPerByte = Number(v["max-per-byte"]);
const names = v.paths!.split(",").filter((n) => n !== "");
// Bounded: at most 64 MiB a body, 16 clients, 10 minutes a path.
if (!(bytes > 0 && bytes <= 64 * 1024 * 1024) || !(clients >= 1 && clients <= 16) || !(chunk >= 1) || !(timeoutMs > 0 && timeoutMs <= 600_000) || !(maxPerByte > 0)) {
  process.stderr.write("soak-body: --mib must be 0..64, --clients 1..16, --chunk ≥ 1, --max-per-byte > 0, --timeout 0..600 s\n");
  process.exit(2);
}
for (const n of names) {
  if (PATHS[n] === undefined) {
    process.stderr.write(`soak-body: no path ${n}; the paths are ${Object.keys(PATHS).join(", ")}\n`);
    process.exit(2);
  }
}

interface Figures {
  path: string;
  ok: boolean;
  /** Why not, when not. */
  problem: string;
  bodyBytes: number;
  clients: number;
  chunk: number;
  /** The worker's peak RSS after the warm-up and after the bodies, in KiB (after: 0 if it died). */
  peakBeforeKiB: number;
  peakAfterKiB: number;
  growthMiB: number;
  /** Peak growth per body byte sent (all clients together). */
  growthPerByte: number;
  seconds: number;
}

const live = new Set<number>();
const killAll = (): void => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
};
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

async function startOryx(app: string): Promise<{ proc: ChildProcess; port: number; master: number; worker: number; log: () => string }> {
  const proc = spawn(process.execPath, [CLI, app, "-w", "1", "-b", "127.0.0.1:0"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  live.add(proc.pid!);
  let log = "";
  proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no startup line in 30 s:\n${log}`)), 30_000);
    const check = (): void => {
      const found = / on http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)\)/.exec(log);
      if (found !== null) {
        clearTimeout(t);
        resolve(found);
      }
    };
    proc.stderr!.on("data", check);
    proc.once("exit", (code) => reject(new Error(`oryx exited (${code}) before its startup line:\n${log}`)));
  });
  const workers = childPids(proc.pid!);
  if (workers.length !== 1) throw new Error(`expected one worker under ${proc.pid}, found ${workers.join(", ") || "none"}`);
  live.add(workers[0]!);
  return { proc, port: Number(m[1]), master: proc.pid!, worker: workers[0]!, log: () => log };
}

async function stopOryx(proc: ChildProcess, worker: number): Promise<void> {
  const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once("exit", () => r())));
  proc.kill("SIGTERM");
  const t = setTimeout(() => {
    for (const pid of [proc.pid!, worker]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }, 10_000);
  await exited;
  clearTimeout(t);
  live.delete(proc.pid!);
  live.delete(worker);
}

function check(r: PostResult, n: number, expected: string): string {
  if (r.status === 0) return `no response (${r.error})`;
  if (r.status !== 200) return `status ${r.status}`;
  try {
    const got = JSON.parse(r.body) as { length: number; sha256: string };
    if (got.length !== n) return `length ${got.length}, sent ${n}`;
    if (got.sha256 !== expected) return "the SHA-256 differs";
    return "";
  } catch {
    return `not JSON: ${r.body.slice(0, 80)}`;
  }
}

async function measure(name: string): Promise<Figures> {
  const p = PATHS[name]!;
  const o = await startOryx(p.app);
  try {
    const post = (n: number): Promise<PostResult> =>
      postChunked({ port: o.port, target: p.target, bytes: n, chunk, prefix: p.prefix, suffix: p.suffix, contentType: p.contentType, timeoutMs });
    const warm = check(await post(4096), 4096, patternSha256(4096));
    if (warm !== "") throw new Error(`warm-up: ${warm}`);
    const before = memoryKiB(o.worker)!;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: clients }, () => post(bytes)));
    const seconds = (performance.now() - started) / 1000;
    const after = memoryKiB(o.worker);
    const expected = patternSha256(bytes);
    const problems = results.map((r) => check(r, bytes, expected)).filter((x) => x !== "");
    if (after === null) problems.unshift(`the worker died${/out of memory/i.test(o.log()) ? " (out of memory)" : ""}`);
    const growthKiB = after === null ? 0 : after.peak - before.peak;
    const perByte = (growthKiB * 1024) / (bytes * clients);
    if (perByte > maxPerByte) problems.push(`the peak grew by ${perByte.toFixed(1)} bytes per body byte (mark: ${maxPerByte})`);
    return {
      path: name,
      ok: problems.length === 0,
      problem: [...new Set(problems)].join("; "),
      bodyBytes: bytes,
      clients,
      chunk,
      peakBeforeKiB: before.peak,
      peakAfterKiB: after?.peak ?? 0,
      growthMiB: growthKiB / 1024,
      growthPerByte: perByte,
      seconds,
    };
  } finally {
    await stopOryx(o.proc, o.worker);
  }
}

if (!v.json) {
  process.stdout.write(`soak-body: ${clients} clients × ${v.mib} MiB, ${chunk}-byte chunks, -w 1; the worker's peak RSS (VmHWM) growth over a warm-up request\n`);
  process.stdout.write(`${"path".padEnd(14)} ${"peak before".padStart(12)} ${"peak growth".padStart(12)} ${"per body byte".padStart(14)} ${"time".padStart(8)}  result\n`);
}
const all: Figures[] = [];
for (const name of names) {
  let f: Figures;
  try {
    f = await measure(name);
  } catch (err) {
    f = { path: name, ok: false, problem: (err as Error).message, bodyBytes: bytes, clients, chunk, peakBeforeKiB: 0, peakAfterKiB: 0, growthMiB: 0, growthPerByte: 0, seconds: 0 };
  }
  all.push(f);
  if (!v.json) {
    const growth = f.peakAfterKiB === 0 ? "-" : `${f.growthMiB.toFixed(1)} MiB`;
    const per = f.peakAfterKiB === 0 ? "-" : `${f.growthPerByte.toFixed(2)} B`;
    process.stdout.write(
      `${name.padEnd(14)} ${`${(f.peakBeforeKiB / 1024).toFixed(1)} MiB`.padStart(12)} ${growth.padStart(12)} ${per.padStart(14)} ${`${f.seconds.toFixed(1)} s`.padStart(8)}  ${f.ok ? "ok" : f.problem}\n`,
    );
  }
}
if (v.json) process.stdout.write(`${JSON.stringify(all)}\n`);
process.exit(all.every((f) => f.ok) ? 0 : 1);
