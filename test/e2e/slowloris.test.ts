/**
 * Defaults that hold under attack, through the CLI: slowloris connections (a partial head, a byte now and then)
 * and idle keep-alive connections do not starve new clients, at the defaults and over --worker-connections; and
 * --send-timeout closes a connection whose client stopped reading a response. Probes are asserted with bounds
 * generous enough for a busy CI machine; nothing here measures throughput. Every process is killed by pid.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { openFilesLimit } from "../../bench/soak-clients.ts";
import { connectionLimit } from "../../src/arbiter/worker.ts";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, type Hit, hit, launch, LOCAL, stop } from "../support/pool.ts";
import { fdCount } from "../support/proc.ts";
import { sleep, until } from "../support/wait.ts";

before(ensureBuilt);
after(cleanup);


interface Held {
  sockets: Set<net.Socket>;
  /** What the server sent each socket it closed (e.g. a 503), by first line. */
  answers: Map<string, number>;
  close(): void;
}

/**
 * `n` sockets, opened 100 at a time. slowloris: each sends a partial head, then one more header line every
 * `trickleMs`. idle: each sends one GET, reads its response and stays open.
 */
async function hold(port: number, n: number, kind: "slowloris" | "idle", trickleMs = 2000): Promise<Held> {
  const sockets = new Set<net.Socket>();
  const answers = new Map<string, number>();
  const timers: NodeJS.Timeout[] = [];
  let closing = false;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      let got = "";
      const done = setTimeout(resolve, 5000);
      s.on("error", () => {});
      s.on("connect", () => {
        sockets.add(s);
        if (kind === "slowloris") {
          s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
          let i = 0;
          timers.push(setInterval(() => s.writable && s.write(`X-${i++}: 1\r\n`), trickleMs));
          clearTimeout(done);
          resolve();
        } else {
          s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
      });
      s.on("data", (d: Buffer) => {
        got += d.toString("latin1");
        if (kind === "idle" && got.includes("\r\n\r\n")) {
          clearTimeout(done);
          resolve();
        }
      });
      s.on("close", () => {
        sockets.delete(s);
        if (closing) return;
        const first = got === "" ? "(nothing)" : got.slice(0, got.indexOf("\r\n"));
        answers.set(first, (answers.get(first) ?? 0) + 1);
        resolve();
      });
    });
  for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, one));
  return {
    sockets,
    answers,
    close: () => {
      closing = true;
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

/** `count` probes, `everyMs` apart, each a fresh connection's GET; returns them all. */
async function probes(port: number, count: number, everyMs: number, timeoutMs: number): Promise<Hit[]> {
  const out: Array<Promise<Hit>> = [];
  for (let i = 0; i < count; i++) {
    out.push(hit(port, "/", { timeoutMs }));
    await sleep(everyMs);
  }
  return Promise.all(out);
}

function describeProbes(ps: Hit[]): string {
  return ps.map((p) => (p.ok ? `${(p.responseAt - p.startedAt).toFixed(0)} ms` : p.error)).join(", ");
}

describe("held connections do not starve new clients", { concurrency: false, timeout: 120_000 }, () => {
  test("at the defaults: 1,500 slowloris sockets, and every probe is answered within 2 s", async (t) => {
    const limit = openFilesLimit();
    const n = limit === null ? 1500 : Math.min(1500, limit - 300);
    if (n < 500) return t.skip(`this process may open only ${limit} files`);
    const o = await launch(["examples/hello.ts", ...LOCAL]);
    const held = await hold(o.port, n, "slowloris");
    try {
      assert.ok(held.sockets.size >= n * 0.95, `only ${held.sockets.size} of ${n} slowloris sockets connected`);
      const [worker] = o.workers();
      await until(() => fdCount(worker!) >= n, 10_000, `the worker to hold the ${n} sockets`, () => `${fdCount(worker!)} descriptors`);
      const ps = await probes(o.port, 8, 500, 2000);
      t.diagnostic(`${held.sockets.size} slowloris sockets held; probes: ${describeProbes(ps)}`);
      assert.deepEqual(ps.filter((p) => !p.ok).length, 0, `probes not answered within 2 s: ${describeProbes(ps)}`);
      assert.ok(held.sockets.size >= n * 0.95, "the slowloris sockets were closed: they should be held until the header timeout");
    } finally {
      held.close();
      await stop(o);
    }
  });

  test("over --worker-connections: the oldest slowloris connections are closed (503) to make room, probes answered within 2 s", async (t) => {
    const o = await launch(["examples/hello.ts", "-w", "1", "--worker-connections", "50", ...LOCAL]);
    const held = await hold(o.port, 100, "slowloris", 500);
    try {
      // The first 50 are held; the rest wait, then each one taken closes one held for at least a second.
      await sleep(3000);
      const ps = await probes(o.port, 6, 300, 2000);
      t.diagnostic(`slowloris sockets still open: ${held.sockets.size}; closed by the server: ${JSON.stringify(Object.fromEntries(held.answers))}; probes: ${describeProbes(ps)}`);
      assert.deepEqual(ps.filter((p) => !p.ok).length, 0, `probes not answered within 2 s: ${describeProbes(ps)}`);
      assert.ok((held.answers.get("HTTP/1.1 503 Service Unavailable") ?? 0) >= 50, `the slowloris sockets closed to make room got a 503: ${JSON.stringify(Object.fromEntries(held.answers))}`);
      assert.match(o.stderr(), /serving/);
    } finally {
      held.close();
      await stop(o);
    }
  });

  test("over --worker-connections: the longest idle keep-alive connections are closed to make room, probes answered", async (t) => {
    const o = await launch(["examples/hello.ts", "-w", "1", "--worker-connections", "40", "--keep-alive-timeout", "60s", ...LOCAL]);
    const held = await hold(o.port, 40, "idle");
    try {
      assert.equal(held.sockets.size, 40);
      await sleep(1200); // idle for a second: they may be closed to make room
      const ps = await probes(o.port, 5, 200, 2000);
      t.diagnostic(`idle sockets still open: ${held.sockets.size}; probes: ${describeProbes(ps)}`);
      assert.deepEqual(ps.filter((p) => !p.ok).length, 0, `probes not answered within 2 s: ${describeProbes(ps)}`);
      assert.ok(held.sockets.size < 40, "no idle connection was closed to make room");
      assert.ok(held.sockets.size >= 30, `too many idle connections closed: ${40 - held.sockets.size} for 5 probes`);
    } finally {
      held.close();
      await stop(o);
    }
  });

  test("busy connections are never closed to make room: at the limit the worker stops accepting until one closes", async () => {
    const o = await launch(["test/fixtures/crash.ts", "-w", "1", "--worker-connections", "2", ...LOCAL]);
    try {
      const t0 = performance.now();
      const [a, b, c] = await Promise.all([hit(o.port, "/slow?ms=1200", { timeoutMs: 10_000 }), hit(o.port, "/slow?ms=1200", { timeoutMs: 10_000 }), sleep(300).then(() => hit(o.port, "/", { timeoutMs: 10_000 }))]);
      for (const r of [a, b, c]) assert.ok(r!.ok, r!.error);
      // The third waited for a place (about 1.2 s), and neither slow request was cut for it.
      assert.ok(c!.responseAt - t0 >= 1000, `the third was answered after ${(c!.responseAt - t0).toFixed(0)} ms: a busy connection made room?`);
    } finally {
      await stop(o);
    }
  });
});

describe("--send-timeout", { concurrency: false, timeout: 60_000 }, () => {
  test("a client that reads nothing of an endless response is closed after the timeout; others are served meanwhile", async () => {
    const o = await launch(["test/fixtures/crash.ts", "-w", "1", "--send-timeout", "1s", "--log-level", "debug", ...LOCAL]);
    const s = net.connect(o.port, "127.0.0.1");
    try {
      s.on("error", () => {});
      await new Promise<void>((r) => s.on("connect", () => r()));
      s.pause(); // read nothing
      s.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const [worker] = o.workers();
      const t0 = performance.now();
      // Served meanwhile.
      const other = await hit(o.port, "/", { timeoutMs: 5000 });
      assert.ok(other.ok, other.error);
      // The worker's descriptors now: the stalled connection was accepted before the one just served (the accept
      // queue is in order), and that one's descriptor is let go before counting. Counting right after connect()
      // could miss the stalled one, and then no later count would be lower.
      let base = fdCount(worker!);
      for (let i = 0; i < 10; i++) {
        await sleep(30);
        const now = fdCount(worker!);
        if (now === base) break;
        base = now;
      }
      await o.waitLog(/its client read nothing of the response for 1s \(--send-timeout\)/, 10_000, "the send-timeout line");
      const took = performance.now() - t0;
      assert.ok(took >= 900, `closed after ${took.toFixed(0)} ms, before the timeout`);
      await until(() => fdCount(worker!) < base, 5000, "the worker to close the connection");
      // The client, reading at last, finds the response cut short: the connection ends.
      const ended = new Promise<void>((r) => s.on("close", () => r()));
      s.resume();
      await until(() => s.destroyed || s.readableEnded, 10_000, "the client to see the end of the connection").catch(() => undefined);
      await Promise.race([ended, sleep(10_000)]);
      assert.ok(s.destroyed || s.readableEnded, "the connection did not end");
      const after = await hit(o.port, "/", { timeoutMs: 5000 });
      assert.ok(after.ok, after.error);
    } finally {
      s.destroy();
      await stop(o);
    }
  });

  test("a slow but steady reader is not cut: only a response that makes no progress times out", async () => {
    const o = await launch(["test/fixtures/crash.ts", "-w", "1", "--send-timeout", "1s", "--log-level", "debug", ...LOCAL]);
    const s = net.connect(o.port, "127.0.0.1");
    try {
      s.on("error", () => {});
      let got = 0;
      await new Promise<void>((r) => s.on("connect", () => r()));
      s.on("data", (d: Buffer) => {
        got += d.length;
        // About 1 MiB/s, in small steps: the server's writes progress, slowly.
        s.pause();
        setTimeout(() => s.resume(), Math.ceil(d.length / 1024));
      });
      s.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      await sleep(3500);
      assert.ok(!s.destroyed && !s.readableEnded, "the slow reader's connection was closed");
      assert.doesNotMatch(o.stderr(), /--send-timeout/);
      assert.ok(got > 1024 * 1024, `only ${got} bytes read`);
    } finally {
      s.destroy();
      await stop(o);
    }
  });
});

describe("the connection limit and the open-files limit", () => {
  test("--worker-connections is kept a tenth (at least 100) under the soft open-files limit", () => {
    const limits = (soft: string, hard: string): string =>
      `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     \n`;
    assert.deepEqual(connectionLimit(16384, limits("1048576", "1048576")), { limit: 16384, nofile: 1048576 });
    assert.deepEqual(connectionLimit(16384, limits("1024", "4096")), { limit: 922, nofile: 1024 });
    assert.deepEqual(connectionLimit(16384, limits("20000", "20000")), { limit: 16384, nofile: 20000 });
    assert.deepEqual(connectionLimit(16384, limits("16384", "16384")), { limit: 14746, nofile: 16384 });
    assert.deepEqual(connectionLimit(16384, limits("unlimited", "unlimited")), { limit: 16384, nofile: null });
    assert.deepEqual(connectionLimit(16384, limits("256", "256")), { limit: 156, nofile: 256 });
    assert.deepEqual(connectionLimit(5, null), { limit: 5, nofile: null });
  });
});
