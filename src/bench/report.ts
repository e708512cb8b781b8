/**
 * The load report: `BenchReport` is the --json shape (documented in the README section), and formatReport()
 * the text a person reads.
 */
import type { LoadOptions } from "./args.ts";
import { ERROR_KINDS, type ErrorKind, type Merged } from "./stats.ts";

/** What `oryx bench --json` prints (one object, one line) in load mode. Times are in the unit their name says. */
export interface BenchReport {
  mode: "load";
  url: string;
  /** What was asked for. */
  options: {
    connections: number;
    threads: number;
    pipelining: number;
    /** -d in seconds, or null when -n bounded the run. */
    durationSeconds: number | null;
    /** -n, or null. */
    requests: number | null;
    /** --rate in requests/s, or null for as fast as responses come. */
    rate: number | null;
    warmupSeconds: number;
    timeoutSeconds: number;
    method: string;
  };
  /** Measured time: from the end of the warm-up until the last request in flight ended. */
  durationSeconds: number;
  requests: {
    /** Requests issued after the warm-up. sent = responses + errors. */
    sent: number;
    /** Complete, well-formed responses (any status). */
    responses: number;
    /** Sum of `errors`. */
    errors: number;
    /** --rate only: requests that were due but not sent when the run ended, because every connection was busy. */
    unsent: number;
  };
  /** responses / durationSeconds. */
  requestsPerSecond: number;
  /** Every byte read from the server after the warm-up (heads and bodies). */
  bytesReceived: number;
  bytesPerSecond: number;
  /** Latency of the responses, from an HDR histogram (1 µs resolution, 3 significant digits). */
  latencyMicroseconds: { count: number; min: number; mean: number; stdev: number; p50: number; p90: number; p99: number; p99_9: number; max: number };
  /** Status code ("200") → responses. */
  status: Record<string, number>;
  /** Requests that ended without a response, by kind. */
  errors: Record<ErrorKind, number>;
  /** The message of one "other" error, or null. */
  otherError: string | null;
  /** Per thread: its own counts (they sum to `requests`). */
  threads: Array<{ sent: number; responses: number; errors: number }>;
}

export function buildReport(opts: LoadOptions, m: Merged): BenchReport {
  const seconds = m.elapsedMs / 1000;
  const h = m.histogram;
  const count = h.totalCount;
  const at = (p: number): number => (count === 0 ? 0 : h.getValueAtPercentile(p));
  const errors = ERROR_KINDS.reduce((n, k) => n + m.errors[k], 0);
  return {
    mode: "load",
    url: opts.target.url,
    options: {
      connections: opts.connections,
      threads: opts.threads,
      pipelining: opts.pipelining,
      durationSeconds: opts.duration,
      requests: opts.requests,
      rate: opts.rate,
      warmupSeconds: opts.warmup,
      timeoutSeconds: opts.timeout,
      method: opts.request.method,
    },
    durationSeconds: round(seconds, 3),
    requests: { sent: m.sent, responses: m.responses, errors, unsent: m.unsent },
    requestsPerSecond: seconds > 0 ? round(m.responses / seconds, 1) : 0,
    bytesReceived: m.bytes,
    bytesPerSecond: seconds > 0 ? Math.round(m.bytes / seconds) : 0,
    latencyMicroseconds: {
      count,
      min: count === 0 ? 0 : h.minNonZeroValue,
      mean: count === 0 ? 0 : round(h.mean, 1),
      stdev: count === 0 ? 0 : round(h.stdDeviation, 1),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p99_9: at(99.9),
      max: count === 0 ? 0 : h.maxValue,
    },
    status: m.status,
    errors: m.errors,
    otherError: m.otherError,
    threads: m.threads,
  };
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;
const int = (n: number): string => Math.round(n).toLocaleString("en-US");

export function formatMicros(us: number): string {
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatReport(r: BenchReport): string {
  const o = r.options;
  const what = [
    `${o.connections} connection${o.connections === 1 ? "" : "s"}`,
    `${o.threads} thread${o.threads === 1 ? "" : "s"}`,
    o.pipelining > 1 ? `pipelining ${o.pipelining}` : null,
    o.rate !== null ? `rate ${o.rate}/s` : null,
    o.requests !== null ? `${int(o.requests)} requests` : null,
    o.warmupSeconds > 0 ? `after ${o.warmupSeconds} s warm-up` : null,
  ].filter((x) => x !== null);
  const l = r.latencyMicroseconds;
  const status = Object.entries(r.status).map(([s, n]) => `${s} × ${int(n)}`);
  const errs = ERROR_KINDS.filter((k) => r.errors[k] > 0).map((k) => `${k} ${int(r.errors[k])}`);
  const lines = [
    `oryx bench ${o.method} ${r.url}: ${what.join(", ")}; measured ${r.durationSeconds.toFixed(2)} s`,
    `  requests    ${int(r.requests.sent)} sent, ${int(r.requests.responses)} responses, ${int(r.requests.errors)} errors${r.requests.unsent > 0 ? `, ${int(r.requests.unsent)} due but unsent (every connection busy)` : ""}`,
    `  throughput  ${int(r.requestsPerSecond)} requests/s, ${formatBytes(r.bytesPerSecond)}/s received`,
    l.count === 0
      ? `  latency     no responses`
      : `  latency     p50 ${formatMicros(l.p50)}   p90 ${formatMicros(l.p90)}   p99 ${formatMicros(l.p99)}   p99.9 ${formatMicros(l.p99_9)}   max ${formatMicros(l.max)}   (mean ${formatMicros(Math.round(l.mean))})`,
    `  status      ${status.length > 0 ? status.join(", ") : "none"}`,
    `  errors      ${errs.length > 0 ? errs.join(", ") : "none"}${r.otherError !== null ? ` (other: ${r.otherError})` : ""}`,
  ];
  if (r.threads.length > 1) {
    lines.push(`  threads     ${r.threads.map((t, i) => `#${i + 1} ${int(t.responses)}`).join(", ")} responses`);
  }
  return `${lines.join("\n")}\n`;
}

/** The live line (terminal only): elapsed seconds, responses so far and in the last second, errors. */
export function formatProgress(seconds: number, responses: number, lastSecond: number, errors: number): string {
  return `[${seconds}s] ${int(responses)} responses, ${int(lastSecond)}/s now, ${int(errors)} errors`;
}
