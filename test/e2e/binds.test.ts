/**
 * Where oryx listens: Unix sockets (mode, stale files, a live server's socket), an inherited descriptor
 * (`fd://N`), systemd socket activation (through Debian's systemd-socket-activate), and several binds at once.
 * Whole processes, real clients (curl --unix-socket), with -w 2.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { CLI, ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { signal } from "../support/proc.ts";
import { freePort, until, within } from "../support/wait.ts";

const run = promisify(execFile);
const WHOAMI = path.join(ROOT, "test", "fixtures", "whoami.ts");
const HELLO = path.join(ROOT, "examples", "hello.ts");

let dir: string;
before(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "oryx-binds-"));
});
after(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function curlUnix(sock: string, target = "/"): Promise<string> {
  return run("curl", ["-sS", "--max-time", "10", "--unix-socket", sock, `http://localhost${target}`]).then((r) => r.stdout);
}

describe("Unix sockets", () => {
  test("unix: and TCP binds together, 2 workers; the socket gets the default mode 660, or --unix-socket-mode", async () => {
    const sock = path.join(dir, "a.sock");
    const o = await launch(["-b", `unix:${sock}`, ...LOCAL, "-w", "2", WHOAMI]);
    assert.ok(o.urls.includes(`unix:${sock}`), o.line);
    assert.ok(lstatSync(sock).isSocket());
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    const seen = JSON.parse(await curlUnix(sock, "/over/unix?x=1")) as { url: string; remoteAddress: string };
    assert.equal(seen.url, "http://localhost/over/unix?x=1");
    assert.equal(seen.remoteAddress, "", "a Unix-socket peer has no address");
    const tcp = await fetch(`http://127.0.0.1:${o.port}/tcp`);
    assert.equal(((await tcp.json()) as { url: string }).url, `http://127.0.0.1:${o.port}/tcp`);
    assert.equal((await stop(o)).code, 0);
    assert.equal(existsSync(sock), false, "a clean stop removes the socket file");

    const o2 = await launch(["-b", `unix:${sock}`, "--unix-socket-mode", "666", HELLO]);
    assert.equal(statSync(sock).mode & 0o777, 0o666);
    assert.equal(await curlUnix(sock), "Hello, World!");
    assert.equal((await stop(o2)).code, 0);
  });

  test("a stale socket file left by a killed server does not block a restart", async () => {
    const sock = path.join(dir, "stale.sock");
    const o = await launch(["-b", `unix:${sock}`, "-w", "2", HELLO]);
    assert.equal(await curlUnix(sock), "Hello, World!");
    signal(o.pid, "SIGKILL");
    await o.exited;
    // Its workers notice the master is gone and exit; the socket file stays behind, accepting nothing.
    await until(() => o.workers().length === 0, 10_000, "the orphaned workers to exit");
    assert.ok(lstatSync(sock).isSocket(), "the killed server left its socket file");
    await assert.rejects(curlUnix(sock), "nobody accepts on the stale file");
    const again = await launch(["-b", `unix:${sock}`, HELLO]);
    assert.equal(await curlUnix(sock), "Hello, World!");
    assert.equal((await stop(again)).code, 0);
  });

  test("a socket a live server accepts on, and a path that is not a socket, are never removed (exit 3)", async () => {
    const sock = path.join(dir, "live.sock");
    const first = await launch(["-b", `unix:${sock}`, HELLO]);
    const second = await runCli(["-b", `unix:${sock}`, HELLO]);
    assert.equal(second.code, 3);
    assert.match(second.stderr, new RegExp(`cannot listen on unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: address already in use`));
    assert.equal(await curlUnix(sock), "Hello, World!", "the first server still serves");
    assert.equal((await stop(first)).code, 0);

    const file = path.join(dir, "not-a-socket");
    writeFileSync(file, "precious\n");
    const third = await runCli(["-b", `unix:${file}`, HELLO]);
    assert.equal(third.code, 3);
    assert.match(third.stderr, /is not a socket/);
    assert.equal(readFileSync(file, "utf8"), "precious\n", "the file is untouched");
  });
});

describe("inherited sockets", () => {
  test("fd://N serves a listening socket the launcher passed (2 workers)", async () => {
    // perl binds a listening socket on a free port, keeps it across exec ($^F), and runs oryx with fd://FILENO.
    const launcher = [
      "perl", "-MIO::Socket::INET", "-e",
      '$^F = 100; my $s = IO::Socket::INET->new(Listen => 128, LocalAddr => "127.0.0.1:0", ReuseAddr => 1) or die "bind: $!"; ' +
        '$ENV{ORYX_TEST_PORT} = $s->sockport; my $fd = fileno($s); exec map { s/FILENO/$fd/r } @ARGV or die "exec: $!"',
    ];
    const o = await launch(["-b", "fd://FILENO", "-w", "2", WHOAMI], { wrapper: launcher });
    assert.match(o.urls[0]!, /^http:\/\/127\.0\.0\.1:\d+$/, `the inherited socket's address is reported: ${o.line}`);
    const r = await fetch(`${o.urls[0]}/inherited`);
    assert.equal(((await r.json()) as { url: string }).url, `${o.urls[0]}/inherited`);
    assert.equal((await stop(o)).code, 0);
  });

  test("fd:// of a descriptor that is not a listening socket: exit 3 with one sentence", async () => {
    const r = await runCli(["-b", "fd://7", HELLO]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^oryx: cannot listen on fd:\/\/7: /m);
  });

  test("systemd socket activation: the sockets in LISTEN_FDS are served in place of --bind", async () => {
    const port = await freePort();
    const sock = path.join(dir, "activated.sock");
    const proc = spawn("systemd-socket-activate", ["-l", `127.0.0.1:${port}`, "-l", sock, process.execPath, CLI, "-w", "2", WHOAMI], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const exited = new Promise<void>((r) => proc.on("exit", () => r()));
    try {
      // systemd-socket-activate listens first and starts oryx on the first connection, which waits in the backlog.
      await until(() => /Listening on/.test(err) && err.split("Listening on").length > 2, 10_000, "systemd-socket-activate to listen", () => err);
      const first = await within(fetch(`http://127.0.0.1:${port}/first`), 30_000, "the first request through activation");
      const seen = (await first.json()) as { url: string; pid: number };
      assert.equal(seen.url, `http://127.0.0.1:${port}/first`);
      assert.match(err, /systemd socket activation: serving 2 inherited socket\(s\) in place of --bind/);
      // The first worker may answer before the second is ready; the startup line waits for both.
      await until(() => / serving .* \(pid \d+\)/.test(err), 30_000, "the startup line", () => err);
      assert.match(err, new RegExp(`serving .* with 2 workers on http://127\\.0\\.0\\.1:${port}, fd://4 \\(pid ${proc.pid}\\)`));
      const overUnix = JSON.parse(await curlUnix(sock, "/unix")) as { url: string; remoteAddress: string };
      assert.deepEqual([overUnix.url, overUnix.remoteAddress], ["http://localhost/unix", ""]);
      // The default bind (127.0.0.1:8888) was not bound instead.
      assert.doesNotMatch(err, /8888/);
      // The workers did not inherit LISTEN_PID/LISTEN_FDS.
      const workerEnv = readFileSync(`/proc/${seen.pid}/environ`, "latin1");
      assert.doesNotMatch(workerEnv, /LISTEN_FDS=/);
    } finally {
      proc.kill("SIGTERM");
      await within(exited, 15_000, "oryx to stop").catch(() => proc.kill("SIGKILL"));
    }
  });
});
