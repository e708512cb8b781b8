/**
 * What one thread counts: requests sent, responses by status, bytes received, errors by kind, and an HDR
 * histogram of latencies in microseconds. Threads send theirs as a plain object (the histogram in HdrHistogram's
 * lossless compressed encoding); the main thread merges them exactly: counts summed, histograms added.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";

export const ERROR_KINDS = ["refused", "reset", "timeout", "malformed", "other"] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];
export const REFUSED = 0;
export const RESET = 1;
export const TIMEOUT = 2;
export const MALFORMED = 3;
export const OTHER = 4;

/** One hour in microseconds: latencies above it are recorded as one hour. */
const HIGHEST_US = 3_600_000_000;

/** Pure JavaScript (no WebAssembly), 3 significant digits, 1 µs to 1 h. */
export function newHistogram(): Histogram {
  return build({ useWebAssembly: false, bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

export interface StatsData {
  sent: number;
  responses: number;
  bytes: number;
  /** Status code → count. */
  status: Record<string, number>;
  errors: Record<ErrorKind, number>;
  /** Requests a --rate schedule had due but could not send before the run ended (every connection busy). */
  unsent: number;
  /** Milliseconds from the end of warm-up to the last response or error. */
  elapsedMs: number;
  /** A message of an "other" error, for the report. */
  otherError: string | null;
  /** The latency histogram, HdrHistogram compressed base64. */
  histogram: string;
}

export class Stats {
  sent = 0;
  responses = 0;
  bytes = 0;
  unsent = 0;
  elapsedMs = 0;
  otherError: string | null = null;
  readonly status = new Float64Array(600);
  readonly errors = new Float64Array(ERROR_KINDS.length);
  readonly histogram = newHistogram();

  /** A response to a counted request, `latencyMs` after it was (meant to be) sent. */
  response(status: number, latencyMs: number): void {
    this.responses++;
    this.status[status]++;
    const us = Math.round(latencyMs * 1000);
    this.histogram.recordValue(us < 0 ? 0 : us > HIGHEST_US ? HIGHEST_US : us);
  }

  get errorCount(): number {
    let n = 0;
    for (let i = 0; i < this.errors.length; i++) n += this.errors[i]!;
    return n;
  }

  toData(): StatsData {
    const status: Record<string, number> = {};
    for (let s = 100; s < 600; s++) if (this.status[s]! > 0) status[String(s)] = this.status[s]!;
    const errors = Object.fromEntries(ERROR_KINDS.map((k, i) => [k, this.errors[i]!])) as Record<ErrorKind, number>;
    return {
      sent: this.sent,
      responses: this.responses,
      bytes: this.bytes,
      status,
      errors,
      unsent: this.unsent,
      elapsedMs: this.elapsedMs,
      otherError: this.otherError,
      histogram: encodeIntoCompressedBase64(this.histogram),
    };
  }
}

/** Merged results of every thread: the sums of their counts; elapsedMs is the longest thread's measured time. */
export interface Merged extends Omit<StatsData, "histogram"> {
  histogram: Histogram;
  /** Each thread's own counts, for the record (sent, responses, errors). */
  threads: Array<{ sent: number; responses: number; errors: number }>;
}

export function merge(parts: StatsData[]): Merged {
  const out: Merged = {
    sent: 0,
    responses: 0,
    bytes: 0,
    status: {},
    errors: { refused: 0, reset: 0, timeout: 0, malformed: 0, other: 0 },
    unsent: 0,
    elapsedMs: 0,
    otherError: null,
    histogram: newHistogram(),
    threads: [],
  };
  for (const p of parts) {
    out.sent += p.sent;
    out.responses += p.responses;
    out.bytes += p.bytes;
    out.unsent += p.unsent;
    out.elapsedMs = Math.max(out.elapsedMs, p.elapsedMs);
    out.otherError ??= p.otherError;
    for (const [s, n] of Object.entries(p.status)) out.status[s] = (out.status[s] ?? 0) + n;
    let errors = 0;
    for (const k of ERROR_KINDS) {
      out.errors[k] += p.errors[k];
      errors += p.errors[k];
    }
    const h = decodeFromCompressedBase64(p.histogram, 32, false);
    out.histogram.add(h);
    out.threads.push({ sent: p.sent, responses: p.responses, errors });
  }
  return out;
}
