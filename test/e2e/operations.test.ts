/**
 * Operations through the real CLI with a pool of workers: the admin listener (--metrics-bind: /metrics summed over
 * the workers, /healthz, /readyz), --shutdown-delay and --max-worker-memory. Every process is started here and
 * killed by pid in `after`; nothing asserts a duration, only orders and counts.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { ensureBuilt, runCli } from "../support/cli.ts";
import { cleanup, failureSummary, hit, launch, load, LOCAL, type Oryx, stop, workersGone } from "../support/pool.ts";
import { signal } from "../support/proc.ts";
import { sleep, until } from "../support/wait.ts";

before(ensureBuilt);
after(cleanup);

/** The admin listener's URL, from its log line. */
async function adminUrl(o: Oryx): Promise<string> {
  const m = await o.waitLog(/admin listener at (http:\/\/[^\s]+)/, 5000, "the admin listener's line");
  return m[1]!;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Polls an asynchronous `pred` until it is true; throws after `ms`. */
async function poll(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The samples of a Prometheus text, as "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** `n` keep-alive requests per loop, `loops` at once, through fetch (undici keeps its connections). */
async function keepAliveRequests(port: number, loops: number, n: number, method = "GET"): Promise<number> {
  let ok = 0;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      for (let i = 0; i < n; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/k`, { method, ...(method === "POST" ? { body: "x" } : {}) });
        await res.text();
        if (res.status === 200) ok++;
      }
    }),
  );
  return ok;
}

describe("the admin listener", { concurrency: false }, () => {
  test("/metrics from a -w 2 pool counts exactly the requests sent, also across a reload", async () => {
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL, "--metrics-bind", "127.0.0.1:0"]);
    const admin = await adminUrl(o);
    const before = samples((await get(`${admin}/metrics`)).body);
    assert.equal(before.get('oryx_workers{state="ready"}'), 2);
    assert.equal(before.get('oryx_http_requests_total{method="GET",status="200"}'), undefined, "nothing counted before any request");

    const gets = await keepAliveRequests(o.port, 8, 50);
    const posts = await keepAliveRequests(o.port, 3, 10, "POST");
    const closing = load(o.port, 5, "/c");
    await until(() => closing.results.length >= 100, 30_000, "100 requests on fresh connections");
    const closed = await closing.stop();
    assert.equal(closed.filter((h) => !h.ok).length, 0, failureSummary(closed));
    assert.equal(gets, 400);
    assert.equal(posts, 30);

    // No waiting for a heartbeat: the scrape asks each worker for its counters.
    let m = samples((await get(`${admin}/metrics`)).body);
    const sent = 400 + closed.length;
    assert.equal(m.get('oryx_http_requests_total{method="GET",status="200"}'), sent);
    assert.equal(m.get('oryx_http_requests_total{method="POST",status="200"}'), 30);
    assert.equal(m.get('oryx_http_request_duration_seconds_count'), sent + 30);
    assert.equal(m.get('oryx_http_request_duration_seconds_bucket{le="+Inf"}'), sent + 30);
    assert.ok(m.get("oryx_bytes_received_total")! > 0 && m.get("oryx_bytes_sent_total")! > 0);
    assert.equal(m.get("oryx_http_requests_in_flight"), 0);

    // A reload replaces both workers: what the old ones counted stays in the totals.
    const old = o.workers();
    signal(o.pid, "SIGHUP");
    await until(() => old.every((pid) => !o.workers().includes(pid)) && o.workers().length === 2, 30_000, "the old workers to be replaced");
    await until(() => /worker \d+ is ready[\s\S]*worker \d+ is ready/.test(o.stderr()), 30_000, "two new workers ready");
    const more = await keepAliveRequests(o.port, 2, 25);
    assert.equal(more, 50);
    m = samples((await get(`${admin}/metrics`)).body);
    assert.equal(m.get('oryx_http_requests_total{method="GET",status="200"}'), sent + 50);
    assert.equal(m.get('oryx_worker_restarts_total{reason="reload"}'), 2);
    assert.equal(m.get('oryx_worker_restarts_total{reason="crash"}'), 0);
    for (const pid of o.workers()) assert.ok(m.has(`oryx_worker_resident_memory_bytes{pid="${pid}"}`), `RSS of worker ${pid}`);
    assert.equal((await stop(o)).code, 0);
  });

  test("/healthz and /readyz answer 200 when the pool is ready, 404 elsewhere; /readyz turns 503 at SIGTERM with --shutdown-delay while requests still succeed", async () => {
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL, "--metrics-bind", "127.0.0.1:0", "--shutdown-delay", "3s"]);
    const admin = await adminUrl(o);
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    assert.equal((await get(`${admin}/readyz`)).status, 200);
    assert.equal((await get(`${admin}/nothing`)).status, 404);
    const from = o.stderr().length;
    signal(o.pid, "SIGTERM");
    // At once: no request to the app is needed for readiness to fail.
    await poll(async () => (await get(`${admin}/readyz`)).status === 503, 5000, "/readyz to answer 503");
    // During the delay: new connections are served, and the master is still healthy.
    const during = await Promise.all(Array.from({ length: 20 }, () => hit(o.port, "/during")));
    assert.equal(during.filter((h) => !h.ok).length, 0, failureSummary(during));
    assert.equal((await get(`${admin}/healthz`)).status, 200);
    assert.doesNotMatch(o.stderr().slice(from), /--shutdown-delay is over/, "the requests were sent during the delay");
    const exit = await o.exited;
    assert.equal(exit.code, 0);
    assert.match(o.stderr().slice(from), /not ready any more[\s\S]*--shutdown-delay is over: stopping[\s\S]*stopped/);
    assert.deepEqual(await workersGone(o, 5000), []);
  });

  test("--metrics-bind on a port already in use: one sentence, exit 3, no worker started", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await runCli(["examples/hello.ts", ...LOCAL, "--metrics-bind", `127.0.0.1:${port}`]);
      assert.equal(r.code, 3);
      assert.equal(r.stderr, `oryx: cannot listen on 127.0.0.1:${port} (--metrics-bind): address already in use\n`);
    } finally {
      busy.close();
    }
  });

  test("--max-worker-memory: a worker past it is replaced (its replacement first), counted as memory, and requests keep succeeding", async () => {
    // 1 KiB: every worker passes it at its first heartbeat, so workers keep being replaced.
    const o = await launch(["examples/hello.ts", "-w", "2", ...LOCAL, "--metrics-bind", "127.0.0.1:0", "--max-worker-memory", "1k"]);
    const admin = await adminUrl(o);
    const traffic = load(o.port, 4, "/m");
    await o.waitLog(/stopping worker \d+ \(--max-worker-memory; its replacement is ready\)/, 20_000, "a worker retired for its memory");
    await poll(async () => (samples((await get(`${admin}/metrics`)).body).get('oryx_worker_restarts_total{reason="memory"}') ?? 0) >= 1, 20_000, "a restart counted as memory");
    const hits = await traffic.stop();
    assert.ok(hits.length > 0);
    assert.equal(hits.filter((h) => !h.ok).length, 0, failureSummary(hits));
    assert.equal((await stop(o)).code, 0);
  });
});
