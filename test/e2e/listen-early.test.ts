/**
 * Listen before you serve: the master binds and listens at once, with --backlog, before any worker has loaded the
 * app; connections made while the app loads wait in the kernel's backlog and are answered once a worker accepts.
 * An app that takes 2 s to load (test/fixtures/slow-load.ts), 2 workers, clients connecting from the moment the
 * socket exists: none refused, on TCP and on a Unix socket. And a master whose app cannot load closes its sockets,
 * so the connections queued meanwhile end at once (they do not hang). Real processes, real clients.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, ensureBuilt, ROOT } from "../support/cli.ts";
import { alive, children } from "../support/proc.ts";
import { freePort, sleep, until, within } from "../support/wait.ts";

const SLOW = path.join(ROOT, "test", "fixtures", "slow-load.ts");

let dir: string;
const started = new Set<ChildProcess>();
before(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "oryx-early-"));
});
after(async () => {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Booting {
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** When the startup line ("serving … (pid N)") appeared, by performance.now(); 0 until then. */
  servingAt(): number;
}

/** Starts the CLI without waiting for anything: the app is still loading for a while after this returns. */
function boot(args: string[], env: NodeJS.ProcessEnv = {}): Booting {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  started.add(proc);
  let err = "";
  let servingAt = 0;
  proc.stderr!.on("data", (d) => {
    err += d;
    if (servingAt === 0 && / serving .* \(pid \d+\)/.test(err)) servingAt = performance.now();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return { proc, stderr: () => err, exited, servingAt: () => servingAt };
}

/** The master has forked its first worker: it has opened its sockets (it does that first). */
function hasWorker(pid: number): boolean {
  return children(pid).some((c) => {
    try {
      return alive(c.pid) && readFileSync(`/proc/${c.pid}/cmdline`, "utf8").includes("worker-main");
    } catch {
      return false;
    }
  });
}

interface Attempt {
  /** "200", an error code (ECONNREFUSED, ECONNRESET …), "eof", "timeout" or "status N". */
  outcome: string;
  startedAt: number;
  /** When the connection was established (0 if never). */
  connectedAt: number;
  endedAt: number;
}

/** One GET / on its own connection (Connection: close), waiting up to `timeoutMs` for the answer. */
function attempt(to: net.NetConnectOpts, timeoutMs = 10_000): Promise<Attempt> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect(to);
    let text = "";
    let connectedAt = 0;
    let done = false;
    const finish = (outcome: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ outcome, startedAt, connectedAt, endedAt: performance.now() });
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    sock.on("connect", () => {
      connectedAt = performance.now();
      sock.write("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("error", (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    sock.on("close", () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      finish(status === undefined ? "eof" : status === "200" ? "200" : `status ${status}`);
    });
  });
}

/** `n` connections, one every `spanMs / n`, from now on; resolves when every one has its outcome. */
async function burst(to: net.NetConnectOpts, n: number, spanMs: number): Promise<Attempt[]> {
  const all: Array<Promise<Attempt>> = [];
  for (let i = 0; i < n; i++) {
    all.push(attempt(to));
    await sleep(spanMs / n);
  }
  return Promise.all(all);
}

function summary(results: Attempt[]): string {
  const by = new Map<string, number>();
  for (const r of results) by.set(r.outcome, (by.get(r.outcome) ?? 0) + 1);
  return [...by].map(([k, v]) => `${k}: ${v}`).join(", ");
}

async function stopped(b: Booting): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  b.proc.kill("SIGTERM");
  return within(b.exited, 20_000, "oryx to stop after SIGTERM");
}

describe("connections made while the app loads wait in the backlog", () => {
  test("TCP: 100 connections over the first 2.5 s, 2 workers, an app that loads for 2 s: all 200, none refused", async () => {
    const port = await freePort();
    const o = boot([SLOW, "-w", "2", "-b", `127.0.0.1:${port}`]);
    // A TCP socket cannot be seen bound from outside; the master forks its first worker only once it has opened
    // (bound and listened on) its sockets, so that is where "the socket exists" starts.
    await until(() => hasWorker(o.proc.pid!), 15_000, "the master's first worker", o.stderr);
    const results = await burst({ host: "127.0.0.1", port }, 100, 2500);
    const early = results.filter((r) => r.connectedAt > 0 && (o.servingAt() === 0 || r.connectedAt < o.servingAt())).length;
    assert.equal(summary(results), "200: 100", `every connection answered 200; log:\n${o.stderr()}`);
    assert.ok(early >= 10, `${early} connections were made before the app was ready (the test needs some): log:\n${o.stderr()}`);
    assert.equal((await stopped(o)).code, 0);
  });

  test("Unix socket: 100 connections over the first 2.5 s, 2 workers, an app that loads for 2 s: all 200, none refused", async () => {
    const sock = path.join(dir, "early.sock");
    const o = boot([SLOW, "-w", "2", "-b", `unix:${sock}`]);
    // As on TCP. (The file appears when the socket is bound, and it listens microseconds later, bind and listen
    // being back to back as in any server: a client that found the file in between would be refused.)
    await until(() => hasWorker(o.proc.pid!), 15_000, "the master's first worker", o.stderr);
    assert.ok(lstatSync(sock).isSocket());
    const results = await burst({ path: sock }, 100, 2500);
    const early = results.filter((r) => r.connectedAt > 0 && (o.servingAt() === 0 || r.connectedAt < o.servingAt())).length;
    assert.equal(summary(results), "200: 100", `every connection answered 200; log:\n${o.stderr()}`);
    assert.ok(early >= 10, `${early} connections were made before the app was ready (the test needs some): log:\n${o.stderr()}`);
    assert.equal((await stopped(o)).code, 0);
    assert.equal(existsSync(sock), false, "a clean stop removes the socket file");
  });

  test("an app that fails to load (exit 4): the sockets close, and the connections queued meanwhile end at once", async () => {
    const sock = path.join(dir, "fails.sock");
    const port = await freePort();
    const o = boot([SLOW, "-w", "2", "-b", `unix:${sock}`, "-b", `127.0.0.1:${port}`], { SLOW_LOAD_MS: "1500", SLOW_LOAD_FAIL: "1" });
    // Both sockets are open once the first worker exists (the two are opened side by side, either first).
    await until(() => hasWorker(o.proc.pid!), 15_000, "the master's first worker", o.stderr);
    // Queued while the app loads: connected, request sent, no answer yet.
    const queued = [...Array(10)].flatMap(() => [attempt({ path: sock }), attempt({ host: "127.0.0.1", port })]);
    const exit = await within(o.exited, 20_000, "oryx to give up");
    const gaveUpAt = performance.now();
    assert.equal(exit.code, 4, o.stderr());
    assert.match(o.stderr(), /cannot load the app: .*failing on purpose/);
    const results = await within(Promise.all(queued), 5_000, "the queued connections to end once oryx exited");
    for (const r of results) {
      assert.ok(r.connectedAt > 0, `every connection was accepted into the backlog (${summary(results)})`);
      assert.notEqual(r.outcome, "timeout", summary(results));
      assert.notEqual(r.outcome, "200", summary(results));
      assert.ok(r.endedAt - gaveUpAt < 3000, `a queued connection ended ${Math.round(r.endedAt - gaveUpAt)} ms after oryx exited`);
    }
    assert.equal(existsSync(sock), false, "the socket file is removed");
    assert.equal((await attempt({ host: "127.0.0.1", port }, 2000)).outcome, "ECONNREFUSED", "nothing listens on the port any more");
  });
});
