/** The pieces of /metrics on their own: the worker's counters, the master's sums and text, --metrics-bind's parser. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Totals, renderMetrics } from "../../src/arbiter/metrics.ts";
import { StatsCollector } from "../../src/arbiter/worker-stats.ts";
import { UsageError, parseMetricsBind } from "../../src/config/settings.ts";
import type { AccessRecord } from "../../src/server/connection.ts";

function record(method: string, status: number, durationMs: number): AccessRecord {
  return { head: { method }, status, durationMs } as unknown as AccessRecord;
}

const gauges = { connections: 3, bytesIn: 100, bytesOut: 200, rss: 1000, nodeApp: false };

describe("metrics", () => {
  test("a worker counts by method and status (unknown methods as OTHER), buckets durations, and knows what is in flight", () => {
    const c = new StatsCollector();
    for (let i = 0; i < 5; i++) c.onRequest();
    c.onAccess(record("GET", 200, 1));
    c.onAccess(record("GET", 200, 7));
    c.onAccess(record("POST", 500, 30));
    c.onAccess(record("BREW", 0, 20_000));
    const s = c.snapshot(gauges, true);
    assert.equal(s.inFlight, 1);
    assert.deepEqual(s.buckets, [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(s.durationMs, 20_038);
    const text = renderMetrics({
      retired: new Totals(),
      workers: [{ pid: 7, ready: true, stats: s, rss: null }],
      restarts: { crash: 1, timeout: 0, "max-requests": 2, reload: 0, memory: 0 },
      backlog: [{ listener: 'http://127.0.0.1:1"\\', queued: 4, limit: 128 }],
    });
    const lines = text.split("\n");
    assert.ok(lines.includes('oryx_http_requests_total{method="GET",status="200"} 2'));
    assert.ok(lines.includes('oryx_http_requests_total{method="POST",status="500"} 1'));
    assert.ok(lines.includes('oryx_http_requests_total{method="OTHER",status="0"} 1'));
    // Buckets are cumulative in the text; +Inf equals the count.
    assert.ok(lines.includes('oryx_http_request_duration_seconds_bucket{le="0.005"} 1'));
    assert.ok(lines.includes('oryx_http_request_duration_seconds_bucket{le="0.01"} 2'));
    assert.ok(lines.includes('oryx_http_request_duration_seconds_bucket{le="10"} 3'));
    assert.ok(lines.includes('oryx_http_request_duration_seconds_bucket{le="+Inf"} 4'));
    assert.ok(lines.includes("oryx_http_request_duration_seconds_count 4"));
    assert.ok(lines.includes("oryx_http_request_duration_seconds_sum 20.038"));
    assert.ok(lines.includes('oryx_worker_restarts_total{reason="max-requests"} 2'));
    assert.ok(lines.includes('oryx_worker_resident_memory_bytes{pid="7"} 1000'));
    assert.ok(lines.includes('oryx_listen_backlog{listener="http://127.0.0.1:1\\"\\\\"} 4'), "label values escaped");
    // Every sample's metric has a TYPE line before it.
    const typed = new Set(lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]));
    for (const l of lines) {
      if (l === "" || l.startsWith("#")) continue;
      const name = l.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, "");
      assert.ok(typed.has(name) || typed.has(l.split(/[{ ]/)[0]!), `no TYPE for ${l}`);
    }
  });

  test("gone workers' counters stay in the sums", () => {
    const a = new StatsCollector();
    a.onAccess(record("GET", 200, 1));
    const retired = new Totals();
    retired.add(a.snapshot(gauges, false));
    const b = new StatsCollector();
    b.onAccess(record("GET", 200, 1));
    const text = renderMetrics({ retired, workers: [{ pid: 8, ready: true, stats: b.snapshot(gauges, false), rss: null }], restarts: { crash: 0, timeout: 0, "max-requests": 0, reload: 1, memory: 0 }, backlog: [] });
    assert.match(text, /^oryx_http_requests_total\{method="GET",status="200"\} 2$/m);
    assert.match(text, /^oryx_bytes_sent_total 400$/m);
    // Gauges are the live workers' only.
    assert.match(text, /^oryx_connections_open 3$/m);
    assert.doesNotMatch(text, /oryx_listen_backlog/);
  });

  test("--metrics-bind: a bare port is loopback; HOST:PORT and [IPV6]:PORT as given; anything else is refused", () => {
    assert.equal(parseMetricsBind("9100"), "127.0.0.1:9100");
    assert.equal(parseMetricsBind("0.0.0.0:9100"), "0.0.0.0:9100");
    assert.equal(parseMetricsBind("[::1]:9100"), "[::1]:9100");
    assert.equal(parseMetricsBind(""), "");
    assert.throws(() => parseMetricsBind("unix:/tmp/x"), UsageError);
    assert.throws(() => parseMetricsBind("99999"), UsageError);
    assert.throws(() => parseMetricsBind("localhost"), UsageError);
  });
});
