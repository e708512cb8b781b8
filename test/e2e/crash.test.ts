/**
 * Crash containment, through the CLI: an uncaught exception (a throw from an app's timer) or an unhandled
 * rejection in a worker is logged with the requests in flight, the worker stops accepting, lets its other
 * requests finish, exits, and its replacement starts at once. Every process is killed by pid in `after`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../support/cli.ts";
import { accepted, cleanup, fdBaseline, hit, launch, LOCAL, stop } from "../support/pool.ts";
import { alive } from "../support/proc.ts";
import { sleep, until, within } from "../support/wait.ts";

const APP = "test/fixtures/crash.ts";

before(ensureBuilt);
after(cleanup);

describe("a worker that crashes", { concurrency: false, timeout: 60_000 }, () => {
  for (const [path, what] of [
    ["/throw", "an uncaught exception"],
    ["/reject", "an unhandled promise rejection"],
  ] as const) {
    test(`${what} (${path}): a slow request in flight gets its full 200, the worker is replaced`, async () => {
      const o = await launch([APP, "-w", "1", "--graceful-timeout", "20s", ...LOCAL]);
      try {
        const [victim] = o.workers();
        assert.ok(victim !== undefined);
        const base = fdBaseline(o);
        const slow = hit(o.port, "/slow?ms=2500", { timeoutMs: 20_000 });
        await accepted(base, 5000);
        await sleep(200); // its head is read: it is in flight
        const logFrom = o.stderr().length;
        const trigger = await hit(o.port, path);
        assert.ok(trigger.ok, `the request that crashes the worker later was answered first: ${trigger.error}`);

        // Logged, with the requests in flight (which one it came from is not known; here, one whose response is out).
        const line = await o.waitLog(new RegExp(`\\[ERROR\\] ${what} in worker ${victim} \\(in flight at the time: GET /slow\\): it stops accepting`), 10_000, "the crash line", logFrom);
        assert.ok(line !== null);
        assert.match(o.stderr().slice(logFrom), path === "/throw" ? /thrown from a timer in the app/ : /rejected in the app, and nobody listens/);

        // A replacement starts at once (-w 1: nobody else accepts), while the old worker finishes.
        await until(() => o.workers().some((p) => p !== victim), 15_000, "a replacement worker");
        assert.ok(alive(victim), "the crashed worker waits for its request in flight");

        const r = await slow;
        assert.ok(r.ok, `the slow request failed: ${r.error}`);
        assert.equal(r.body, `slept 2500 ms (${victim})`);

        // The old worker exits (code 1) once its request is done; new requests go to the replacement.
        await until(() => !alive(victim), 10_000, "the crashed worker to exit");
        const after = await hit(o.port, "/", { timeoutMs: 15_000 });
        assert.ok(after.ok, after.error);
        assert.notEqual(Number(after.body), victim);
        assert.deepEqual(o.workers().length, 1);
        const exit = await within(stop(o), 15_000, "the master to stop");
        assert.deepEqual(exit, { code: 0, signal: null });
      } finally {
        await stop(o);
      }
    });
  }

  test("with -w 2, requests keep being answered while a worker crashes and drains", async () => {
    const o = await launch([APP, "-w", "2", ...LOCAL]);
    try {
      const workers = o.workers();
      assert.equal(workers.length, 2);
      const logFrom = o.stderr().length;
      const slow = hit(o.port, "/slow?ms=1500", { timeoutMs: 20_000 });
      const trigger = await hit(o.port, "/throw");
      assert.ok(trigger.ok, trigger.error);
      const crashed = Number((await o.waitLog(/an uncaught exception in worker (\d+)/, 10_000, "the crash line", logFrom))[1]);
      assert.ok(workers.includes(crashed), `the crash line names worker ${crashed}`);
      const during: Array<Promise<boolean>> = [];
      for (let i = 0; i < 20; i++) {
        during.push(hit(o.port, "/", { timeoutMs: 15_000 }).then((h) => h.ok));
        await sleep(50);
      }
      assert.deepEqual((await Promise.all(during)).filter((ok) => !ok).length, 0, "requests failed while a worker crashed");
      assert.ok((await slow).ok, "the slow request failed");
      await until(() => o.workers().length === 2 && !o.workers().includes(crashed), 15_000, "two workers again, without the crashed one");
    } finally {
      await stop(o);
    }
  });
});
