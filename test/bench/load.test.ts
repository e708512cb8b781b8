/**
 * The load engine (Runner, runLoad) against fixed node:net servers written here, so every count is exact:
 * requests sent = responses + errors, -n is exact, pipelined responses are taken in order, malformed responses
 * and closes are classified, --rate holds its rate, and threads merge exactly.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { Runner, runLoad, planThreads } from "../../src/bench/run.ts";
import { merge } from "../../src/bench/stats.ts";
import { deadPort, errorTotal, fixedServer, ok, OK, plan, type FixedServer } from "./fixtures.ts";

const servers: FixedServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function serve(answer: Parameters<typeof fixedServer>[0]): Promise<FixedServer> {
  const s = await fixedServer(answer);
  servers.push(s);
  return s;
}

describe("bench load: exact counts", () => {
  test("-n 1000 -c 10: exactly 1000 sent, 1000 responses, histogram of 1000, no error", async () => {
    const srv = await serve(() => ({ write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 10, requests: 1000 }), 1).result;
    assert.equal(m.sent, 1000);
    assert.equal(m.responses, 1000);
    assert.equal(errorTotal(m), 0);
    assert.deepEqual(m.status, { "200": 1000 });
    assert.equal(m.histogram.totalCount, 1000);
    assert.equal(srv.received, 1000, "the server saw exactly the requests counted");
    assert.equal(srv.connections, 10);
    assert.equal(m.bytes, 1000 * OK.length);
  });

  test("-d: sent = responses + errors, with answers that fail now and then", async () => {
    // Every 7th request gets a bad status line (and its connection is replaced); the rest are answered.
    const srv = await serve((r) => (r.seq % 7 === 6 ? { write: "HTTP/1.1 OK\r\n\r\n" } : { write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 4, requests: null, durationMs: 500 }), 1).result;
    assert.ok(m.responses > 50, `responses: ${m.responses}`);
    assert.equal(m.sent, m.responses + errorTotal(m));
    assert.ok(m.errors.malformed > 0);
    assert.equal(m.errors.malformed + m.errors.reset + m.errors.other, errorTotal(m) - m.errors.refused - m.errors.timeout);
    assert.ok(m.elapsedMs >= 450 && m.elapsedMs < 3000, `elapsed ${m.elapsedMs}`);
  });

  test("-n with every third response malformed: exactly two thirds answered", async () => {
    const srv = await serve((r) => (r.seq % 3 === 2 ? { write: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" } : { write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 1, requests: 30 }), 1).result;
    assert.equal(m.responses, 20);
    assert.equal(m.errors.malformed, 10);
    assert.equal(m.sent, 30);
  });
});

describe("bench load: pipelining", () => {
  test("-p 8 on one connection: responses are taken strictly in order", async () => {
    // Response k carries status 400 + k % 100 and a body whose length depends on k, some chunked, written in
    // odd pieces; the statuses the client records must come back in exactly the order they were sent.
    const srv = await serve((r) => {
      const body = "x".repeat(r.seq % 13);
      const status = 400 + (r.seq % 100);
      const write =
        r.seq % 2 === 0
          ? `HTTP/1.1 ${status} S\r\nContent-Length: ${body.length}\r\n\r\n${body}`
          : `HTTP/1.1 ${status} S\r\nTransfer-Encoding: chunked\r\n\r\n${body.length > 0 ? `${body.length.toString(16)}\r\n${body}\r\n` : ""}0\r\n\r\n`;
      return { write };
    });
    const runner = new Runner(plan(srv.port, { connections: 1, pipelining: 8, requests: 500 }));
    const order: number[] = [];
    const record = runner.stats.response.bind(runner.stats);
    runner.stats.response = (status, latency) => {
      order.push(status);
      record(status, latency);
    };
    const m = merge([await runner.run()]);
    assert.equal(m.responses, 500);
    assert.equal(errorTotal(m), 0);
    assert.deepEqual(order, Array.from({ length: 500 }, (_, k) => 400 + (k % 100)));
    assert.equal(srv.connections, 1);
  });

  test("-p 4 where every response says Connection: close: the requests behind it are re-sent, none lost or doubled", async () => {
    const srv = await serve(() => ({ write: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", then: "end" }));
    const m = await runLoad(plan(srv.port, { connections: 3, pipelining: 4, requests: 120 }), 1).result;
    assert.equal(m.responses, 120);
    assert.equal(errorTotal(m), 0);
    assert.equal(srv.connections >= 120, true, `one connection per response: ${srv.connections}`);
  });

  test("close-delimited responses (no Content-Length, no chunked) complete at the close", async () => {
    const srv = await serve(() => ({ write: "HTTP/1.1 200 OK\r\n\r\nuntil the end", then: "end" }));
    const m = await runLoad(plan(srv.port, { connections: 2, requests: 50 }), 1).result;
    assert.equal(m.responses, 50);
    assert.equal(errorTotal(m), 0);
  });
});

describe("bench load: errors by kind", () => {
  test("bad chunked framing is malformed", async () => {
    const srv = await serve(() => ({ write: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n" }));
    const m = await runLoad(plan(srv.port, { connections: 2, requests: 20 }), 1).result;
    assert.equal(m.responses, 0);
    assert.equal(m.errors.malformed, 20);
    assert.equal(m.sent, 20);
  });

  test("a body shorter than its Content-Length, then a close, is malformed", async () => {
    const srv = await serve(() => ({ write: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", then: "end" }));
    const m = await runLoad(plan(srv.port, { connections: 2, requests: 20 }), 1).result;
    assert.equal(m.errors.malformed, 20);
    assert.equal(m.responses, 0);
  });

  test("a connection closed or reset without an answer is a reset", async () => {
    const closed = await serve(() => ({ then: "end" }));
    const a = await runLoad(plan(closed.port, { connections: 2, requests: 20 }), 1).result;
    assert.equal(a.errors.reset, 20);
    const reset = await serve(() => ({ then: "reset" }));
    const b = await runLoad(plan(reset.port, { connections: 2, requests: 20 }), 1).result;
    assert.equal(b.errors.reset, 20);
    assert.equal(b.sent, 20);
  });

  test("nothing listening: every request is refused, and the run still ends", async () => {
    const port = await deadPort();
    const m = await runLoad(plan(port, { connections: 3, requests: 15 }), 1).result;
    assert.equal(m.errors.refused, 15);
    assert.equal(m.sent, 15);
    assert.equal(m.responses, 0);
  });

  test("a server that never answers: every request times out after --timeout", async () => {
    const srv = await serve(() => null);
    const t = performance.now();
    const m = await runLoad(plan(srv.port, { connections: 5, requests: 5, timeoutMs: 300 }), 1).result;
    assert.equal(m.errors.timeout, 5);
    assert.equal(m.sent, 5);
    const took = performance.now() - t;
    assert.ok(took >= 290 && took < 5000, `took ${took} ms`);
  });

  test("a response nobody asked for is malformed", async () => {
    const srv = await serve(() => ({ write: OK + OK }));
    const m = await runLoad(plan(srv.port, { connections: 1, requests: 10 }), 1).result;
    assert.ok(m.errors.malformed > 0);
    assert.equal(m.responses, 10);
  });
});

describe("bench load: rate, warm-up, threads", () => {
  test("--rate 200 -d 2 sends about 400 requests", async () => {
    const srv = await serve(() => ({ write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 10, requests: null, durationMs: 2000, rate: 200 }), 1).result;
    assert.ok(m.sent >= 300 && m.sent <= 500, `sent ${m.sent}`);
    assert.equal(m.sent, m.responses + errorTotal(m));
    assert.equal(errorTotal(m), 0);
  });

  test("--rate measures from the intended send time: a stalled server shows its stall", async () => {
    // One connection, 100/s; the server holds its first response 300 ms, so the ~30 requests due meanwhile
    // queue. Timed from their actual send they would look fast; timed from when they were due they do not.
    const slow = await fixedServerWithDelay(300);
    const m = await runLoad(plan(slow.port, { connections: 1, requests: 60, rate: 100 }), 1).result;
    assert.equal(m.responses, 60);
    // Due every 10 ms while the first is held 300 ms: about 25 of the 60 wait 50 ms or more past their due time.
    // Timed from the actual send, only the first would (p70 well under a millisecond).
    assert.ok(m.histogram.getValueAtPercentile(70) > 50_000, `p70 ${m.histogram.getValueAtPercentile(70)} µs should carry the stall`);
  });

  test("--warmup: nothing from the warm-up is counted", async () => {
    const srv = await serve(() => ({ write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 2, requests: null, durationMs: 300, warmupMs: 300 }), 1).result;
    assert.ok(srv.received > m.sent, `server saw ${srv.received}, counted ${m.sent}`);
    assert.equal(m.sent, m.responses + errorTotal(m));
    assert.ok(m.elapsedMs >= 250 && m.elapsedMs < 2000, `elapsed ${m.elapsedMs}`);
  });

  test("-t 2: per-thread counts sum to the total, histograms merge exactly", async () => {
    const srv = await serve(() => ({ write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 5, requests: 2001 }), 2).result;
    assert.equal(m.threads.length, 2);
    assert.equal(m.sent, 2001);
    assert.equal(m.responses, 2001);
    assert.equal(m.threads.reduce((n, t) => n + t.responses, 0), m.responses);
    assert.equal(m.threads.reduce((n, t) => n + t.sent, 0), m.sent);
    assert.deepEqual(
      m.threads.map((t) => t.responses),
      planThreads(plan(srv.port, { connections: 5, requests: 2001 }), 2).map((p) => p.requests),
    );
    assert.equal(m.histogram.totalCount, m.responses);
    assert.equal(srv.received, 2001);
  });

  test("-t 2 -d: merged totals equal the sum of the threads", async () => {
    const srv = await serve(() => ({ write: OK }));
    const m = await runLoad(plan(srv.port, { connections: 4, requests: null, durationMs: 500 }), 2).result;
    assert.equal(m.threads.length, 2);
    assert.ok(m.threads.every((t) => t.responses > 0));
    assert.equal(m.threads.reduce((n, t) => n + t.responses, 0), m.responses);
    assert.equal(m.histogram.totalCount, m.responses);
    assert.equal(m.sent, m.responses + errorTotal(m));
  });
});

/** A server that answers its first request `ms` late and the rest at once, in order (the first holds up those behind it). */
async function fixedServerWithDelay(ms: number): Promise<FixedServer> {
  const sockets = new Set<net.Socket>();
  let first = true;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    let buf = "";
    let queue = Promise.resolve();
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      for (let i = buf.indexOf("\r\n\r\n"); i >= 0; i = buf.indexOf("\r\n\r\n")) {
        buf = buf.slice(i + 4);
        const wait = first ? ms : 0;
        first = false;
        queue = queue.then(() => new Promise<void>((r) => setTimeout(() => (sock.destroyed || sock.write(ok()), r()), wait)));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const s: FixedServer = {
    port,
    url: `http://127.0.0.1:${port}/`,
    received: 0,
    connections: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const x of sockets) x.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}
