/**
 * Modules that call listen() after they have loaded, through the real `oryx` command (dist/cli.js) with two
 * workers: a listen() in a setTimeout, an async bootstrap() that awaits its setup and is not awaited at the top
 * level (a NestJS main.ts's shape), a module that never listens (--listen-timeout ends the wait with one
 * sentence), a bootstrap that fails before it listens, and a second server (metrics on port 0) that must really
 * bind. Every process started here is killed by pid (pool.ts's launch/stop/cleanup).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ensureBuilt, runCli } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { until } from "../support/wait.ts";

before(() => ensureBuilt());
after(async () => {
  await cleanup();
});

/** One GET with a time bound; the status and body. */
async function get(port: number, target: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${target}`, { signal: AbortSignal.timeout(5000), headers: { connection: "close" } });
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" };
}

describe("a module that listens after it has loaded is served", { concurrency: true }, () => {
  test("listen() in a setTimeout 300 ms after the import (test/fixtures/late-timeout.ts), -w 2", async () => {
    const o = await launch(["test/fixtures/late-timeout.ts", "-w", "2", ...LOCAL]);
    try {
      assert.match(o.line, /serving test\/fixtures\/late-timeout\.ts \(node\) with 2 workers on http:\/\/127\.0\.0\.1:\d+ /, o.line);
      for (const target of ["/a", "/b?c=d"]) {
        const r = await get(o.port, target);
        assert.equal(r.status, 200);
        assert.equal(r.body, `late via setTimeout: GET ${target}`);
      }
      assert.equal((await stop(o)).code, 0);
    } finally {
      await stop(o);
    }
  });

  test("an async bootstrap() that awaits, then listens, called without await (test/fixtures/late-bootstrap.ts), -w 2", async () => {
    const o = await launch(["test/fixtures/late-bootstrap.ts", "-w", "2", ...LOCAL]);
    try {
      assert.match(o.line, /\(node\) with 2 workers/, o.line);
      const r = await get(o.port, "/users?x=1");
      assert.equal(r.status, 200);
      assert.match(r.type, /^application\/json/);
      assert.deepEqual(JSON.parse(r.body), { bootstrapped: true, db: "db", url: "/users?x=1" });
      // Each worker's listen callback ran, and server.address() told the app oryx's address, not port 3000.
      await until(() => o.stdout().split("\n").filter((l) => l.startsWith("bootstrap listening on")).length === 2, 5000, "both workers' listen callbacks", () => o.stdout());
      for (const line of o.stdout().trim().split("\n")) assert.equal(line, `bootstrap listening on 127.0.0.1:${o.port}`);
      assert.equal((await stop(o)).code, 0);
    } finally {
      await stop(o);
    }
  });
});

describe("a module that never serves", { concurrency: true }, () => {
  test("no export and no listen() with --listen-timeout 1s: exit 4 and one sentence naming --listen-timeout", async () => {
    const r = await runCli(["test/fixtures/late-never.ts", "-w", "2", "--listen-timeout", "1s", ...LOCAL], { timeoutMs: 15_000 });
    assert.equal(r.code, 4, `expected exit 4; stderr:\n${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.equal(lines[0], "oryx: cannot load the app: test/fixtures/late-never.ts exports nothing oryx can serve and did not call listen() within 1s (--listen-timeout)");
  });

  test("ORYX_LISTEN_TIMEOUT sets the same wait", async () => {
    const r = await runCli(["test/fixtures/late-never.ts", ...LOCAL], { timeoutMs: 15_000, env: { ORYX_LISTEN_TIMEOUT: "500ms" } });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /did not call listen\(\) within 500ms \(--listen-timeout\)/);
  });

  test("a bootstrap() that rejects before it listens: exit 4 at once with its error, not a wait for the timeout", async () => {
    const r = await runCli(["test/fixtures/late-rejects.ts", "-w", "2", "--listen-timeout", "2m", ...LOCAL], { timeoutMs: 15_000 });
    assert.equal(r.code, 4, r.stderr);
    const first = r.stderr.split("\n")[0]!;
    assert.equal(first, "oryx: cannot load the app: test/fixtures/late-rejects.ts failed before it called listen(): Error: database unreachable at db:5432");
    assert.match(r.stderr, /\n\s+at bootstrap /, "its stack follows");
    assert.doesNotMatch(r.stderr, /unhandled promise rejection/, "reported once, as the load failure");
  });
});

describe("a second server the app starts", () => {
  test("listen(0) of a metrics server after the app's own listen(): it really binds, in each worker, and the log says so", async () => {
    const o = await launch(["test/fixtures/late-metrics.ts", "-w", "2", ...LOCAL]);
    try {
      const ports = (): number[] => [...o.stdout().matchAll(/^metrics listening on (\d+)$/gm)].map((m) => Number(m[1]));
      await until(() => ports().length === 2, 5000, "both workers' metrics servers to listen", () => o.stdout());
      const workers = o.workers();
      assert.equal(workers.length, 2);
      const pids = new Set<number>();
      for (const port of ports()) {
        assert.notEqual(port, o.port, "the metrics server is not oryx's address");
        const r = await get(port, "/metrics");
        assert.equal(r.status, 200);
        assert.match(r.type, /^text\/plain; version=0\.0\.4/);
        const m = /^requests_total\{pid="(\d+)"\} 1\n$/.exec(r.body);
        assert.ok(m, r.body);
        pids.add(Number(m[1]));
      }
      assert.deepEqual([...pids].sort(), [...workers].sort(), "one metrics server per worker, each in its worker");
      // The app's own server is the one oryx serves.
      assert.equal((await get(o.port, "/")).body, "the app");
      const notes = o.stderr().split("\n").filter((l) => l.includes("[INFO] the app started a second server"));
      assert.equal(notes.length, 2, o.stderr());
      for (const port of ports()) assert.ok(notes.some((l) => l.includes(`listen(0, "127.0.0.1")): it listens on 127.0.0.1:${port} itself`)), o.stderr());
      assert.equal((await stop(o)).code, 0);
    } finally {
      await stop(o);
    }
  });
});
