/**
 * A Unix socket path is one server's: a second oryx started on the path of one still loading its app is refused
 * (the first listens from the start, so its socket answers the second's probe), and leaves the first's socket
 * alone; a stale socket file (nothing listening) is still replaced at start; and a stopping oryx removes the
 * socket file only if it is still the one it created. Real processes.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { until, within } from "../support/wait.ts";

const SLOW = path.join(ROOT, "test", "fixtures", "slow-load.ts");
const HELLO = path.join(ROOT, "examples", "hello.ts");

let dir: string;
const started = new Set<ChildProcess>();
before(() => {
  ensureBuilt();
  // Short: a Unix socket path has at most 107 bytes.
  dir = mkdtempSync(path.join(tmpdir(), "oryx-lock-"));
});
after(() => {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  serving(): boolean;
}

function boot(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  started.add(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return { proc, stderr: () => err, exited, serving: () => / serving .* \(pid \d+\)/.test(err) };
}

async function stopped(r: Running): Promise<number | null> {
  r.proc.kill("SIGTERM");
  return (await within(r.exited, 20_000, "oryx to stop after SIGTERM")).code;
}

/**
 * dev:ino of the file at `p`, or null if there is none. (While a server's socket is bound to a file, the file's
 * inode cannot be freed, so its number cannot be reused by another file.)
 */
function identity(p: string): string | null {
  try {
    const st = lstatSync(p);
    return st.isSocket() ? `${st.dev}:${st.ino}` : "not a socket";
  } catch {
    return null;
  }
}

/** GET / over the Unix socket at `p`: the body, or throws. */
async function get(p: string): Promise<string> {
  const r = await raw(0, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", { path: p, timeoutMs: 10_000 });
  if (r.error !== "") throw new Error(`${r.error} on ${p}`);
  if (!r.closed) throw new Error("no answer within 10 s");
  if (!r.text.startsWith("HTTP/1.1 200")) throw new Error(`not a 200: ${JSON.stringify(r.text.slice(0, 80))}`);
  const rs = parseResponses(r.text);
  if (rs.length !== 1) throw new Error(`one response expected: ${JSON.stringify(r.text)}`);
  return rs[0]!.body;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("one server per Unix socket path", () => {
  test("a second oryx on the path of one still loading its app exits 3 with one sentence; the first keeps its socket and serves", async () => {
    const sock = path.join(dir, "x.sock");
    // A loads its app for 5 s: B is started, and has given up, well within that.
    const a = boot([SLOW, "-w", "2", "-b", `unix:${sock}`], { SLOW_LOAD_MS: "5000" });
    await until(() => identity(sock) !== null, 15_000, "A's socket file", a.stderr, 5);
    const mine = identity(sock);
    const b = await runCli([HELLO, "-b", `unix:${sock}`], { timeoutMs: 20_000 });
    assert.equal(a.serving(), false, "B was started and exited while A was still loading its app (the test needs that)");
    assert.notEqual(b.code, 0);
    assert.equal(b.code, 3, b.stderr);
    const lines = b.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one sentence: ${b.stderr}`);
    assert.match(lines[0]!, new RegExp(`^oryx: cannot listen on unix:${escape(sock)}: address already in use$`));
    assert.equal(identity(sock), mine, "A's socket file is still there, the same file, after B exited");
    // A finishes loading and serves on it.
    await until(() => a.serving(), 30_000, "A's startup line", a.stderr);
    assert.match(await get(sock), /^\d+$/, "A answers on its socket");
    assert.equal(await stopped(a), 0);
    assert.equal(existsSync(sock), false, "A's clean stop removes its socket file");
  });

  test("a stale socket file (nothing listens on it) is replaced at start", async () => {
    const sock = path.join(dir, "stale.sock");
    // A process binds and listens on the path and exits without closing: the file stays, nothing accepts.
    const leaver = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`], { stdio: "ignore" });
    await within(new Promise((r) => leaver.on("exit", r)), 10_000, "the process that leaves a stale socket");
    assert.notEqual(identity(sock), null, "a stale socket file is left behind");
    await assert.rejects(get(sock), /ECONNREFUSED/, "nothing listens on it");
    const o = boot([HELLO, "-w", "2", "-b", `unix:${sock}`]);
    await until(() => o.serving(), 30_000, "the startup line", o.stderr);
    assert.equal(await get(sock), "Hello, World!");
    assert.equal(await stopped(o), 0);
    assert.equal(existsSync(sock), false);
  });

  test("a stopping oryx removes the socket file only if it is still the one it created", async () => {
    const sock = path.join(dir, "moved.sock");
    const first = boot([HELLO, "-b", `unix:${sock}`]);
    await until(() => first.serving(), 30_000, "the first server's startup line", first.stderr);
    // Someone removes the first server's file, and a second server starts on the path.
    unlinkSync(sock);
    const second = boot([HELLO, "-b", `unix:${sock}`]);
    await until(() => second.serving(), 30_000, "the second server's startup line", second.stderr);
    const theirs = identity(sock);
    assert.equal(await stopped(first), 0);
    assert.equal(identity(sock), theirs, "the first server's stop left the second's socket file alone");
    assert.equal(await get(sock), "Hello, World!", "the second server still serves on it");
    assert.equal(await stopped(second), 0);
    assert.equal(existsSync(sock), false);
  });
});
