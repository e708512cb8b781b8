/**
 * Helpers for the whole-process tests of the master/worker pool (workers.test.ts, workers-limits.test.ts): start
 * the real CLI (optionally under a wrapper such as prlimit), see its processes as /proc sees them, and drive it
 * with real clients. Every process started here is remembered and killed by pid in `cleanup()`, together with
 * every worker pid that was ever seen under it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import { CLI, ROOT, parseResponses, sleep } from "../helpers.ts";

export { CLI, ROOT, sleep };

export const LOCAL = ["-b", "127.0.0.1:0"];

// ─── /proc ──────────────────────────────────────────────────────────────────────────────────────────────────

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/** One process's /proc/PID/stat, or null if it does not exist (any more). */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses: split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: rest[0]!, ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** True if `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.state !== "Z" && s.state !== "X";
}

/** Every process whose parent is `ppid`, zombies included (as `ps --ppid` finds them: a scan of /proc). */
export function children(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s !== null && s.ppid === ppid) out.push(s);
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** How many descriptors `pid` has open. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What each descriptor of `pid` points to, for messages. */
export function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd} -> ${readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd} -> ?`;
    }
  });
}

let ticks = 0;
/** The kernel's clock ticks per second (for /proc/PID/stat times). */
export function clockTicks(): number {
  if (ticks === 0) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

function isWorkerProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker-main");
  } catch {
    return false;
  }
}

// ─── the CLI ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Oryx {
  proc: ChildProcess;
  /** The master's pid (the same as proc.pid, also under prlimit, which execs). */
  pid: number;
  port: number;
  urls: string[];
  line: string;
  stderr(): string;
  stdout(): string;
  exited: Promise<Exit>;
  /** Every worker pid ever seen under this master (by `workers()`), for cleanup. */
  seen: Set<number>;
  /** The master's live (non-zombie) children: its workers. */
  workers(): number[];
  /**
   * Resolves with the first match of `re` in stderr from offset `from` on (what is already there, then new
   * output); rejects after `ms`.
   */
  waitLog(re: RegExp, ms: number, what?: string, from?: number): Promise<RegExpExecArray>;
}

const running = new Set<Oryx>();

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
  /** A command that runs the CLI, e.g. ["prlimit", "--nofile=256:256"]; it must exec node (keep the pid). */
  wrapper?: string[];
}

/** Starts the CLI and waits for its startup line (the whole pool is ready then). */
export async function launch(args: string[], opts: LaunchOptions = {}): Promise<Oryx> {
  const argv = [process.execPath, CLI, ...args];
  const [cmd, ...rest] = opts.wrapper !== undefined ? [...opts.wrapper, ...argv] : argv;
  const proc = spawn(cmd!, rest, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  const logWaiters = new Set<() => void>();
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => {
    err += d;
    for (const w of logWaiters) w();
  });
  const exited = new Promise<Exit>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const seen = new Set<number>();
  const o: Oryx = {
    proc,
    pid: proc.pid!,
    port: 0,
    urls: [],
    line: "",
    stderr: () => err,
    stdout: () => out,
    exited,
    seen,
    workers: () => {
      const pids = children(proc.pid!).filter((c) => c.state !== "Z" && c.state !== "X").map((c) => c.pid);
      for (const p of pids) seen.add(p);
      return pids;
    },
    waitLog: (re, ms, what, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = re.exec(err.slice(from));
          if (m === null) return false;
          logWaiters.delete(onData);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const onData = (): void => void check();
        const timer = setTimeout(() => {
          logWaiters.delete(onData);
          reject(new Error(`timed out after ${ms} ms waiting for ${what ?? re} in the log:\n${err}`));
        }, ms);
        timer.unref();
        if (!check()) logWaiters.add(onData);
      }),
  };
  running.add(o);
  void exited.then(() => running.delete(o));
  try {
    const m = await Promise.race([
      o.waitLog(/^.* serving .* on .*\(pid (\d+)\)$/m, opts.timeoutMs ?? 30_000, "the startup line"),
      exited.then(({ code, signal: sig }) => {
        throw new Error(`it exited (${code ?? sig}) before its startup line; stderr:\n${err}`);
      }),
    ]);
    o.line = m[0];
    o.urls = [...(/ on (.*) \(pid \d+\)$/.exec(o.line)?.[1] ?? "").matchAll(/(?:https?:\/\/|unix:|fd:\/\/)[^\s,]+/g)].map((u) => u[0]);
    const web = o.urls.find((u) => u.startsWith("http"));
    o.port = web !== undefined ? Number(new URL(web).port) : 0;
    if (Number(m[1]) !== proc.pid) throw new Error(`the startup line names pid ${m[1]}, the process is ${proc.pid}`);
    o.workers();
    return o;
  } catch (e) {
    await kill(o);
    const exit = proc.exitCode !== null ? ` (exited with ${proc.exitCode})` : "";
    throw new Error(`oryx ${args.join(" ")} did not start${exit}: ${(e as Error).message}`);
  }
}

/** Sends `signal` to `pid` if it exists; true if it was sent. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the master and every worker seen under it that still runs; waits (bounded) for the master's exit. */
export async function kill(o: Oryx): Promise<void> {
  try {
    o.workers();
  } catch {
    // /proc scan failed: kill what we know
  }
  if (o.proc.exitCode === null && o.proc.signalCode === null) signal(o.pid, "SIGKILL");
  for (const w of o.seen) if (alive(w) && isWorkerProcess(w)) signal(w, "SIGKILL");
  await Promise.race([o.exited, sleep(5000)]);
}

/** Sends `sig` and waits for the exit (SIGKILL after `ms`). */
export async function stop(o: Oryx, sig: NodeJS.Signals = "SIGTERM", ms = 15_000): Promise<Exit> {
  o.workers();
  signal(o.pid, sig);
  const timer = setTimeout(() => void kill(o), ms);
  const r = await o.exited;
  clearTimeout(timer);
  return r;
}

/** For `after()`: kills everything still running, and throws if any worker ever seen survived. */
export async function cleanup(): Promise<void> {
  const all = [...running];
  await Promise.all(all.map((o) => kill(o)));
  running.clear();
  // A worker just sent SIGKILL (by kill() above) can still be in /proc for a moment: give it up to 3 s to go.
  const stillThere = (): number[] => all.flatMap((o) => [...o.seen].filter((w) => alive(w) && isWorkerProcess(w)));
  const end = Date.now() + 3000;
  while (stillThere().length > 0 && Date.now() < end) await sleep(25);
  const survivors = stillThere();
  if (survivors.length > 0) {
    for (const w of survivors) signal(w, "SIGKILL");
    throw new Error(`worker processes survived their master: ${survivors.join(", ")}`);
  }
}

/** Waits until no worker seen under `o` is alive (bounded); returns those still alive at the end. */
export async function workersGone(o: Oryx, ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = [...o.seen].filter((w) => alive(w) && isWorkerProcess(w));
    if (left.length === 0 || Date.now() > end) return left;
    await sleep(50);
  }
}

/** Each worker's descriptor count now, to see a connection arrive later (`accepted`). */
export function fdBaseline(o: Oryx): Map<number, number> {
  return new Map(o.workers().map((w) => [w, fdCount(w)]));
}

/**
 * Waits until some worker of `base` holds more descriptors than it did (it accepted a connection); returns that
 * worker's pid. So a test knows a request is in flight before it signals, however slow the machine.
 */
export async function accepted(base: Map<number, number>, ms: number): Promise<number> {
  let found = 0;
  await until(
    () => {
      for (const [pid, n] of base) {
        try {
          if (fdCount(pid) > n) found = pid;
        } catch {
          // gone
        }
      }
      return found !== 0;
    },
    ms,
    "a worker to accept the connection",
    () => [...base].map(([pid, n]) => `${pid}: ${n}`).join(", "),
    10,
  );
  return found;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a launcher that binds it itself). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ─── waiting ────────────────────────────────────────────────────────────────────────────────────────────────

/** Rejects if `p` does not settle within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Polls `pred` every `every` ms until it is true; throws after `ms` with `what` (and `detail()` if given). */
export async function until(pred: () => boolean, ms: number, what: string, detail?: () => string, every = 25): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `: ${detail()}` : ""}`);
    await sleep(every);
  }
}

// ─── clients ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Hit {
  ok: boolean;
  status: number;
  body: string;
  /** Why it failed: an error code, "timeout", "eof-without-response", "bad-response". */
  error: string;
  /** performance.now() at start, when the whole response had arrived, and at EOF. */
  startedAt: number;
  responseAt: number;
  eofAt: number;
}

/**
 * One GET on its own connection with `Connection: close`: reads until the server's EOF. `ok` means a complete
 * 200-class response followed by EOF. A response that is complete but not followed by EOF within `timeoutMs`
 * fails with "no-eof".
 */
export function hit(port: number, target: string, opts: { timeoutMs?: number; keepAlive?: boolean } = {}): Promise<Hit> {
  const startedAt = performance.now();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let responseAt = 0;
    let done = false;
    const finish = (error: string, eof: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const eofAt = eof ? performance.now() : 0;
      const text = Buffer.concat(chunks).toString("latin1");
      let status = 0;
      let body = "";
      if (error === "") {
        try {
          const rs = parseResponses(text);
          if (rs.length !== 1) error = text === "" ? "eof-without-response" : "bad-response";
          else {
            status = rs[0]!.status;
            body = rs[0]!.body;
          }
        } catch {
          error = text === "" ? "eof-without-response" : "incomplete-response";
        }
      }
      if (error === "" && (status < 200 || status >= 300)) error = `status ${status}`;
      resolve({ ok: error === "", status, body, error, startedAt, responseAt: responseAt || eofAt, eofAt });
    };
    const timer = setTimeout(() => finish(chunks.length > 0 ? "no-eof" : "timeout", false), timeoutMs);
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      responseAt = performance.now();
    });
    sock.on("end", () => finish("", true));
    sock.on("close", () => finish("", true));
    sock.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message, false));
    sock.on("connect", () => {
      sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${opts.keepAlive ? "" : "Connection: close\r\n"}\r\n`, "latin1");
    });
  });
}

export interface Load {
  /** Every request made so far, in completion order. */
  results: Hit[];
  /** Stops the loops; resolves when each has finished its request in flight. */
  stop(): Promise<Hit[]>;
}

/** `n` loops, each sending one `Connection: close` request after another to `target` until stopped. */
export function load(port: number, n: number, target: string, opts: { timeoutMs?: number; pauseMs?: number } = {}): Load {
  const results: Hit[] = [];
  let running = true;
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      results.push(await hit(port, target, { timeoutMs: opts.timeoutMs ?? 15_000 }));
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  });
  return {
    results,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

/** A short summary of failures by reason, for assertion messages. */
export function failureSummary(hits: Hit[]): string {
  const by = new Map<string, number>();
  for (const h of hits) if (!h.ok) by.set(h.error, (by.get(h.error) ?? 0) + 1);
  return [...by].map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
}

/** Builds dist/ if a test file is run on its own before `npm run build`. */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}
