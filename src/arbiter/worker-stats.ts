import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { AccessRecord } from "../server/connection.ts";

/**
 * A worker's request counters for the master's /metrics (--metrics-bind). Per request the worker does a few
 * integer increments into typed arrays (no label strings, no objects); the arrays go to the master with the
 * heartbeat, which sums the workers and writes the Prometheus text. Counters are cumulative over the worker's
 * life, so a lost or late heartbeat loses nothing: the next one carries the totals.
 */

/** Upper bounds of the duration histogram's buckets, in milliseconds (Prometheus' default buckets, in ms). */
export const DURATION_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

/**
 * The methods counted by name; any other (an extension method, or a client's garbage that still parsed as a
 * token) counts as OTHER, so a client cannot make the master hold one series per word it sends.
 */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"] as const;
const METHOD_INDEX: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(METHODS.map((m, i) => [m, i])));
const OTHER = METHODS.length - 1;
/** Statuses 0 (no response: the client left first) to 599, one slot each per method. */
const STATUSES = 600;

/** What a worker reports: cumulative counters, and gauges as of now. Plain JSON for the IPC channel. */
export interface WorkerStats {
  /** [methodIndex * 600 + status, count] for each non-zero count. */
  requests: Array<[number, number]>;
  /** Per bucket of DURATION_BUCKETS_MS, then one past the last (+Inf): non-cumulative counts. */
  buckets: number[];
  /** Sum of the durations, in milliseconds. */
  durationMs: number;
  /** Requests handed to the app and not yet answered (oryx's engine only; a Node app's are not seen). */
  inFlight: number;
  connections: number;
  bytesIn: number;
  bytesOut: number;
  /** The event loop's delay, 99th percentile since the previous heartbeat, in seconds. */
  lagSeconds: number;
  rss: number;
}

const LAG_RESOLUTION_MS = 10;

/** Decodes one key of WorkerStats.requests. */
export function requestKey(key: number): { method: string; status: number } {
  return { method: METHODS[Math.floor(key / STATUSES)] ?? "OTHER", status: key % STATUSES };
}

export class StatsCollector {
  private readonly counts = new Float64Array(METHODS.length * STATUSES);
  private readonly buckets = new Float64Array(DURATION_BUCKETS_MS.length + 1);
  private durationMs = 0;
  private started = 0;
  private finished = 0;
  private readonly lag: IntervalHistogram;

  constructor() {
    this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    this.lag.enable();
  }

  /** Once per request head handed to the app. */
  readonly onRequest = (): void => {
    this.started++;
  };

  /** Once per completed or abandoned response (the engine's access hook). */
  readonly onAccess = (r: AccessRecord): void => {
    this.finished++;
    const method = r.head.method;
    // GET first: most requests, and a string compare is cheaper than the table's hash lookup.
    const m = method === "GET" ? 0 : (METHOD_INDEX[method] ?? OTHER);
    const status = r.status >= 0 && r.status < STATUSES ? r.status : 0;
    this.counts[m * STATUSES + status]!++;
    const ms = r.durationMs;
    this.durationMs += ms;
    let i = 0;
    while (i < DURATION_BUCKETS_MS.length && ms > DURATION_BUCKETS_MS[i]!) i++;
    this.buckets[i]!++;
  };

  /** The counters now; `resetLag` starts a new lag window (on the periodic heartbeat, not on a scrape). */
  snapshot(gauges: { connections: number; bytesIn: number; bytesOut: number; rss: number; nodeApp: boolean }, resetLag: boolean): WorkerStats {
    const requests: Array<[number, number]> = [];
    const c = this.counts;
    for (let k = 0; k < c.length; k++) if (c[k] !== 0) requests.push([k, c[k]!]);
    // Node's histogram records the whole interval between its timer's runs: the lag is what passes the resolution.
    const lagSeconds = this.lag.count > 0 ? Math.max(0, this.lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS) / 1000 : 0;
    if (resetLag) this.lag.reset();
    return {
      requests,
      buckets: Array.from(this.buckets),
      durationMs: this.durationMs,
      // A Node app's requests never pass onRequest: its in-flight count is unknown, reported as 0.
      inFlight: gauges.nodeApp ? 0 : Math.max(0, this.started - this.finished),
      connections: gauges.connections,
      bytesIn: gauges.bytesIn,
      bytesOut: gauges.bytesOut,
      lagSeconds,
      rss: gauges.rss,
    };
  }
}
