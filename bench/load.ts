/**
 * Load runs: wrk (the main tables) and `oryx bench` (next to wrk's on GET /), each pinned with taskset, bounded
 * in time, against 127.0.0.1 only. wrk reports through a Lua `done()` that prints one JSON line (exact
 * microsecond percentiles instead of wrk's rounded text); `oryx bench` through --json.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCommand } from "./procs.ts";

export type Tool = "wrk" | "oryx-bench";

/** One kind of load: what to request and how. */
export interface LoadSpec {
  method: "GET" | "POST";
  path: string;
  /** POST body size in bytes. */
  bodyBytes: number;
  /** Requests sent per write (1 = no pipelining). */
  pipelining: number;
  connections: number;
}

export interface LoadResult {
  tool: Tool;
  requestsPerSecond: number;
  p50us: number;
  p99us: number;
  responses: number;
  /** Socket errors, timeouts and non-2xx/3xx responses. */
  errors: number;
  /** A short note when something went wrong. */
  note: string | null;
}

/** Temp files (Lua scripts, request bodies) live here and go at exit. */
const scratch = mkdtempSync(path.join(tmpdir(), "oryx-bench-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50":%.0f,"p99":%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** The Lua script for a load: the request (POST body, or a batch of `depth` requests per write), then done(). */
export function wrkScript(spec: LoadSpec): string {
  const parts: string[] = [];
  if (spec.method === "POST") {
    parts.push(`wrk.method = "POST"`, `wrk.body = string.rep("a", ${spec.bodyBytes})`, `wrk.headers["Content-Type"] = "application/octet-stream"`);
  }
  if (spec.pipelining > 1) {
    parts.push(
      `-- pipelining: ${spec.pipelining} requests per write (wrk counts each response)`,
      `init = function(args)`,
      `  local r = {}`,
      `  for i = 1, ${spec.pipelining} do r[i] = wrk.format(nil, "${spec.path}") end`,
      `  batch = table.concat(r)`,
      `end`,
      `request = function() return batch end`,
    );
  }
  return `${parts.join("\n")}\n${DONE_LUA}`;
}

let scripts = 0;

export function wrkArgs(spec: LoadSpec, url: string, seconds: number, scriptFile: string): string[] {
  return ["-t1", `-c${spec.connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", scriptFile, url];
}

/** wrk -t1 -cN -dDs under `taskset -c cpus` (or unpinned when cpus is null). */
export async function runWrk(spec: LoadSpec, port: number, seconds: number, cpus: string | null): Promise<LoadResult> {
  const scriptFile = path.join(scratch, `wrk-${++scripts}.lua`);
  writeFileSync(scriptFile, wrkScript(spec));
  const url = `http://127.0.0.1:${port}${spec.path}`;
  const args = wrkArgs(spec, url, seconds, scriptFile);
  const [cmd, argv] = cpus === null ? ["wrk", args] : ["taskset", ["-c", cpus, "wrk", ...args]];
  const r = await runCommand(cmd, argv, { timeoutMs: (seconds + 30) * 1000 });
  rmSync(scriptFile, { force: true });
  const line = r.stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (line === undefined) return failed("wrk", r.timedOut ? "wrk timed out" : `wrk failed (exit ${r.code}): ${lastLine(r.stderr || r.stdout)}`);
  const j = JSON.parse(line.slice(8)) as Record<string, number>;
  const secs = j.duration_us! / 1e6;
  const errors = j.connect! + j.read! + j.write! + j.status! + j.timeout!;
  return {
    tool: "wrk",
    requestsPerSecond: secs > 0 ? j.requests! / secs : 0,
    p50us: j.p50!,
    p99us: j.p99!,
    responses: j.requests!,
    errors,
    note: errors > 0 ? `errors: connect ${j.connect}, read ${j.read}, write ${j.write}, timeout ${j.timeout}, non-2xx/3xx ${j.status}` : null,
  };
}

export function oryxBenchArgs(spec: LoadSpec, url: string, seconds: number, bodyFile: string | null): string[] {
  const args = ["dist/cli.js", "bench", url, "-c", String(spec.connections), "-d", String(seconds), "--json"];
  if (spec.pipelining > 1) args.push("-p", String(spec.pipelining));
  if (spec.method === "POST") args.push("-m", "POST", "-H", "content-type: application/octet-stream", "--body-file", bodyFile!);
  return args;
}

/** `node dist/cli.js bench URL -c N -d D --json` under `taskset -c cpus` (or unpinned). */
export async function runOryxBench(spec: LoadSpec, port: number, seconds: number, cpus: string | null): Promise<LoadResult> {
  let bodyFile: string | null = null;
  if (spec.method === "POST") {
    bodyFile = path.join(scratch, `body-${spec.bodyBytes}`);
    writeFileSync(bodyFile, Buffer.alloc(spec.bodyBytes, 0x61));
  }
  const args = [process.execPath, ...oryxBenchArgs(spec, `http://127.0.0.1:${port}${spec.path}`, seconds, bodyFile)];
  const [cmd, argv] = cpus === null ? [args[0]!, args.slice(1)] : ["taskset", ["-c", cpus, ...args]];
  const r = await runCommand(cmd, argv, { timeoutMs: (seconds + 30) * 1000 });
  let j: OryxBenchJson;
  try {
    j = JSON.parse(r.stdout) as OryxBenchJson;
  } catch {
    return failed("oryx-bench", r.timedOut ? "oryx bench timed out" : `oryx bench failed (exit ${r.code}): ${lastLine(r.stderr || r.stdout)}`);
  }
  const bad = Object.entries(j.status)
    .filter(([s]) => !/^[23]/.test(s))
    .reduce((n, [, k]) => n + k, 0);
  const errors = j.requests.errors + bad;
  return {
    tool: "oryx-bench",
    requestsPerSecond: j.requestsPerSecond,
    p50us: j.latencyMicroseconds.p50,
    p99us: j.latencyMicroseconds.p99,
    responses: j.requests.responses,
    errors,
    note: errors > 0 ? `errors: ${JSON.stringify(j.errors)}, non-2xx/3xx ${bad}${j.otherError !== null ? ` (${j.otherError})` : ""}` : null,
  };
}

/** The part of `oryx bench --json` read here (src/bench/report.ts has the whole shape). */
interface OryxBenchJson {
  requestsPerSecond: number;
  requests: { responses: number; errors: number };
  latencyMicroseconds: { p50: number; p99: number };
  status: Record<string, number>;
  errors: Record<string, number>;
  otherError: string | null;
}

export function runLoad(tool: Tool, spec: LoadSpec, port: number, seconds: number, cpus: string | null): Promise<LoadResult> {
  return tool === "wrk" ? runWrk(spec, port, seconds, cpus) : runOryxBench(spec, port, seconds, cpus);
}

function failed(tool: Tool, note: string): LoadResult {
  return { tool, requestsPerSecond: 0, p50us: 0, p99us: 0, responses: 0, errors: 1, note };
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}
