/**
 * The worker pool at its limits, as whole processes: many workers exiting at once (no zombies), many short
 * connections (no leaked descriptors), and more clients than the worker may hold descriptors for (no crash, no
 * busy loop, and service resumes). Processes are seen through /proc; every one is killed by pid in `after`.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, failureSummary, type Hit, hit, launch, LOCAL, stop } from "../support/pool.ts";
import { alive, children, clockTicks, fdCount, fdTargets, procStat } from "../support/proc.ts";
import { sleep, until } from "../support/wait.ts";

before(ensureBuilt);
after(cleanup);

/** `total` requests (`Connection: close`, one connection each) from `concurrency` loops. */
async function many(port: number, target: string, total: number, concurrency: number, timeoutMs = 15_000): Promise<Hit[]> {
  const out: Hit[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        out.push(await hit(port, target, { timeoutMs }));
      }
    }),
  );
  return out;
}

describe("the worker pool at its limits", { concurrency: false }, () => {
  test("no zombies: -w 4 --max-requests 1, 128 clients at once, 3 rounds: then exactly 4 live workers and no Z child", async () => {
    const o = await launch(["test/fixtures/pid.ts", "-w", "4", "--max-requests", "1", ...LOCAL]);
    try {
      const first = o.workers();
      assert.equal(first.length, 4);
      const answered = new Set<number>();
      const all: Hit[] = [];
      const settled = (): boolean => {
        const cs = children(o.pid);
        o.workers();
        return cs.length === 4 && cs.every((c) => c.state !== "Z");
      };
      for (let round = 1; round <= 3; round++) {
        const rs = await Promise.all(Array.from({ length: 128 }, () => hit(o.port, "/", { timeoutMs: 20_000 })));
        all.push(...rs);
        for (const r of rs) if (r.ok) answered.add(Number(r.body));
        // Every worker that answered has retired: the pool churns until 4 fresh workers are ready.
        await until(settled, 30_000, `the pool to settle after round ${round}`, () => JSON.stringify(children(o.pid)), 100);
      }
      assert.equal(all.filter((r) => !r.ok).length, 0, `failed requests: ${failureSummary(all)}`);
      assert.ok(answered.size >= 8, `only ${answered.size} workers answered: --max-requests 1 did not retire them`);
      // Settled means 4 children, none a zombie; it stays so.
      await sleep(1500);
      const cs = children(o.pid);
      assert.deepEqual(cs.filter((c) => c.state === "Z"), [], "zombie children");
      assert.equal(cs.length, 4, `exactly 4 children: ${JSON.stringify(cs)}`);
      const live = new Set(cs.map((c) => c.pid));
      const retired = [...o.seen].filter((p) => !live.has(p));
      assert.ok(retired.length >= 4, `at least the first 4 workers retired: ${retired.join(", ")}`);
      for (const p of retired) assert.equal(alive(p), false, `retired worker ${p} still runs`);
      for (const p of first) assert.ok(!live.has(p), `first-generation worker ${p} did not retire`);
      assert.match(o.stderr(), /\(--max-requests; its replacement is ready\)/);
    } finally {
      await stop(o);
    }
  });

  test("no leaked descriptors: a worker's open files are back to baseline after 10,000 short connections; EOF comes at once", async (t) => {
    const o = await launch(["examples/hello.ts", "-w", "1", ...LOCAL]);
    try {
      const [worker] = o.workers();
      assert.ok(worker !== undefined);
      // Warm up (lazy handles: timers, the thread pool), then take the baseline.
      const warm = await many(o.port, "/", 200, 10);
      assert.equal(warm.filter((r) => !r.ok).length, 0, failureSummary(warm));
      await sleep(500);
      const before = fdCount(worker);
      const t0 = performance.now();
      const rs = await many(o.port, "/", 10_000, 50);
      const took = performance.now() - t0;
      assert.equal(rs.filter((r) => !r.ok).length, 0, `failed requests: ${failureSummary(rs)}`);
      assert.ok(rs.every((r) => r.body === "Hello, World!"));
      // Every response was followed by EOF (hit() waits for it, up to 15 s); and at once, not after a timeout
      // (--keep-alive-timeout is 5 s, the lingering close 2 s).
      const lag = Math.max(...rs.map((r) => r.eofAt - r.responseAt));
      assert.ok(lag < 1000, `EOF came up to ${lag.toFixed(0)} ms after the response`);
      let after = fdCount(worker);
      await until(
        () => (after = fdCount(worker)) <= before + 5,
        10_000,
        `the worker's descriptors back to ${before} (+5)`,
        () => `${after} open:\n${fdTargets(worker).join("\n")}`,
        100,
      );
      assert.deepEqual(o.workers(), [worker], "the same worker served everything");
      t.diagnostic(`10,000 requests in ${(took / 1000).toFixed(1)} s; worker fds ${before} before, ${after} after`);
    } finally {
      await stop(o);
    }
  });

  test("descriptor exhaustion: under prlimit --nofile=256, 300 clients at once: no crash, no busy loop, then every request is served", async (t) => {
    const o = await launch(["examples/hello.ts", "-w", "1", ...LOCAL], { wrapper: ["prlimit", "--nofile=256:256"] });
    try {
      const [worker] = o.workers();
      assert.ok(worker !== undefined);
      for (const pid of [o.pid, worker]) {
        assert.match(readFileSync(`/proc/${pid}/limits`, "utf8"), /^Max open files\s+256\s+256\s/m, `the limit applies to ${pid}`);
      }
      const baseline = fdCount(worker);

      interface Client {
        sock: net.Socket;
        connected: boolean;
        /** What happened to it, first event wins: "eof", an error code, or "" (still open, no answer). */
        fate: string;
        fateAt: number;
        bytes: number;
      }
      const t0 = performance.now();
      const clients: Client[] = Array.from({ length: 300 }, () => {
        const sock = net.connect(o.port, "127.0.0.1");
        const c: Client = { sock, connected: false, fate: "", fateAt: 0, bytes: 0 };
        const settle = (fate: string): void => {
          if (c.fate === "") {
            c.fate = fate;
            c.fateAt = performance.now() - t0;
          }
        };
        sock.on("connect", () => (c.connected = true));
        sock.on("data", (d: Buffer) => (c.bytes += d.length));
        sock.on("end", () => settle("eof"));
        sock.on("error", (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
        sock.on("close", () => settle("closed"));
        return c;
      });
      try {
        await until(() => clients.every((c) => c.connected || c.fate !== ""), 10_000, "every client to connect or fail");
        // Let the worker do whatever it does at the limit, then measure its CPU over a second while they hold.
        await sleep(1000);
        const cpu0 = procStat(worker)!.cpuTicks;
        const m0 = procStat(o.pid)!.cpuTicks;
        const s0 = performance.now();
        await sleep(1000);
        const secs = (performance.now() - s0) / 1000;
        const workerCpu = (procStat(worker)!.cpuTicks - cpu0) / clockTicks() / secs;
        const masterCpu = (procStat(o.pid)!.cpuTicks - m0) / clockTicks() / secs;
        const heldFds = fdCount(worker);
        // A request from a new client while the 300 hold, not asserted: what does the 301st see?
        const probe = await hit(o.port, "/", { timeoutMs: 2000 });

        const fates = new Map<string, number>();
        for (const c of clients) {
          const k = !c.connected ? `never connected (${c.fate || "pending"})` : c.fate === "" ? "connected, held open, no answer" : `connected, then ${c.fate}${c.bytes > 0 ? " after bytes" : ""}`;
          fates.set(k, (fates.get(k) ?? 0) + 1);
        }
        const closedAt = clients.filter((c) => c.fate !== "").map((c) => c.fateAt);
        t.diagnostic(`300 clients under --nofile=256 (worker baseline ${baseline} fds, ${heldFds} while they held): ${JSON.stringify(Object.fromEntries(fates))}`);
        if (closedAt.length > 0) t.diagnostic(`the closed ones closed between ${Math.min(...closedAt).toFixed(0)} and ${Math.max(...closedAt).toFixed(0)} ms after the storm began`);
        t.diagnostic(`while they held: worker CPU ${workerCpu.toFixed(2)} s/s, master CPU ${masterCpu.toFixed(2)} s/s; a 301st request: ${probe.ok ? "served" : probe.error}`);

        assert.equal(o.proc.exitCode, null, "the master is alive");
        assert.ok(alive(o.pid) && alive(worker), "master and worker alive");
        assert.deepEqual(o.workers(), [worker], "the worker was not replaced (no crash)");
        assert.ok(workerCpu < 0.8, `the worker used ${workerCpu.toFixed(2)} s of CPU per second at the limit: a busy loop`);
        assert.ok(masterCpu < 0.8, `the master used ${masterCpu.toFixed(2)} s of CPU per second`);
      } finally {
        for (const c of clients) c.sock.destroy();
      }

      // After the storm: every new request is served.
      await until(() => fdCount(worker) <= baseline + 5, 10_000, "the worker to close the storm's connections", () => `${fdCount(worker)} fds`, 100);
      const rs = await many(o.port, "/", 200, 20, 10_000);
      assert.equal(rs.filter((r) => !r.ok).length, 0, `requests after the storm failed: ${failureSummary(rs)}`);
      assert.deepEqual(o.workers(), [worker]);
      assert.match(o.stderr(), /serving/);
    } finally {
      await stop(o);
    }
  });
});
