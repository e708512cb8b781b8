/**
 * Child processes: every one the suite starts is registered here and killed by pid at the end, on an error,
 * and on Ctrl-C. Servers are started through `bash -c 'ulimit -n N && exec taskset -c CPUS node …'` (or `bun …`;
 * bash and taskset exec, so the pid we hold is the server's own); an oryx master's workers are found by their
 * parent pid. A server's RSS is summed over its whole process tree (itself and every descendant).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";

const live = new Set<ChildProcess>();
/** oryx workers seen while their master ran (killed too, if they outlive it). */
const workerPids = new Set<number>();

export function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
}

/** Kills every registered process and every known oryx worker at once (SIGKILL). Synchronous: usable on exit. */
export function killAllNow(): void {
  for (const proc of live) {
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      for (const w of childPids(proc.pid)) workerPids.add(w);
      killPid(proc.pid);
    }
  }
  for (const pid of workerPids) if (isOryxWorker(pid)) killPid(pid);
  workerPids.clear();
}

function killPid(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Installs the handlers that clean up on Ctrl-C, SIGTERM, an uncaught error and any exit. */
export function installCleanup(): void {
  process.on("exit", killAllNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping every server and load generator\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

// ─── /proc ────────────────────────────────────────────────────────────────────────────────────────────────────

/** Every process's parent: pid → ppid (from /proc/<pid>/stat). */
function parentMap(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so parse after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(name), Number(fields[1]));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Pids whose parent is `ppid`. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const [pid, parent] of parentMap()) if (parent === ppid) out.push(pid);
  return out;
}

/** `root` and every descendant of it (children, their children, …), root first. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parentMap()) {
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [pid]);
    else list.push(pid);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU time (user + system) of a process tree, seconds: the sum of /proc/PID/stat's utime and stime. */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of treePids(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited while we looked
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** VmRSS summed over `root` and its descendants, in KiB, with the number of processes; null if root is gone. */
export function treeRssKiB(root: number): { kib: number; processes: number } | null {
  let kib = 0;
  let processes = 0;
  for (const pid of treePids(root)) {
    const r = rssKiB(pid);
    if (r === null) {
      if (pid === root) return null;
      continue; // a descendant that exited while we looked
    }
    kib += r;
    processes++;
  }
  return { kib, processes };
}

/**
 * The memory of `root`'s whole process tree with every page counted once, in KiB; null if root is gone. Summed
 * VmRSS counts a page each process maps once per process: the node binary's text (about 35 MiB resident, mapped by
 * an oryx master and its worker alike) counts twice for two processes, although the machine holds it once. Here
 * each process's private pages (Private_Clean + Private_Dirty in /proc/PID/smaps) are summed, and the shared
 * pages of a file mapping (Shared_Clean + Shared_Dirty) are counted once for the tree: the largest of any of its
 * processes, by file (device, inode) and offset. (A page shared with a process outside the tree is counted
 * whole; two processes of the tree holding different pages of one mapping are counted as the larger.)
 */
export function treeMemoryKiB(root: number): number | null {
  let privateKiB = 0;
  const sharedByMapping = new Map<string, number>();
  let seenRoot = false;
  for (const pid of treePids(root)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    if (pid === root) seenRoot = true;
    let key = "";
    let shared = 0;
    const flush = (): void => {
      if (key !== "" && shared > 0) sharedByMapping.set(key, Math.max(sharedByMapping.get(key) ?? 0, shared));
      else privateKiB += shared; // shared anonymous memory has no file to tell it by: counted per process
      shared = 0;
    };
    for (const line of text.split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ ([0-9a-f]+) (\S+) (\d+)/.exec(line);
      if (head !== null) {
        flush();
        key = head[3] === "0" ? "" : `${head[2]}:${head[3]}:${head[1]}`;
        continue;
      }
      const field = /^(Private_Clean|Private_Dirty|Shared_Clean|Shared_Dirty):\s+(\d+) kB/.exec(line);
      if (field === null) continue;
      if (field[1]!.startsWith("Private")) privateKiB += Number(field[2]);
      else shared += Number(field[2]);
    }
    flush();
  }
  if (!seenRoot) return null;
  let sharedKiB = 0;
  for (const v of sharedByMapping.values()) sharedKiB += v;
  return privateKiB + sharedKiB;
}

function isOryxWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker-main");
  } catch {
    return false;
  }
}

/** VmRSS of a process in KiB, or null if it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

// ─── servers ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface ServerSpec {
  /** The command: the executable (`process.execPath` for node, or node_modules/.bin/bun) and its arguments. */
  argv: string[];
  env: Record<string, string>;
  /** taskset's CPU list, e.g. "0" or "0,1". */
  cpus: string;
  /** ulimit -n for the server. */
  nofile: number;
  /** An oryx master: the processes that serve are its workers. */
  oryx: boolean;
}

export class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export class Server {
  readonly pid: number;
  private tail = "";
  private exited = false;

  constructor(
    readonly spec: ServerSpec,
    readonly port: number,
    private readonly proc: ChildProcess,
  ) {
    this.pid = proc.pid!;
    const keep = (chunk: Buffer): void => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-4000);
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    proc.once("exit", () => (this.exited = true));
  }

  /** The last few KiB the server wrote (stdout and stderr). */
  get output(): string {
    return this.tail;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The pids that serve requests: the process itself, or an oryx master's workers. */
  servingPids(): number[] {
    if (!this.spec.oryx) return [this.pid];
    const workers = childPids(this.pid);
    for (const w of workers) workerPids.add(w);
    return workers;
  }

  /**
   * RSS of the whole process tree (the process and every descendant: an oryx master and its workers), summed
   * VmRSS in KiB; null if the process is gone, or if it is an oryx master without a worker.
   */
  rssKiB(): number | null {
    if (this.spec.oryx && this.servingPids().length === 0) return null;
    return treeRssKiB(this.pid)?.kib ?? null;
  }

  /** The whole process tree's memory with every page counted once (treeMemoryKiB); null as for rssKiB(). */
  memoryKiB(): number | null {
    if (this.spec.oryx && this.servingPids().length === 0) return null;
    return treeMemoryKiB(this.pid);
  }

  /** SIGTERM, then SIGKILL after `graceMs` (and an oryx master's workers, by pid). */
  async stop(graceMs = 3000): Promise<void> {
    const workers = this.spec.oryx ? this.servingPids() : [];
    if (!this.exited) {
      killPid(this.pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (!this.exited && Date.now() < deadline) await sleep(50);
      if (!this.exited) killPid(this.pid, "SIGKILL");
      while (!this.exited) await sleep(20);
    }
    for (const w of workers) {
      if (isOryxWorker(w)) {
        await sleep(200);
        if (isOryxWorker(w)) killPid(w, "SIGKILL");
      }
      workerPids.delete(w);
    }
  }
}

/** Starts a server on 127.0.0.1:`port` and waits until GET / answers 200 (or the process exits). */
export async function startServer(spec: ServerSpec, port: number, timeoutMs = 60_000): Promise<Server> {
  const proc = spawn(
    "bash",
    ["-c", 'ulimit -n "$1" && shift && exec "$@"', "bash", String(spec.nofile), "taskset", "-c", spec.cpus, ...spec.argv],
    { env: { ...process.env, ...spec.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] },
  );
  if (proc.pid === undefined) throw new StartError("could not start the process", null, "");
  track(proc);
  const server = new Server(spec, port, proc);
  const exit = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.running) {
      const code = await exit;
      throw new StartError(`exited with code ${code} before answering`, code, server.output);
    }
    const res = await get(port, "/").catch(() => null);
    if (res !== null && res.status === 200 && (!spec.oryx || server.servingPids().length > 0)) return server;
    await sleep(100);
  }
  await server.stop();
  throw new StartError(`did not answer GET / within ${timeoutMs / 1000} s`, null, server.output);
}

// ─── small HTTP client for checks (no keep-alive: leaves no idle connection behind) ────────────────────────────

export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function get(port: number, path: string): Promise<SimpleResponse> {
  return send(port, "GET", path, null);
}

export function send(port: number, method: string, path: string, body: Buffer | null): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { connection: "close" };
    if (body !== null) {
      headers["content-type"] = "application/octet-stream";
      headers["content-length"] = body.length;
    }
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs a command to completion (bounded by `timeoutMs`, then SIGKILL); resolves with its output. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; env?: Record<string, string>; stdin?: "ignore" | "inherit" },
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: [opts.stdin ?? "ignore", "pipe", "pipe"] });
    track(proc);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    proc.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    proc.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-8000)));
    const timer = setTimeout(() => {
      timedOut = true;
      if (proc.pid !== undefined) killPid(proc.pid);
    }, opts.timeoutMs);
    proc.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}`, timedOut });
    });
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
