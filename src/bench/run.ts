/**
 * Scheduling: one Runner per thread drives its connections (slots), and runLoad() spreads a run over worker
 * threads and merges what they measured.
 *
 * Closed loop (no --rate): every connection keeps `pipelining` requests in flight, issuing the next request
 * the moment a response (or an error) frees a place; latency runs from the actual send.
 *
 * Fixed rate (--rate): request k is due at t0 + k/rate. Due requests go to any connection with a free place;
 * when every place is taken they wait, and latency still runs from the intended time, so a server that stalls
 * shows its stall in the percentiles instead of slowing the load down (no coordinated omission).
 *
 * End: after the duration (or once -n requests were issued) nothing new is issued; requests in flight finish
 * as responses or errors (bounded by --timeout), then every socket is closed.
 */
import { Worker } from "node:worker_threads";
import { Slot, type SlotHost } from "./client.ts";
import { requestCopies } from "./request.ts";
import { merge, Stats, type Merged, type StatsData } from "./stats.ts";

/** What one thread runs (plain data: it crosses to worker threads). */
export interface RunPlan {
  address: string;
  port: number;
  /** The serialized request. */
  request: Uint8Array;
  headRequests: boolean;
  connections: number;
  pipelining: number;
  durationMs: number | null;
  requests: number | null;
  /** Requests per second for this thread, or null for closed loop. */
  rate: number | null;
  timeoutMs: number;
  warmupMs: number;
}

export interface Progress {
  responses: number;
  errors: number;
}

export class Runner implements SlotHost {
  readonly address: string;
  readonly port: number;
  readonly copies: Buffer[];
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  readonly stats = new Stats();
  readonly headRequests: boolean;
  measureStart = 0;
  inflight = 0;
  finished = false;

  /** Still issuing requests. */
  private running = false;
  private readonly slots: Slot[] = [];
  /** Counted requests still to issue under -n. */
  private remaining = Infinity;
  private timers: NodeJS.Timeout[] = [];
  private done: ((data: StatsData) => void) | null = null;
  private finishing = false;

  // --rate
  private t0 = 0;
  private intervalMs = 0;
  private dispatched = 0;
  /** Most requests the schedule may dispatch (warm-up ones plus -n), or Infinity. */
  private cap = Infinity;
  /** Free places, one entry per place (a slot appears once for each free place it has). */
  private readonly tokens: Slot[] = [];
  private tickTimer: NodeJS.Timeout | null = null;

  constructor(private readonly plan: RunPlan) {
    this.address = plan.address;
    this.port = plan.port;
    this.copies = requestCopies(Buffer.from(plan.request.buffer, plan.request.byteOffset, plan.request.byteLength), plan.pipelining);
    this.headRequests = plan.headRequests;
  }

  get issuing(): boolean {
    return this.running;
  }

  /** Live counts, for the progress line. */
  progress(): Progress {
    return { responses: this.stats.responses, errors: this.stats.errorCount };
  }

  run(): Promise<StatsData> {
    const p = this.plan;
    const start = performance.now();
    this.measureStart = start + p.warmupMs;
    this.running = true;
    if (p.requests !== null) this.remaining = p.requests;
    if (p.durationMs !== null) this.timers.push(setTimeout(() => this.stopIssuing(), p.warmupMs + p.durationMs));
    const sweepMs = Math.max(5, Math.min(250, p.timeoutMs / 10));
    this.timers.push(setInterval(() => this.sweep(), sweepMs));
    const result = new Promise<StatsData>((resolve) => (this.done = resolve));

    for (let i = 0; i < p.connections; i++) this.slots.push(new Slot(this, p.pipelining));
    if (p.rate !== null) {
      this.t0 = start;
      this.intervalMs = 1000 / p.rate;
      // Request k is due at t0 + k·interval: the warm-up's ones, then -n of them, or those due before the deadline.
      if (p.requests !== null) this.cap = Math.ceil(p.warmupMs / this.intervalMs) + p.requests;
      if (p.durationMs !== null) this.cap = Math.ceil((p.warmupMs + p.durationMs) / this.intervalMs);
      for (const s of this.slots) for (let k = 0; k < p.pipelining; k++) this.tokens.push(s);
      for (const s of this.slots) s.start();
      this.tick();
    } else {
      for (const s of this.slots) {
        for (let k = 0; k < p.pipelining && this.running; k++) this.tryIssue(s, start);
        s.start();
      }
    }
    if (!this.running && this.inflight === 0) this.finishSoon();
    return result;
  }

  free(slot: Slot, now: number): void {
    if (this.running) {
      if (this.plan.rate === null) this.tryIssue(slot, now);
      else if (this.dispatched < this.due(now)) this.dispatch(slot);
      else {
        this.tokens.push(slot);
        this.armTick(now);
      }
    }
    if (!this.running && this.inflight === 0) this.finishSoon();
  }

  private tryIssue(slot: Slot, t: number): void {
    if (t >= this.measureStart) {
      if (this.remaining <= 0) return;
      if (--this.remaining === 0) this.running = false;
    }
    slot.issue(t);
  }

  // ─── --rate ───────────────────────────────────────────────────────────────────────────────────────────────

  /** How many requests are due by `now` (the first at t0). */
  private due(now: number): number {
    return Math.min(this.cap, Math.floor((now - this.t0) / this.intervalMs) + 1);
  }

  private dispatch(slot: Slot): void {
    slot.issue(this.t0 + this.dispatched * this.intervalMs);
    if (++this.dispatched >= this.cap) this.running = false;
  }

  private tick(): void {
    this.tickTimer = null;
    if (!this.running) return;
    const now = performance.now();
    const due = this.due(now);
    while (this.running && this.dispatched < due && this.tokens.length > 0) this.dispatch(this.tokens.pop()!);
    // With no free place, the next response dispatches (see free) and re-arms the timer.
    if (this.tokens.length > 0) this.armTick(now);
  }

  private armTick(now: number): void {
    if (this.tickTimer !== null || !this.running) return;
    const next = this.t0 + this.dispatched * this.intervalMs;
    this.tickTimer = setTimeout(() => this.tick(), Math.max(0, next - now));
  }

  // ─── the end ──────────────────────────────────────────────────────────────────────────────────────────────

  private stopIssuing(): void {
    if (this.plan.rate !== null && this.running) this.stats.unsent = Math.max(0, this.cap - this.dispatched);
    this.running = false;
    if (this.inflight === 0) this.finishSoon();
  }

  private sweep(): void {
    const now = performance.now();
    for (const s of this.slots) if (s.count > 0) s.expire(now, this.plan.timeoutMs);
  }

  private finishSoon(): void {
    if (this.finishing) return;
    this.finishing = true;
    setImmediate(() => this.finish());
  }

  private finish(): void {
    this.finished = true;
    this.stats.elapsedMs = Math.max(0, performance.now() - this.measureStart);
    for (const t of this.timers) clearTimeout(t);
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    for (const s of this.slots) s.stop();
    this.done!(this.stats.toData());
  }
}

/** Splits `total` into `parts` whole shares as even as possible (the first ones get the remainder). */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** The plan of each of `threads` threads: connections spread evenly, -n and --rate in proportion. */
export function planThreads(plan: RunPlan, threads: number): RunPlan[] {
  const conns = split(plan.connections, threads);
  const reqs = plan.requests === null ? null : split(plan.requests, threads);
  return conns.map((c, i) => ({
    ...plan,
    connections: c,
    requests: reqs === null ? null : reqs[i]!,
    rate: plan.rate === null ? null : (plan.rate * c) / plan.connections,
  }));
}

export interface LoadRun {
  result: Promise<Merged>;
  /** Live counts over every thread (for the progress line). */
  progress(): Progress;
}

/** Runs `plan` on `threads` threads (1: in this thread) and merges the results. */
export function runLoad(plan: RunPlan, threads: number): LoadRun {
  if (threads <= 1) {
    const runner = new Runner(plan);
    return { result: runner.run().then((d) => merge([d])), progress: () => runner.progress() };
  }
  const plans = planThreads(plan, threads).filter((p) => p.connections > 0 && p.requests !== 0);
  const live: Progress[] = plans.map(() => ({ responses: 0, errors: 0 }));
  const fromSource = import.meta.url.endsWith(".ts");
  const workerUrl = new URL(`./worker.${fromSource ? "ts" : "js"}`, import.meta.url);
  // Built (dist/bench/worker.js): a plain worker. From source (tests run through tsx): loader hooks do not reach
  // worker threads on Node 20, so the worker first registers tsx, then imports worker.ts.
  const spawnWorker = (p: RunPlan): Worker =>
    fromSource
      ? new Worker(`import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`, { eval: true, workerData: p })
      : new Worker(workerUrl, { workerData: p });
  const results = plans.map(
    (p, i) =>
      new Promise<StatsData>((resolve, reject) => {
        const w = spawnWorker(p);
        let data: StatsData | null = null;
        w.on("message", (m: { type: "progress"; progress: Progress } | { type: "done"; data: StatsData }) => {
          if (m.type === "progress") live[i] = m.progress;
          else data = m.data;
        });
        w.on("error", reject);
        w.on("exit", (code) => (data !== null ? resolve(data) : reject(new Error(`bench thread ${i} exited with code ${code} before reporting`))));
      }),
  );
  return {
    result: Promise.all(results).then(merge),
    progress: () => live.reduce((a, b) => ({ responses: a.responses + b.responses, errors: a.errors + b.errors }), { responses: 0, errors: 0 }),
  };
}
