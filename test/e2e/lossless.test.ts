/**
 * Lossless worker stops, through the CLI: while non-retrying keep-alive clients POST back to back, the master
 * gets SIGHUP (reload) three times, TTIN then TTOU, and workers retire by --max-requests; each signal waits for
 * the stops the one before it caused (not a fixed clock: a loaded machine boots workers slowly); no request may fail
 * (reset, closed without a response, non-2xx, timeout). The clients are bench/soak-clients.ts's, which
 * bench/soak-stops.ts runs for longer. Every process is killed by pid in `after`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { failures, runClients, summary } from "../../bench/soak-clients.ts";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop, type Oryx } from "../support/pool.ts";
import { signal } from "../support/proc.ts";
import { sleep, until, within } from "../support/wait.ts";

before(ensureBuilt);
after(cleanup);

/**
 * Waits until `re` has matched at least `n` times in the master's log since `from`: the signals below wait for
 * the stops they cause instead of following a fixed clock, so a slow machine (workers booting in 2.5 s under a
 * full test run) still sees every reload happen while the clients are sending.
 */
async function logged(o: Oryx, from: number, re: RegExp, n: number, what: string): Promise<number> {
  const count = (): number => (o.stderr().slice(from).match(re) ?? []).length;
  await until(() => count() >= n, 20_000, what, () => `${count()} of ${n} so far:\n${o.stderr().slice(from)}`);
  return count();
}

const RELOAD_STOP = /stopping old worker \d+ \(reload\)/g;
const TTOU_STOP = /stopping worker \d+ \(\d+ wanted\)/g;
const BOOTED = /worker \d+ is ready/g;

test("SIGHUP ×3, TTIN/TTOU and --max-requests while 32 keep-alive clients POST back to back: not one request fails", { timeout: 120_000 }, async (t) => {
  const o = await launch(["examples/echo.ts", "-w", "2", "--max-requests", "4000", "--max-requests-jitter", "2000", ...LOCAL]);
  try {
    const logFrom = o.stderr().length;
    // The clients send until every stop below has happened (stop()), at most 90 s.
    const run = runClients({ port: o.port, clients: 32, requests: 10_000_000, durationMs: 90_000, body: Buffer.alloc(256, "b"), timeoutMs: 10_000 });
    // The first seconds without signals, so that workers retire by --max-requests too (a reload would stop them first).
    await sleep(4000);
    signal(o.pid, "SIGHUP");
    let reloadStops = await logged(o, logFrom, RELOAD_STOP, 2, "the first reload to stop both old workers");
    signal(o.pid, "SIGTTIN");
    const booted = (o.stderr().slice(logFrom).match(BOOTED) ?? []).length;
    await logged(o, logFrom, BOOTED, booted + 1, "the third worker (TTIN) to be ready");
    signal(o.pid, "SIGHUP");
    // Two at least: the third may be a worker still booting when the signal came (a --max-requests replacement).
    reloadStops = await logged(o, logFrom, RELOAD_STOP, reloadStops + 2, "the second reload to stop the old workers");
    signal(o.pid, "SIGTTOU");
    await logged(o, logFrom, TTOU_STOP, 1, "TTOU to stop a worker");
    signal(o.pid, "SIGHUP");
    await logged(o, logFrom, RELOAD_STOP, reloadStops + 2, "the third reload to stop both old workers");
    await sleep(500); // requests on the new workers too
    run.stop();
    const tally = await within(run.done, 30_000, "the clients to finish");

    const log = o.stderr().slice(logFrom);
    const count = (re: RegExp): number => (log.match(re) ?? []).length;
    const byReload = count(RELOAD_STOP);
    const byMax = count(/requests \(--max-requests\): retiring/g);
    const byTtou = count(TTOU_STOP);
    t.diagnostic(summary(tally));
    t.diagnostic(`worker stops: ${byReload} by reload, ${byTtou} by TTOU; ${byMax} workers retired by --max-requests`);

    assert.equal(failures(tally), 0, `${summary(tally)}\n${tally.examples.join("\n")}\n${log}`);
    assert.ok(tally.ok > 1000, `only ${tally.ok} requests were answered`);
    assert.ok(byReload >= 6, `the reloads stopped ${byReload} old workers (at least 2 each expected):\n${log}`);
    assert.ok(byMax >= 1, `no worker retired by --max-requests:\n${log}`);
    assert.ok(tally.closeResponses > 0, "no response said Connection: close: no stop happened while the clients were connected");
    assert.doesNotMatch(log, /\[(ERROR|CRITICAL)\]/, "errors in the log");
    const exit = await within(stop(o), 20_000, "the master to stop");
    assert.deepEqual(exit, { code: 0, signal: null }, o.stderr());
  } finally {
    await stop(o);
  }
});

test("a Node app (Express): SIGHUP ×2 and TTIN/TTOU while 32 keep-alive clients POST back to back: not one request fails", { timeout: 120_000 }, async (t) => {
  const o = await launch(["test/fixtures/node-echo-express.ts", "-w", "2", ...LOCAL]);
  try {
    const logFrom = o.stderr().length;
    const run = runClients({ port: o.port, clients: 32, requests: 10_000_000, durationMs: 90_000, body: Buffer.alloc(256, "b"), timeoutMs: 10_000 });
    await sleep(2000);
    signal(o.pid, "SIGHUP");
    const reloadStops = await logged(o, logFrom, RELOAD_STOP, 2, "the first reload to stop both old workers");
    signal(o.pid, "SIGTTIN");
    const booted = (o.stderr().slice(logFrom).match(BOOTED) ?? []).length;
    await logged(o, logFrom, BOOTED, booted + 1, "the third worker (TTIN) to be ready");
    signal(o.pid, "SIGHUP");
    await logged(o, logFrom, RELOAD_STOP, reloadStops + 3, "the second reload to stop the three old workers");
    signal(o.pid, "SIGTTOU");
    await logged(o, logFrom, TTOU_STOP, 1, "TTOU to stop a worker");
    await sleep(500);
    run.stop();
    const tally = await within(run.done, 30_000, "the clients to finish");
    const log = o.stderr().slice(logFrom);
    const byReload = (log.match(RELOAD_STOP) ?? []).length;
    t.diagnostic(summary(tally));
    // Before Node apps had a graceful stop of their own, 20 s of this lost 323 of 285k requests across 16 stops.
    assert.equal(failures(tally), 0, `${summary(tally)}\n${tally.examples.join("\n")}\n${log}`);
    assert.ok(tally.ok > 1000, `only ${tally.ok} requests were answered`);
    assert.ok(byReload >= 5, `the reloads stopped ${byReload} old workers (2 + 3 expected):\n${log}`);
    assert.ok(tally.closeResponses > 0, "no response said Connection: close: no stop happened while the clients were connected");
    assert.doesNotMatch(log, /\[(ERROR|CRITICAL)\]/, "errors in the log");
  } finally {
    await stop(o);
  }
});
