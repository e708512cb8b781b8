/**
 * A/B of Express on node:http, on oryx (-w 1, defaults) and on oryx with its screen off (no-screen.mjs), issue
 * 16. Each round starts each server pinned to core 0, warms it, then runs `wrk -t1 -c50 -d4s` pinned to core 1
 * and reads the CPU time of the server's whole process tree (/proc utime+stime) around the run; the variants
 * alternate, round after round. Prints per-round numbers and the medians of per-round ratios to node:http.
 *
 *   npm run build && node --import tsx bench/node-ab/run.ts [rounds=5] [path=/] [seconds=4] [pipeline=1]
 *
 * `pipeline` N > 1 sends N requests per write (wrk with a Lua script; wrk counts each response).
 *
 * With AB_BASE=DIR (a build of another commit: `git archive C | tar -x -C DIR`, node_modules linked, then
 * `tsc -p tsconfig.build.json` there) a fourth variant, "base", runs DIR/dist/cli.js in the same rounds.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { median } from "../stats.ts";
import { freePort, installCleanup, runCommand, startServer, treeCpuSeconds, type ServerSpec } from "../procs.ts";

const rounds = Number(process.argv[2] ?? 5);
const urlPath = process.argv[3] ?? "/";
const seconds = Number(process.argv[4] ?? 4);
const pipeline = Number(process.argv[5] ?? 1);
const script = pipeline > 1 ? pipelineScript(pipeline) : null;

function pipelineScript(depth: number): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "node-ab-")), "pipeline.lua");
  writeFileSync(file, `init = function(args)\n  local r = {}\n  for i = 1, ${depth} do r[i] = wrk.format(nil, "${urlPath}") end\n  batch = table.concat(r)\nend\nrequest = function() return batch end\n`);
  return file;
}

type Variant = "node" | "oryx" | "noscreen" | "base";
const BASE = process.env.AB_BASE;
const VARIANTS: Variant[] = BASE === undefined ? ["node", "oryx", "noscreen"] : ["node", "oryx", "noscreen", "base"];

function spec(v: Variant, port: number): ServerSpec {
  const cli = v === "base" ? path.join(BASE!, "dist/cli.js") : "dist/cli.js";
  const oryx = [process.execPath, cli, "bench/servers/express-app.mjs", "-b", `127.0.0.1:${port}`, "-w", "1"];
  if (v === "node") return { argv: [process.execPath, "bench/servers/express.mjs"], env: {}, cpus: "0", nofile: 4096, oryx: false };
  const env: Record<string, string> = v === "noscreen" ? { NODE_OPTIONS: `--import=${path.resolve("bench/node-ab/no-screen.mjs")}` } : {};
  return { argv: oryx, env, cpus: "0", nofile: 4096, oryx: true };
}

/** Requests wrk completed in `secs` (timeouts are counted on stderr: on a noisy machine a round may have some). */
async function wrk(port: number, secs: number): Promise<number> {
  const args = ["-c", "1", "wrk", "-t1", "-c50", `-d${secs}s`, ...(script === null ? [] : ["-s", script]), `http://127.0.0.1:${port}${urlPath}`];
  const r = await runCommand("taskset", args, { timeoutMs: (secs + 10) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const total = /(\d+) requests in/.exec(r.stdout);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
  if (m === null || total === null || /Non-2xx/.test(r.stdout) || (errors !== null && errors.slice(1, 4).some((n) => n !== "0"))) {
    throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  }
  if (errors !== null) process.stderr.write(`(wrk: ${errors[4]} timeouts)\n`);
  return Number(total[1]);
}

async function one(v: Variant): Promise<{ rps: number; cpuUs: number }> {
  const port = await freePort();
  const server = await startServer(spec(v, port), port);
  try {
    await wrk(port, 2);
    const t0 = treeCpuSeconds(server.pid);
    const w0 = performance.now();
    const n = await wrk(port, seconds);
    const wall = (performance.now() - w0) / 1000;
    const t1 = treeCpuSeconds(server.pid);
    return { rps: n / wall, cpuUs: ((t1 - t0) * 1e6) / n };
  } finally {
    await server.stop();
  }
}

installCleanup();
const results: Record<Variant, Array<{ rps: number; cpuUs: number }>> = { node: [], oryx: [], noscreen: [], base: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
  for (const v of order) {
    const x = await one(v);
    results[v].push(x);
    console.log(`round ${r + 1} ${v.padEnd(8)} ${x.rps.toFixed(0).padStart(6)} req/s  ${x.cpuUs.toFixed(1).padStart(6)} µs CPU/req`);
  }
}
for (const v of VARIANTS) {
  if (v === "node") continue;
  const rps = median(results[v].map((x, i) => x.rps / results.node[i]!.rps))!;
  const cpu = median(results[v].map((x, i) => x.cpuUs / results.node[i]!.cpuUs))!;
  console.log(`${v}: median req/s ratio to node:http ${rps.toFixed(3)}, median CPU/req ratio ${cpu.toFixed(3)} (node:http median ${median(results.node.map((x) => x.cpuUs))!.toFixed(1)} µs, ${v} ${median(results[v].map((x) => x.cpuUs))!.toFixed(1)} µs)`);
}
if (BASE !== undefined) {
  const cpu = median(results.oryx.map((x, i) => x.cpuUs / results.base[i]!.cpuUs))!;
  console.log(`oryx against base: median CPU/req ratio ${cpu.toFixed(3)}`);
}
