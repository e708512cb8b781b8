/**
 * The idle-connection scenario: per round and peer, a fresh server (so a heap grown by an earlier round cannot
 * hide the growth), at its defaults, warmed up; wrk with 50 busy connections, RSS read (before); COUNT idle
 * keep-alive connections opened by idle-clients.ts; wrk with 50 busy connections again, RSS read (with idle),
 * and the connections still open counted. The memory per idle connection is (with idle − before) / connections
 * still open at the end. RSS is the whole process tree's (an oryx master and its worker).
 *
 * Every server runs with its default keep-alive timeout (oryx and node:http: 5 s), so everything after the
 * first idle connection is served happens within that window: opening gets a budget (window − 2 s), and the
 * busy run with the idle connections gets the whole seconds left (at most --duration) before the first idle
 * connection has been idle window − 1 s. A connection closed before the count is one the server did not hold.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { runWrk, type LoadResult } from "./load.ts";
import { PEERS, serverSpec, type PeerId } from "./peers.ts";
import { freePort, sleep, startServer, StartError, track } from "./procs.ts";
import { LOADS } from "./scenarios.ts";

export interface IdleSample {
  round: number;
  peer: PeerId;
  /** Connections the opener asked for, opened, and still had open after the loaded run. */
  asked: number;
  attempted: number;
  opened: number;
  held: number;
  openMs: number;
  rssBeforeKiB: number;
  rssIdleKiB: number;
  /** The 50 busy connections while the idle ones were held. */
  busy: LoadResult;
  /** Its length in seconds (what fits in the keep-alive window). */
  busySeconds: number;
  /** From the start of opening to the count, ms: within the keep-alive window or not. */
  windowMs: number;
  /** The same load before the idle connections (for comparison). */
  busyBefore: LoadResult;
  firstError: string | null;
}

export interface IdleFailure {
  round: number;
  peer: PeerId;
  reason: string;
}

export interface IdleOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  count: number;
  nofile: number;
  env: Record<string, string>;
  peers: PeerId[];
  /** The shortest default keep-alive timeout among the peers, ms: the window everything is measured in. */
  keepAliveMs: number;
  log(line: string): void;
}

export async function runIdle(o: IdleOptions): Promise<{ samples: IdleSample[]; failures: IdleFailure[] }> {
  const samples: IdleSample[] = [];
  const failures: IdleFailure[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const peer of o.peers) {
      try {
        const s = await oneIdleRun(o, peer, round);
        samples.push(s);
        const kib = (s.rssIdleKiB - s.rssBeforeKiB) / Math.max(1, s.held);
        o.log(
          `[idle ${round}/${o.rounds}] ${peer.padEnd(12)} ${s.held} of ${s.asked} held, ${kib.toFixed(2)} KiB per connection, ` +
            `busy ${Math.round(s.busy.requestsPerSecond)} req/s (${s.busySeconds} s), opened in ${(s.openMs / 1000).toFixed(1)} s, counted at ${(s.windowMs / 1000).toFixed(1)} s`,
        );
      } catch (err) {
        const reason = err instanceof StartError ? `did not start: ${err.message}` : (err as Error).message;
        failures.push({ round, peer, reason });
        o.log(`[idle ${round}/${o.rounds}] ${peer}: ${reason}`);
      }
    }
  }
  return { samples, failures };
}

async function oneIdleRun(o: IdleOptions, peerId: PeerId, round: number): Promise<IdleSample> {
  const peer = PEERS[peerId];
  const port = await freePort();
  const server = await startServer(serverSpec(peer, port, o.env, o.nofile), port);
  let opener: Opener | null = null;
  try {
    const hello = LOADS.hello;
    await runWrk(hello, port, o.warmupSeconds, "1");
    const busyBefore = await runWrk(hello, port, o.seconds, "1");
    const rssBeforeKiB = mustRss(server.rssKiB(), peerId);
    opener = await Opener.start(port, o.count, o.nofile, openBudgetMs(o.keepAliveMs));
    const ready = await opener.ready;
    const readyAt = performance.now();
    await sleep(100);
    const busySeconds = busySecondsFor(o.keepAliveMs, ready.ms, o.seconds);
    const busy = await runWrk(hello, port, busySeconds, "1");
    const rssIdleKiB = mustRss(server.rssKiB(), peerId);
    const held = await opener.count();
    const windowMs = ready.ms + (performance.now() - readyAt);
    return {
      round,
      peer: peerId,
      asked: o.count,
      attempted: ready.attempted,
      opened: ready.open,
      held,
      openMs: ready.ms,
      rssBeforeKiB,
      rssIdleKiB,
      busy,
      busySeconds,
      windowMs,
      busyBefore,
      firstError: ready.firstError,
    };
  } finally {
    if (opener !== null) await opener.close();
    await server.stop();
  }
}

/** How long the opener may take: the window less 2 s (1 s for the busy run, 1 s of margin), at least 1 s. */
export const openBudgetMs = (keepAliveMs: number): number => Math.max(1000, keepAliveMs - 2000);

/** Whole seconds of busy load that end 1 s before the window does, counted from the start of opening; 1 to max. */
export function busySecondsFor(keepAliveMs: number, openMs: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor((keepAliveMs - openMs - 1000) / 1000)));
}

function mustRss(kib: number | null, peer: PeerId): number {
  if (kib === null) throw new Error(`${peer}: could not read the server's RSS`);
  return kib;
}

interface Ready {
  open: number;
  failed: number;
  attempted: number;
  firstError: string | null;
  ms: number;
}

/** The idle-clients.ts child: its ready line, a count on request, and close. */
class Opener {
  private readonly waiters: Array<(msg: Record<string, unknown>) => void> = [];
  readonly ready: Promise<Ready>;
  private stderr = "";

  private constructor(private readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on("line", (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.waiters.shift()?.(msg);
    });
    proc.stderr!.on("data", (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-2000)));
    this.ready = this.next(180_000) as Promise<unknown> as Promise<Ready>;
  }

  static async start(port: number, count: number, nofile: number, budgetMs: number): Promise<Opener> {
    const proc = spawn(
      "bash",
      [
        "-c",
        'ulimit -n "$1" && shift && exec "$@"',
        "bash",
        String(nofile),
        "taskset",
        "-c",
        "1",
        process.execPath,
        "--import",
        "tsx",
        "bench/idle-clients.ts",
        String(port),
        String(count),
        String(budgetMs),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    track(proc);
    return new Opener(proc);
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`idle-clients did not answer within ${timeoutMs / 1000} s ${this.stderr}`)), timeoutMs);
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`idle-clients exited (${code}): ${this.stderr.trim()}`));
      };
      this.proc.once("exit", onExit);
      this.waiters.push((msg) => {
        clearTimeout(timer);
        this.proc.off("exit", onExit);
        resolve(msg);
      });
    });
  }

  async count(): Promise<number> {
    const answer = this.next(10_000);
    this.proc.stdin!.write("count\n");
    return Number((await answer).open);
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
