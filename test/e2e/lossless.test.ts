/**
 * Lossless worker stops, through the CLI: while non-retrying keep-alive clients POST back to back, the master
 * gets SIGHUP (reload) three times, TTIN then TTOU, and workers retire by --max-requests; no request may fail
 * (reset, closed without a response, non-2xx, timeout). The clients are bench/soak-clients.ts's, which
 * bench/soak-stops.ts runs for longer. Every process is killed by pid in `after`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { failures, runClients, summary } from "../../bench/soak-clients.ts";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { signal } from "../support/proc.ts";
import { sleep, within } from "../support/wait.ts";

before(ensureBuilt);
after(cleanup);

test("SIGHUP ×3, TTIN/TTOU and --max-requests while 32 keep-alive clients POST back to back: not one request fails", { timeout: 60_000 }, async (t) => {
  const o = await launch(["examples/echo.ts", "-w", "2", "--max-requests", "4000", "--max-requests-jitter", "2000", ...LOCAL]);
  try {
    const logFrom = o.stderr().length;
    const run = runClients({ port: o.port, clients: 32, requests: 400_000, durationMs: 11_000, body: Buffer.alloc(256, "b"), timeoutMs: 10_000 });
    const t0 = Date.now();
    const at = async (ms: number, sig: NodeJS.Signals): Promise<void> => {
      await sleep(Math.max(0, t0 + ms - Date.now()));
      signal(o.pid, sig);
    };
    // The first seconds without signals, so that workers retire by --max-requests too (a reload would stop them first).
    await at(4000, "SIGHUP");
    await at(5500, "SIGTTIN");
    await at(6500, "SIGHUP");
    await at(8000, "SIGTTOU");
    await at(9000, "SIGHUP");
    const tally = await within(run.done, 30_000, "the clients to finish");

    const log = o.stderr().slice(logFrom);
    const count = (re: RegExp): number => (log.match(re) ?? []).length;
    const byReload = count(/stopping old worker \d+ \(reload\)/g);
    const byMax = count(/requests \(--max-requests\): retiring/g);
    const byTtou = count(/stopping worker \d+ \(\d+ wanted\)/g);
    t.diagnostic(summary(tally));
    t.diagnostic(`worker stops: ${byReload} by reload, ${byTtou} by TTOU; ${byMax} workers retired by --max-requests`);

    assert.equal(failures(tally), 0, `${summary(tally)}\n${tally.examples.join("\n")}\n${log}`);
    assert.ok(tally.ok > 1000, `only ${tally.ok} requests were answered`);
    assert.ok(byReload >= 4, `the reloads stopped ${byReload} old workers (expected at least the first two reloads' two each):\n${log}`);
    assert.ok(byMax >= 1, `no worker retired by --max-requests:\n${log}`);
    assert.ok(tally.closeResponses > 0, "no response said Connection: close: no stop happened while the clients were connected");
    assert.doesNotMatch(log, /\[(ERROR|CRITICAL)\]/, "errors in the log");
    const exit = await within(stop(o), 20_000, "the master to stop");
    assert.deepEqual(exit, { code: 0, signal: null }, o.stderr());
  } finally {
    await stop(o);
  }
});

test("a Node app (Express): SIGHUP ×2 and TTIN/TTOU while 32 keep-alive clients POST back to back: not one request fails", { timeout: 60_000 }, async (t) => {
  const o = await launch(["test/fixtures/node-echo-express.ts", "-w", "2", ...LOCAL]);
  try {
    const logFrom = o.stderr().length;
    const run = runClients({ port: o.port, clients: 32, requests: 400_000, durationMs: 8_000, body: Buffer.alloc(256, "b"), timeoutMs: 10_000 });
    const t0 = Date.now();
    const at = async (ms: number, sig: NodeJS.Signals): Promise<void> => {
      await sleep(Math.max(0, t0 + ms - Date.now()));
      signal(o.pid, sig);
    };
    await at(2000, "SIGHUP");
    await at(3500, "SIGTTIN");
    await at(4500, "SIGHUP");
    await at(6000, "SIGTTOU");
    const tally = await within(run.done, 30_000, "the clients to finish");
    const log = o.stderr().slice(logFrom);
    const byReload = (log.match(/stopping old worker \d+ \(reload\)/g) ?? []).length;
    t.diagnostic(summary(tally));
    // Before Node apps had a graceful stop of their own, 20 s of this lost 323 of 285k requests across 16 stops.
    assert.equal(failures(tally), 0, `${summary(tally)}\n${tally.examples.join("\n")}\n${log}`);
    assert.ok(tally.ok > 1000, `only ${tally.ok} requests were answered`);
    assert.ok(byReload >= 2, `the reloads stopped ${byReload} old workers:\n${log}`);
    assert.ok(tally.closeResponses > 0, "no response said Connection: close: no stop happened while the clients were connected");
    assert.doesNotMatch(log, /\[(ERROR|CRITICAL)\]/, "errors in the log");
  } finally {
    await stop(o);
  }
});
