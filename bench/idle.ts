/**
 * The idle-connection scenario: per round and peer, a fresh server (so a heap grown by an earlier round cannot
 * hide the growth), warmed up; wrk with 50 busy connections, RSS read (before); COUNT idle keep-alive
 * connections opened by idle-clients.ts; wrk with 50 busy connections again, RSS read (with idle). The memory
 * per idle connection is (with idle − before) / connections still open at the end.
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
  opened: number;
  held: number;
  openMs: number;
  rssBeforeKiB: number;
  rssIdleKiB: number;
  /** The 50 busy connections while the idle ones were held. */
  busy: LoadResult;
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
        o.log(`[idle ${round}/${o.rounds}] ${peer.padEnd(12)} ${s.held} held, ${kib.toFixed(2)} KiB per connection, busy ${Math.round(s.busy.requestsPerSecond)} req/s`);
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
    opener = await Opener.start(port, o.count, o.nofile);
    const ready = await opener.ready;
    await sleep(1000);
    const busy = await runWrk(hello, port, o.seconds, "1");
    const rssIdleKiB = mustRss(server.rssKiB(), peerId);
    const held = await opener.count();
    return {
      round,
      peer: peerId,
      asked: o.count,
      opened: ready.open,
      held,
      openMs: ready.ms,
      rssBeforeKiB,
      rssIdleKiB,
      busy,
      busyBefore,
      firstError: ready.firstError,
    };
  } finally {
    if (opener !== null) await opener.close();
    await server.stop();
  }
}

function mustRss(kib: number | null, peer: PeerId): number {
  if (kib === null) throw new Error(`${peer}: could not read the server's RSS`);
  return kib;
}

interface Ready {
  open: number;
  failed: number;
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

  static async start(port: number, count: number, nofile: number): Promise<Opener> {
    const proc = spawn(
      "bash",
      ["-c", 'ulimit -n "$1" && shift && exec "$@"', "bash", String(nofile), "taskset", "-c", "1", process.execPath, "--import", "tsx", "bench/idle-clients.ts", String(port), String(count)],
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
