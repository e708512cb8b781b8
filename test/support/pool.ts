/**
 * Helpers for the whole-process tests of the master/worker pool (workers.test.ts, workers-limits.test.ts): start
 * the real CLI (optionally under a wrapper such as prlimit), see its processes as /proc sees them, and drive it
 * with real clients. Every process started here is remembered and killed by pid in `cleanup()`, together with
 * every worker pid that was ever seen under it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { CLI, ROOT } from "./cli.ts";
import { raw } from "./client.ts";
import { alive, children, fdCount, isWorkerProcess, signal } from "./proc.ts";
import { parseResponses } from "./response.ts";
import { sleep, until } from "./wait.ts";

export const LOCAL = ["-b", "127.0.0.1:0"];

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
export async function hit(port: number, target: string, opts: { timeoutMs?: number; keepAlive?: boolean } = {}): Promise<Hit> {
  const startedAt = performance.now();
  const request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${opts.keepAlive ? "" : "Connection: close\r\n"}\r\n`;
  const r = await raw(port, request, { timeoutMs: opts.timeoutMs ?? 10_000 });
  const eofAt = r.closed && r.error === "" ? r.endedAt : 0;
  let error = r.error !== "" ? r.error : !r.closed ? (r.text !== "" ? "no-eof" : "timeout") : "";
  let status = 0;
  let body = "";
  if (error === "") {
    try {
      const rs = parseResponses(r.text);
      if (rs.length !== 1) error = r.text === "" ? "eof-without-response" : "bad-response";
      else {
        status = rs[0]!.status;
        body = rs[0]!.body;
      }
    } catch {
      error = r.text === "" ? "eof-without-response" : "incomplete-response";
    }
  }
  if (error === "" && (status < 200 || status >= 300)) error = `status ${status}`;
  return { ok: error === "", status, body, error, startedAt, responseAt: r.lastDataAt || eofAt, eofAt };
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
