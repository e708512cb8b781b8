import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { DURATION_BUCKETS_MS, requestKey, type WorkerStats } from "./worker-stats.ts";

/**
 * The master's side of /metrics: the workers' counters summed, with the master's own (workers, restarts, the
 * listen backlog), written in the Prometheus text exposition format (version 0.0.4).
 *
 * Written here rather than with prom-client: the workers' histograms arrive already bucketed, and prom-client's
 * Histogram takes only single observations (its cluster aggregator wants prom-client running in every worker,
 * paying its label hashing on each request). The format itself is a few lines per metric.
 */

export const RESTART_REASONS = ["crash", "timeout", "max-requests", "reload", "memory"] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** Counters summed over workers: those gone (their last report) and those alive. */
export class Totals {
  readonly requests = new Map<number, number>();
  readonly buckets = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0);
  durationMs = 0;
  bytesIn = 0;
  bytesOut = 0;

  add(s: WorkerStats): void {
    for (const [k, n] of s.requests) this.requests.set(k, (this.requests.get(k) ?? 0) + n);
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i]! += s.buckets[i] ?? 0;
    this.durationMs += s.durationMs;
    this.bytesIn += s.bytesIn;
    this.bytesOut += s.bytesOut;
  }

  clone(): Totals {
    const t = new Totals();
    for (const [k, n] of this.requests) t.requests.set(k, n);
    for (let i = 0; i < t.buckets.length; i++) t.buckets[i] = this.buckets[i]!;
    t.durationMs = this.durationMs;
    t.bytesIn = this.bytesIn;
    t.bytesOut = this.bytesOut;
    return t;
  }
}

export interface MetricsInput {
  /** Gone workers' last counters. */
  retired: Totals;
  /** Each live worker's last report (null: none yet). */
  workers: Array<{ pid: number; ready: boolean; stats: WorkerStats | null; rss: number | null }>;
  restarts: Record<RestartReason, number>;
  /** Accept-queue length per listener, where the kernel tells it. */
  backlog: Array<{ listener: string; queued: number; limit: number | null }>;
}

/** A label value as the text format wants it: backslash, double quote and newline escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function num(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

export function renderMetrics(input: MetricsInput): string {
  const t = input.retired.clone();
  let inFlight = 0;
  let connections = 0;
  for (const w of input.workers) {
    if (w.stats === null) continue;
    t.add(w.stats);
    inFlight += w.stats.inFlight;
    connections += w.stats.connections;
  }
  const out: string[] = [];
  const head = (name: string, type: string, help: string): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };

  head("oryx_http_requests_total", "counter", "Requests answered (or abandoned: status 0), by method and status, summed over every worker since the master started.");
  const keys = [...t.requests.keys()].sort((a, b) => a - b);
  for (const k of keys) {
    const { method, status } = requestKey(k);
    out.push(`oryx_http_requests_total{method="${label(method)}",status="${status}"} ${num(t.requests.get(k)!)}`);
  }

  head("oryx_http_request_duration_seconds", "histogram", "Time from a request's head to the end of its response, in seconds.");
  let cumulative = 0;
  DURATION_BUCKETS_MS.forEach((le, i) => {
    cumulative += t.buckets[i]!;
    out.push(`oryx_http_request_duration_seconds_bucket{le="${le / 1000}"} ${num(cumulative)}`);
  });
  cumulative += t.buckets[DURATION_BUCKETS_MS.length]!;
  out.push(`oryx_http_request_duration_seconds_bucket{le="+Inf"} ${num(cumulative)}`);
  out.push(`oryx_http_request_duration_seconds_sum ${num(t.durationMs / 1000)}`);
  out.push(`oryx_http_request_duration_seconds_count ${num(cumulative)}`);

  head("oryx_http_requests_in_flight", "gauge", "Requests handed to the app and not yet answered (fetch apps; a Node app's are not seen).");
  out.push(`oryx_http_requests_in_flight ${num(inFlight)}`);
  head("oryx_connections_open", "gauge", "Client connections the workers hold open.");
  out.push(`oryx_connections_open ${num(connections)}`);
  head("oryx_bytes_received_total", "counter", "Bytes read from client connections.");
  out.push(`oryx_bytes_received_total ${num(t.bytesIn)}`);
  head("oryx_bytes_sent_total", "counter", "Bytes written to client connections.");
  out.push(`oryx_bytes_sent_total ${num(t.bytesOut)}`);

  head("oryx_workers", "gauge", "Worker processes, by state (ready: serving; booting: loading the app).");
  const ready = input.workers.filter((w) => w.ready).length;
  out.push(`oryx_workers{state="ready"} ${ready}`, `oryx_workers{state="booting"} ${input.workers.length - ready}`);

  head("oryx_worker_restarts_total", "counter", "Workers replaced, by why: crash, timeout (stopped answering), max-requests, reload, memory (--max-worker-memory).");
  for (const r of RESTART_REASONS) out.push(`oryx_worker_restarts_total{reason="${r}"} ${input.restarts[r]}`);

  head("oryx_worker_event_loop_lag_seconds", "gauge", "Each worker's event-loop delay, 99th percentile over its last heartbeat interval.");
  for (const w of input.workers) if (w.stats !== null) out.push(`oryx_worker_event_loop_lag_seconds{pid="${w.pid}"} ${num(w.stats.lagSeconds)}`);
  head("oryx_worker_resident_memory_bytes", "gauge", "Each worker's resident memory (RSS), as of its last heartbeat.");
  for (const w of input.workers) {
    const rss = w.stats?.rss ?? w.rss;
    if (rss !== null) out.push(`oryx_worker_resident_memory_bytes{pid="${w.pid}"} ${num(rss)}`);
  }

  if (input.backlog.length > 0) {
    head("oryx_listen_backlog", "gauge", "Connections the kernel has accepted that no worker has taken yet (Linux: the listening socket's accept queue).");
    for (const b of input.backlog) out.push(`oryx_listen_backlog{listener="${label(b.listener)}"} ${b.queued}`);
    head("oryx_listen_backlog_limit", "gauge", "The most the accept queue holds (--backlog, capped by net.core.somaxconn).");
    for (const b of input.backlog) if (b.limit !== null) out.push(`oryx_listen_backlog_limit{listener="${label(b.listener)}"} ${b.limit}`);
  }
  return `${out.join("\n")}\n`;
}

/**
 * The accept-queue length of this process's listening TCP sockets, from /proc/net/tcp and tcp6: for a socket in
 * LISTEN state (0A) Linux reports the queue's length as rx_queue (its limit is not there: see backlogLimit). Sockets are matched
 * by inode to this process's descriptors, so another process's listener on the same port is never counted.
 * Elsewhere (or without /proc) the list is empty.
 */
export function listenBacklog(): Array<{ port: number; queued: number }> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync("/proc/self/fd")) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  return listeningTcpSockets()
    .filter((s) => inodes.has(s.inode))
    .map((s) => ({ port: s.port, queued: s.queued }));
}

/** A TCP socket in LISTEN state, as /proc/net/tcp or tcp6 shows it. */
export interface ProcListener {
  file: "/proc/net/tcp" | "/proc/net/tcp6";
  /** local_address as the file writes it: hex address, colon, hex port. */
  local: string;
  port: number;
  /** rx_queue, which for a listening socket is its accept queue's length. */
  queued: number;
  inode: string;
}

/** Every listening TCP socket of the machine (any process), from /proc/net/tcp and tcp6; empty without /proc. */
export function listeningTcpSockets(): ProcListener[] {
  const out: ProcListener[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"] as const) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode; 0A is LISTEN.
      if (f.length < 10 || f[3] !== "0A") continue;
      out.push({ file, local: f[1]!, port: parseInt(f[1]!.split(":")[1]!, 16), queued: parseInt(f[4]!.split(":")[1]!, 16), inode: f[9]! });
    }
  }
  return out;
}

/** The accept queue's limit: --backlog, which Linux caps at net.core.somaxconn; null where that is not known. */
export function backlogLimit(backlog: number): number | null {
  try {
    const max = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8").trim());
    return Number.isFinite(max) && max > 0 ? Math.min(backlog, max) : null;
  } catch {
    return null;
  }
}
