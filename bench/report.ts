/**
 * The Markdown report: the goals of issue 19 and the apps as users write them first (the user-shaped fetch app
 * with Bun.serve and the same-work toy beside oryx, the production-shaped Hono app, whole-tree RSS, idle
 * connections), then issue 5's goals and the lean app's tables, then the machine and how it was measured.
 */
import type { Options } from "./args.ts";
import { nodeKeepAliveMs, oryxDefault, oryxDefaultsText } from "./defaults.ts";
import { busySecondsFor, openBudgetMs, type IdleFailure, type IdleSample } from "./idle.ts";
import { oryxBenchArgs, wrkArgs, wrkScript, type Tool } from "./load.ts";
import type { Machine } from "./machine.ts";
import { PEERS, startCommand, type PeerId } from "./peers.ts";
import type { PhaseResult, Sample } from "./phase.ts";
import { LOADS, measureKey, type LoadId, type Scenario } from "./scenarios.ts";
import { fmtInt, fmtMiB, fmtRatio, plain, table } from "./format.ts";
import { median, medianRatio } from "./stats.ts";
import { wsSection } from "./ws-report.ts";
import type { WsResult } from "./ws-scenario.ts";

export interface RunData {
  opts: Options;
  full: boolean;
  startedAt: Date;
  finishedAt: Date;
  machine: Machine;
  loadAverageEnd: string;
  cpuIters: number;
  cpuMs: number;
  nofile: number;
  idleCount: number;
  mainScenarios: Scenario[];
  main: PhaseResult | null;
  workersScenario: Scenario | null;
  workers: PhaseResult | null;
  idle: { samples: IdleSample[]; failures: IdleFailure[]; peers: PeerId[]; keepAliveMs: number } | null;
  ws: WsResult | null;
  warnings: string[];
}

// ─── formatting ───────────────────────────────────────────────────────────────────────────────────────────────

export function fmtLatency(us: number | null): string {
  if (us === null) return "–";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

// ─── reading the samples ──────────────────────────────────────────────────────────────────────────────────────

interface Summary {
  rps: number | null;
  /** round → requests/s */
  byRound: Map<number, number>;
  /** round → whole-tree RSS (KiB) read right after the measurement */
  rssByRound: Map<number, number>;
  /** round → whole-tree memory, every page counted once (KiB) */
  memByRound: Map<number, number>;
  p50: number | null;
  p99: number | null;
  rss: number | null;
  mem: number | null;
  notes: string[];
}

function summarize(samples: Sample[] | undefined): Summary | null {
  if (samples === undefined || samples.length === 0) return null;
  const ok = samples.filter((s) => s.result.responses > 0);
  const byRound = new Map(ok.map((s) => [s.round, s.result.requestsPerSecond] as [number, number]));
  const rssByRound = new Map(samples.flatMap((s) => (s.rssKiB === null ? [] : [[s.round, s.rssKiB] as [number, number]])));
  const memByRound = new Map(samples.flatMap((s) => (s.memKiB === null ? [] : [[s.round, s.memKiB] as [number, number]])));
  return {
    rps: median(ok.map((s) => s.result.requestsPerSecond)),
    byRound,
    rssByRound,
    memByRound,
    p50: median(ok.map((s) => s.result.p50us)),
    p99: median(ok.map((s) => s.result.p99us)),
    rss: median([...rssByRound.values()]),
    mem: median([...memByRound.values()]),
    notes: samples.flatMap((s) => (s.result.note === null ? [] : [`round ${s.round}: ${s.result.note}`])),
  };
}

const get = (phase: PhaseResult, peer: PeerId, load: LoadId, tool: Tool): Summary | null =>
  summarize(phase.samples.get(measureKey({ peer, load, tool })));

function ratio(phase: PhaseResult, peer: PeerId, base: PeerId, load: LoadId, tool: Tool = "wrk"): number | null {
  const a = get(phase, peer, load, tool);
  const b = get(phase, base, load, tool);
  return a === null || b === null ? null : medianRatio(a.byRound, b.byRound);
}

/** Median over rounds of peer's whole-tree RSS (or memory, pages once) / base's, both read right after the load. */
function rssRatio(phase: PhaseResult, peer: PeerId, base: PeerId, load: LoadId, what: "rss" | "mem" = "rss"): number | null {
  const a = get(phase, peer, load, "wrk");
  const b = get(phase, base, load, "wrk");
  if (a === null || b === null) return null;
  return what === "rss" ? medianRatio(a.rssByRound, b.rssByRound) : medianRatio(a.memByRound, b.memByRound);
}

/** Why a peer has no numbers in a scenario, or null if it has them. */
function missing(phase: PhaseResult, peer: PeerId, load: LoadId): string | null {
  const ns = phase.notStarted.get(peer);
  if (ns !== undefined) {
    // oryx exits 4 when it cannot load the app: for the Express app, that is "Node apps not supported yet".
    if (peer === "oryx-express" && ns.exitCode === 4) return "n/a (Node apps not supported yet)";
    return `did not start (${ns.reason})`;
  }
  const skipped = phase.skipped.get(measureKey({ peer, load, tool: "wrk" }));
  if (skipped !== undefined) return `not measured: ${skipped}`;
  return null;
}

// ─── the scenario tables ──────────────────────────────────────────────────────────────────────────────────────

function scenarioSection(s: Scenario, phase: PhaseResult, footnotes: string[]): string {
  const head = ["peer", "req/s", ...s.compare.map((c) => `× ${PEERS[c].short}`), "p50", "p99", "RSS, whole tree (MiB)"];
  if (s.oryxBench) head.push("oryx bench req/s", "× node:http", "p50", "p99");
  const rows: string[][] = [];
  for (const peer of s.peers) {
    const label = PEERS[peer].label;
    const why = missing(phase, peer, s.load);
    const w = get(phase, peer, s.load, "wrk");
    if (why !== null || w === null) {
      rows.push([label, why ?? "no result", ...Array<string>(head.length - 2).fill("")]);
      continue;
    }
    let mark = "";
    if (w.notes.length > 0) {
      footnotes.push(`${s.title}, ${plain(label)} (wrk): ${w.notes.join("; ")}`);
      mark = ` ⚠${footnotes.length}`;
    }
    const row = [label, `${fmtInt(w.rps ?? 0)}${mark}`];
    for (const c of s.compare) row.push(fmtRatio(peer === c ? 1 : ratio(phase, peer, c, s.load)));
    row.push(fmtLatency(w.p50), fmtLatency(w.p99), fmtMiB(w.rss));
    if (s.oryxBench) {
      const b = get(phase, peer, s.load, "oryx-bench");
      if (b === null) row.push("–", "–", "–", "–");
      else {
        let bmark = "";
        if (b.notes.length > 0) {
          footnotes.push(`${s.title}, ${plain(label)} (oryx bench): ${b.notes.join("; ")}`);
          bmark = ` ⚠${footnotes.length}`;
        }
        row.push(`${fmtInt(b.rps ?? 0)}${bmark}`, fmtRatio(peer === "node-http" ? 1 : ratio(phase, peer, "node-http", s.load, "oryx-bench")), fmtLatency(b.p50), fmtLatency(b.p99));
      }
    }
    rows.push(row);
  }
  const right = head.map((_, i) => i > 0);
  const bench = s.oryxBench ? " The last four columns are the same servers loaded by `oryx bench` instead of wrk (same pinning, connections and duration)." : "";
  return `### ${s.title}\n\n${LOADS[s.load].title}, ${LOADS[s.load].connections} connections. ${s.note}${bench}\n\n${table(head, rows, right)}\n`;
}

/** Whole-tree RSS of every peer of the main phase that took GET /, read right after that load. */
function rssSection(d: RunData, phase: PhaseResult): string | null {
  const peers: PeerId[] = [];
  for (const s of d.mainScenarios) if (s.load === "hello") for (const p of s.peers) if (!peers.includes(p)) peers.push(p);
  if (peers.length === 0) return null;
  const hasNode = peers.includes("node-http");
  const head = ["peer", "RSS after GET / (MiB)", ...(hasNode ? ["× node:http"] : []), "memory, pages once (MiB)", ...(hasNode ? ["× node:http"] : [])];
  const rows = peers.map((peer) => {
    const w = get(phase, peer, "hello", "wrk");
    const why = missing(phase, peer, "hello");
    if (why !== null || w === null) return [PEERS[peer].label, why ?? "no result", ...(hasNode ? ["", "", ""] : [""])];
    const vsNode = (what: "rss" | "mem"): string[] => (hasNode ? [fmtRatio(peer === "node-http" ? 1 : rssRatio(phase, peer, "node-http", "hello", what))] : []);
    return [PEERS[peer].label, fmtMiB(w.rss), ...vsNode("rss"), fmtMiB(w.mem), ...vsNode("mem")];
  });
  return (
    `### Whole-tree RSS after the GET / load\n\n` +
    `VmRSS (/proc/PID/status) summed over the server's whole process tree (the process and every descendant: an ` +
    `oryx master and its worker; Bun's process; a Node server's process), read right after each GET / measurement, ` +
    `median over rounds; the ratio is the median of per-round ratios. Shared pages (the node binary's text, mapped by ` +
    `oryx's master and worker alike) count once per process, as the sum of VmRSS counts them. "Memory, pages once" ` +
    `is what the tree holds with every page counted once: each process's private pages, and the shared pages of ` +
    `each mapped file once for the tree (bench/procs.ts treeMemoryKiB); for one process it is close to its RSS. ` +
    `Each server has also ` +
    `served the other loads of its scenarios in the rounds before.\n\n${table(head, rows, head.map((_, i) => i > 0))}\n`
  );
}

function workersSection(s: Scenario, phase: PhaseResult, footnotes: string[]): string {
  const head = ["oryx", "req/s", "× -w 1", "p50", "p99", "RSS, master + workers (MiB)"];
  const rows: string[][] = [];
  for (const peer of s.peers) {
    const why = missing(phase, peer, s.load);
    const w = get(phase, peer, s.load, "wrk");
    if (why !== null || w === null) {
      rows.push([PEERS[peer].label, why ?? "no result", "", "", "", ""]);
      continue;
    }
    let mark = "";
    if (w.notes.length > 0) {
      footnotes.push(`${s.title}, ${PEERS[peer].label}: ${w.notes.join("; ")}`);
      mark = ` ⚠${footnotes.length}`;
    }
    rows.push([PEERS[peer].label, `${fmtInt(w.rps ?? 0)}${mark}`, fmtRatio(peer === "oryx-w1" ? 1 : ratio(phase, peer, "oryx-w1", s.load)), fmtLatency(w.p50), fmtLatency(w.p99), fmtMiB(w.rss)]);
  }
  const r = ratio(phase, "oryx-w2", "oryx-w1", "cpu");
  return `### ${s.title}\n\n${LOADS[s.load].title}, ${LOADS[s.load].connections} connections. ${s.note}\n\n${table(head, rows, head.map((_, i) => i > 0))}\n\n**2 workers vs 1: × ${fmtRatio(r)}** (median of the per-round ratios).\n`;
}

// ─── idle connections ─────────────────────────────────────────────────────────────────────────────────────────

interface IdleRow {
  peer: PeerId;
  held: number | null;
  /** Fewest held in any round, and whether every round held every connection asked for. */
  minHeld: number | null;
  allHeld: boolean;
  kib: number | null;
  before: number | null;
  withIdle: number | null;
  busy: number | null;
  busyBefore: number | null;
  busySeconds: number | null;
  /** Median per-round ratio of busy req/s with idle connections to node:http's. */
  busyVsNode: number | null;
  openMs: number | null;
  windowMs: number | null;
  problems: string[];
}

function idleRows(idle: NonNullable<RunData["idle"]>): IdleRow[] {
  const nodeByRound = new Map(idle.samples.filter((s) => s.peer === "node-http").map((s) => [s.round, s.busy.requestsPerSecond] as [number, number]));
  return idle.peers.map((peer) => {
    const ss = idle.samples.filter((s) => s.peer === peer);
    const failures = idle.failures.filter((f) => f.peer === peer);
    const problems: string[] = failures.map((f) => `round ${f.round}: ${f.reason}`);
    for (const s of ss) {
      if (s.held < s.asked) {
        problems.push(
          `round ${s.round}: ${fmtInt(s.opened)} of ${fmtInt(s.asked)} opened (${fmtInt(s.attempted)} attempted), ${fmtInt(s.held)} still open after the loaded run` +
            `${s.firstError !== null ? ` (first error: ${s.firstError})` : ""}`,
        );
      }
      if (s.windowMs > idle.keepAliveMs) problems.push(`round ${s.round}: counted ${(s.windowMs / 1000).toFixed(1)} s after opening began, beyond the ${idle.keepAliveMs / 1000} s keep-alive window`);
      if (s.busy.note !== null) problems.push(`round ${s.round}: busy load: ${s.busy.note}`);
    }
    const byRound = new Map(ss.map((s) => [s.round, s.busy.requestsPerSecond] as [number, number]));
    return {
      peer,
      held: median(ss.map((s) => s.held)),
      minHeld: ss.length === 0 ? null : Math.min(...ss.map((s) => s.held)),
      allHeld: ss.length > 0 && failures.length === 0 && ss.every((s) => s.held >= s.asked),
      kib: median(ss.map((s) => (s.rssIdleKiB - s.rssBeforeKiB) / Math.max(1, s.held))),
      before: median(ss.map((s) => s.rssBeforeKiB)),
      withIdle: median(ss.map((s) => s.rssIdleKiB)),
      busy: median(ss.map((s) => s.busy.requestsPerSecond)),
      busyBefore: median(ss.map((s) => s.busyBefore.requestsPerSecond)),
      busySeconds: median(ss.map((s) => s.busySeconds)),
      busyVsNode: peer === "node-http" ? (nodeByRound.size > 0 ? 1 : null) : medianRatio(byRound, nodeByRound),
      openMs: median(ss.map((s) => s.openMs)),
      windowMs: median(ss.map((s) => s.windowMs)),
      problems,
    };
  });
}

function idleSection(d: RunData, footnotes: string[]): string {
  const idle = d.idle!;
  const head = [
    "peer",
    "idle connections held",
    "RSS before (MiB)",
    "RSS with idle (MiB)",
    "KiB per idle connection",
    "busy req/s without → with idle",
    "× node:http with idle",
    "busy run (s)",
    "opened in (s)",
  ];
  const rows = idleRows(idle).map((r) => {
    let mark = "";
    if (r.problems.length > 0) {
      footnotes.push(`Idle connections, ${plain(PEERS[r.peer].label)}: ${r.problems.join("; ")}`);
      mark = ` ⚠${footnotes.length}`;
    }
    if (r.kib === null) return [PEERS[r.peer].label, `no result${mark}`, ...Array<string>(head.length - 2).fill("")];
    return [
      PEERS[r.peer].label,
      `${fmtInt(r.held ?? 0)}${mark}`,
      fmtMiB(r.before),
      fmtMiB(r.withIdle),
      r.kib.toFixed(2),
      `${fmtInt(r.busyBefore ?? 0)} → ${fmtInt(r.busy ?? 0)}`,
      fmtRatio(r.busyVsNode),
      r.busySeconds === null ? "–" : String(r.busySeconds),
      r.openMs === null ? "–" : (r.openMs / 1000).toFixed(1),
    ];
  });
  const limitNote = d.idleCount < d.opts.idle ? ` The open-file hard limit allowed only ${fmtInt(d.idleCount)} of the ${fmtInt(d.opts.idle)} asked for.` : "";
  const k = idle.keepAliveMs;
  const wc = oryxDefault("workerConnections");
  const semi = oryxDefault("maxSemiSpace");
  return (
    `### ${fmtInt(d.idleCount)} idle keep-alive connections while 50 are busy, at defaults\n\n` +
    `Per round and peer a fresh server at its defaults (so an earlier round's grown heap cannot hide the growth): ` +
    `warm-up, then wrk GET / with 50 connections for ${d.opts.seconds} s and the whole tree's RSS (before); then ` +
    `${fmtInt(d.idleCount)} keep-alive connections, each having sent one GET / and read its response, held open by ` +
    `\`bench/idle-clients.ts\` (CPU 1, \`ulimit -n ${d.nofile}\`); wrk again with 50 busy connections, the RSS (with ` +
    `idle), and the connections still open counted. KiB per idle connection = (with idle − before) / connections ` +
    `still open. **Within the default keep-alive timeout:** oryx's default is ${oryxDefault("keepAliveTimeout")?.text ?? "?"} and node:http's ` +
    `${nodeKeepAliveMs() / 1000} s (fastify's 72 s, Bun's idle timeout 10 s, the toy has none), so everything after ` +
    `the first idle connection is served happens within ${k / 1000} s: the opener has ${openBudgetMs(k) / 1000} s (a ` +
    `connection not served by then counts as not held), and the busy run with idle connections lasts the whole ` +
    `seconds left before ${(k - 1000) / 1000} s (at most ${d.opts.seconds}; ${busySecondsFor(k, 900, d.opts.seconds)} s when opening takes 0.9 s). ` +
    `oryx runs with its default \`--worker-connections ${wc?.text ?? "?"}\` per worker (what it does at the limit: ` +
    `\`oryx --help\`) and its default \`--max-semi-space ${semi?.text ?? "?"}\` (young ` +
    `generation up to 2 × ${semi?.text ?? "?"} MiB; the plain Node peers have V8's default, up to 2 × 16 MiB). ` +
    `RSS is the whole process tree (oryx: master + worker).${limitNote}\n\n${table(head, rows, head.map((_, i) => i > 0))}\n`
  );
}

// ─── goals ────────────────────────────────────────────────────────────────────────────────────────────────────

type GoalRow = string[];

function goalAdder(rows: GoalRow[]) {
  return (what: string, goal: string, value: number | null, fmt: (v: number) => string, met: (v: number) => boolean, why: string | null = null): void => {
    rows.push([what, goal, value === null ? (why ?? "not measured") : fmt(value), value === null ? "–" : met(value) ? "yes" : "**no**"]);
  };
}

const x = (v: number): string => `× ${v.toFixed(2)}`;

function goals19Section(d: RunData): string {
  const rows: GoalRow[] = [];
  const add = goalAdder(rows);
  const m = d.main;
  const has = (id: string): boolean => d.mainScenarios.some((s) => s.id === id);
  if (m !== null) {
    if (has("user-hello")) add("User-shaped fetch app, GET /: oryx vs the same-work toy", "≥ 0.95 ×", ratio(m, "oryx-user", "toy-samework", "hello"), x, (v) => v >= 0.95, missing(m, "oryx-user", "hello") ?? missing(m, "toy-samework", "hello"));
    if (has("user-echo")) add("User-shaped fetch app, POST 4 KiB echo: oryx vs the same-work toy", "≥ 0.9 ×", ratio(m, "oryx-user", "toy-samework", "echo"), x, (v) => v >= 0.9, missing(m, "oryx-user", "echo") ?? missing(m, "toy-samework", "echo"));
    if (has("user-pipelined")) add("User-shaped fetch app, GET / pipelined 16: oryx vs node:http", "≥ 6 ×", ratio(m, "oryx-user", "node-http", "pipelined"), x, (v) => v >= 6, missing(m, "oryx-user", "pipelined"));
    if (has("hono-prod")) {
      add("Production Hono app, GET /users/7: oryx vs Bun.serve", "≥ 0.6 ×", ratio(m, "oryx-hono-prod", "bun-hono-prod", "users"), x, (v) => v >= 0.6, missing(m, "oryx-hono-prod", "users") ?? missing(m, "bun-hono-prod", "users"));
      add("Production Hono app, GET /users/7: oryx vs @hono/node-server", "≥ 2 ×", ratio(m, "oryx-hono-prod", "hono-prod-node", "users"), x, (v) => v >= 2, missing(m, "oryx-hono-prod", "users") ?? missing(m, "hono-prod-node", "users"));
    }
  }
  if (d.idle !== null) {
    const r = idleRows(d.idle).find((row) => row.peer === "oryx-user");
    const n = d.idle.samples.filter((s) => s.peer === "oryx-user").length;
    const heldText = r === undefined || r.minHeld === null ? null : `${r.allHeld ? "all" : `fewest ${fmtInt(r.minHeld)} of ${fmtInt(d.idleCount)}`} held in ${n} round(s)`;
    rows.push([
      `${fmtInt(d.idleCount)} idle + 50 busy at defaults (user-shaped app): every idle connection held`,
      "all held",
      heldText ?? "not measured",
      heldText === null ? "–" : r!.allHeld ? "yes" : "**no**",
    ]);
    add(`${fmtInt(d.idleCount)} idle + 50 busy at defaults: busy throughput vs node:http's`, "≥ 1.4 ×", r?.busyVsNode ?? null, x, (v) => v >= 1.4);
    add(`${fmtInt(d.idleCount)} idle + 50 busy at defaults: memory per idle connection`, "≤ 3.5 KiB", r?.kib ?? null, (v) => `${v.toFixed(2)} KiB`, (v) => v <= 3.5);
  }
  if (m !== null && has("user-hello")) {
    const o = get(m, "oryx-user", "hello", "wrk")?.rss ?? null;
    const nRss = get(m, "node-http", "hello", "wrk")?.rss ?? null;
    const r = rssRatio(m, "oryx-user", "node-http", "hello");
    rows.push([
      "Whole-tree RSS after GET / (user-shaped app, -w 1) vs node:http's",
      "≤ 1.3 ×",
      r === null || o === null || nRss === null ? "not measured" : `× ${r.toFixed(2)} (${fmtMiB(o)} vs ${fmtMiB(nRss)} MiB)`,
      r === null ? "–" : r <= 1.3 ? "yes" : "**no**",
    ]);
    // Not the goal's measure (it says RSS): beside it, what the tree holds with shared pages counted once.
    const oMem = get(m, "oryx-user", "hello", "wrk")?.mem ?? null;
    const nMem = get(m, "node-http", "hello", "wrk")?.mem ?? null;
    const rm = rssRatio(m, "oryx-user", "node-http", "hello", "mem");
    rows.push([
      "(beside it, not the goal's measure) whole-tree memory with every page counted once, same loads",
      "–",
      rm === null || oMem === null || nMem === null ? "not measured" : `× ${rm.toFixed(2)} (${fmtMiB(oMem)} vs ${fmtMiB(nMem)} MiB)`,
      "–",
    ]);
  }
  if (m !== null && has("express")) add("Express app on oryx vs on node:http", "≥ 0.95 ×", ratio(m, "oryx-express", "express", "hello"), x, (v) => v >= 0.95, missing(m, "oryx-express", "hello"));
  const caveat = d.full ? "" : " **Not a full run: these numbers are not measurements to judge goals by.**";
  return (
    `## Goals of issue 19: apps as users write them, servers at their defaults\n\n` +
    `The goals are for one run, medians of at least 5 interleaved rounds. Ratios are medians of per-round ratios ` +
    `(each against the other server's number from the same round).${caveat}\n\n` +
    `${table(["goal", "target", "measured", "met"], rows, [false, false, true, false])}\n`
  );
}

function goals5Section(d: RunData): string | null {
  const rows: GoalRow[] = [];
  const add = goalAdder(rows);
  const m = d.main;
  const has = (id: string): boolean => d.mainScenarios.some((s) => s.id === id);
  if (m !== null) {
    if (has("hello")) add("GET / hello, lean fetch handler, 1 worker", "≥ 1.4 × node:http", ratio(m, "oryx", "node-http", "hello"), x, (v) => v >= 1.4);
    if (has("echo")) add("POST 4 KiB echo", "≥ 1.5 × node:http", ratio(m, "oryx", "node-http", "echo"), x, (v) => v >= 1.5);
    if (has("64k")) add("GET 64 KiB", "≥ 1.2 × node:http", ratio(m, "oryx", "node-http", "64k"), x, (v) => v >= 1.2);
    if (has("pipelined")) add("pipelined depth 16", "≥ 10 × node:http", ratio(m, "oryx", "node-http", "pipelined"), x, (v) => v >= 10);
    if (has("hono")) add("lean Hono app on oryx vs on @hono/node-server", "≥ 1.4 ×", ratio(m, "oryx-hono", "hono-node", "json"), x, (v) => v >= 1.4);
    if (has("express")) add("Express app on oryx vs on node:http", "≥ 0.95 ×", ratio(m, "oryx-express", "express", "hello"), x, (v) => v >= 0.95, missing(m, "oryx-express", "hello"));
    if (has("hello")) {
      const o = get(m, "oryx", "hello", "wrk")?.p99 ?? null;
      const n = get(m, "node-http", "hello", "wrk")?.p99 ?? null;
      rows.push(["p99 latency, hello at 50 connections", "≤ node:http's", o === null || n === null ? "not measured" : `${fmtLatency(o)} vs ${fmtLatency(n)}`, o === null || n === null ? "–" : o <= n ? "yes" : "**no**"]);
    }
  }
  if (d.idle !== null) {
    const r = idleRows(d.idle).find((row) => row.peer === "oryx");
    add("memory per idle keep-alive connection (lean app)", "≤ 3.5 KiB", r?.kib ?? null, (v) => `${v.toFixed(2)} KiB`, (v) => v <= 3.5);
  }
  if (d.workers !== null) add("2 workers vs 1, CPU-heavy handler", "≥ 1.8 ×", ratio(d.workers, "oryx-w2", "oryx-w1", "cpu"), x, (v) => v >= 1.8);
  if (rows.length === 0) return null;
  const caveat = d.full ? "" : " **Not a full run: these numbers are not measurements to judge goals by.**";
  return (
    `### Goals of issue 5 (the lean app)\n\n` +
    `The suite's own lean app, now at oryx's defaults (issue 5's runs used \`--worker-connections 20000 --keep-alive-timeout 300s\`). ` +
    `Ratios are medians of per-round ratios.${caveat}\n\n${table(["scenario", "goal", "measured", "met"], rows, [false, false, true, false])}\n`
  );
}

// ─── the whole report ─────────────────────────────────────────────────────────────────────────────────────────

export function buildReport(d: RunData): string {
  const o = d.opts;
  const mc = d.machine;
  const minutes = ((d.finishedAt.getTime() - d.startedAt.getTime()) / 60_000).toFixed(1);
  const kind = d.full
    ? `full run: ${o.rounds} interleaved rounds of ${o.seconds} s per measurement`
    : o.quick
      ? `**smoke run (--quick)**: ${o.rounds} round of ${o.seconds} s per measurement; not for comparison`
      : `partial run: ${o.rounds} round(s) of ${o.seconds} s${o.only !== null ? `, only ${o.only.join(", ")}` : ""}`;
  const out: string[] = [];
  out.push(`# oryx benchmark results\n`);
  out.push(`${d.startedAt.toISOString().replace("T", " ").slice(0, 16)} UTC, ${kind}; the run took ${minutes} min. Produced by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\` (bench/run.ts).\n`);
  for (const w of d.warnings) out.push(`> **Warning:** ${w}\n`);
  out.push(
    `Every server runs at its defaults: oryx with no flag besides the app, \`-b\` and \`-w\` (its defaults in this build: ${oryxDefaultsText()}); ` +
      `the others as their docs start them. Each server pinned to CPU 0, the load generator (wrk, 1 thread, 50 connections) to CPU 1. ` +
      `RSS is the whole process tree's (oryx: master + worker). Machine and method: at the end.\n`,
  );

  out.push(goals19Section(d));

  const footnotes: string[] = [];
  const userScenarios = d.mainScenarios.filter((s) => s.group === "user");
  const leanScenarios = d.mainScenarios.filter((s) => s.group === "lean");
  out.push(`## Apps as users write them\n`);
  if (d.main !== null) for (const s of userScenarios) out.push(scenarioSection(s, d.main, footnotes));
  if (d.main !== null) {
    const rss = rssSection(d, d.main);
    if (rss !== null) out.push(rss);
  }
  if (d.idle !== null) out.push(idleSection(d, footnotes));
  if (d.ws !== null) out.push(wsSection(d.ws, o.rounds, o.seconds));

  const g5 = goals5Section(d);
  if (g5 !== null || leanScenarios.length > 0 || d.workers !== null) {
    out.push(`## The lean app (issue 5; secondary)\n`);
    out.push(
      `The suite's own app (\`servers/common.mjs\`: a synchronous fetch handler that never parses the URL and sets no header on GET /), ` +
        `its peers and issue 5's goals, kept for comparison with earlier runs.\n`,
    );
    if (g5 !== null) out.push(g5);
    if (d.main !== null) for (const s of leanScenarios) out.push(scenarioSection(s, d.main, footnotes));
    if (d.workers !== null && d.workersScenario !== null) out.push(workersSection(d.workersScenario, d.workers, footnotes));
  }
  if (footnotes.length > 0) out.push(`## Notes\n\n${footnotes.map((f, i) => `${i + 1}. ${f}`).join("\n")}\n`);

  out.push(`## Machine\n`);
  out.push(
    table(
      ["fact", "value"],
      [
        ["CPUs (nproc)", String(mc.nproc)],
        ["CPU model", mc.cpuModel],
        ["Node.js", mc.node],
        ["Bun", mc.bun],
        ["kernel", mc.kernel],
        ["wrk", mc.wrk],
        ["oryx", mc.oryx],
        ["load average (1, 5, 15 min) at start → end", `${mc.loadAverage} → ${d.loadAverageEnd}`],
      ],
      [false, false],
    ) + "\n",
  );

  out.push(`## How it was measured\n`);
  const wrkEx = `taskset -c 1 wrk ${wrkArgs(LOADS.hello, "http://127.0.0.1:$PORT/", o.seconds, "SCRIPT.lua").join(" ")}`;
  const benchEx = `taskset -c 1 node ${oryxBenchArgs(LOADS.hello, "http://127.0.0.1:$PORT/", o.seconds, null).join(" ")}`;
  const shown: PeerId[] = [
    "oryx-user",
    "bun-user",
    "toy-samework",
    "oryx-hono-prod",
    "hono-prod-node",
    "bun-hono-prod",
    "node-http",
    "hono-node",
    "srvx",
    "fastify",
    "express",
    "oryx",
    "oryx-hono",
    "oryx-express",
    "oryx-w1",
    "oryx-w2",
    "toy",
    "oryx-ws",
    "ws-node",
    "bun-ws",
  ];
  out.push(
    [
      `- **Pinning.** Every server runs under \`taskset -c 0\` (oryx's master and worker inherit it; so do Bun's threads), the load generator under \`taskset -c 1\`; the idle-connection opener also on CPU 1. Exception: the workers scenario (oryx on both cores, wrk unpinned).`,
      `- **Servers** (\`bench/servers/\`, every one on 127.0.0.1, a free port passed as \`PORT\`, \`ulimit -n ${d.nofile}\`), all running at once during the main scenarios (idle ones cost nothing), each at its defaults:`,
      ...shown.map((id) => `  - ${plain(PEERS[id].label)}: \`${startCommand(PEERS[id], d.nofile)}\``),
      `- **oryx's settings.** No flag besides the app, \`-b\` and \`-w\`: its defaults (${oryxDefaultsText()}, read from src/config/settings.ts, the table dist/ is built from).`,
      `- **Load.** \`${wrkEx}\` (50 connections, 1 thread), the script adding the POST body or the pipelined batch (below) and a \`done()\` that prints exact percentiles. \`oryx bench\` for the lean GET /: \`${benchEx}\`.`,
      `- **Rounds.** Each server is checked (every route it is loaded on answers correctly: the 13-byte hello, the 4 KiB body echoed byte for byte, 65,536 bytes, the JSON; the production Hono app's JSON and its middleware's headers) and warmed up with wrk for ${o.warmupSeconds} s per load; then ${o.rounds} round(s), each running every measurement once, scenario by scenario, each scenario's peers in turn starting one peer further every round (A B C, B C A, C A B, …: a load leaves the CPU in a state the next server inherits, so no peer always follows the same one), with ${o.seconds} s per measurement.`,
      `- **Numbers.** req/s, p50 and p99 are medians over the rounds; each ratio is the median of the per-round ratios against the other server's number from the same round. RSS is VmRSS (/proc/PID/status) summed over the server's whole process tree (oryx: master + worker; -w 2: master + both workers), read right after each measurement, median over rounds.`,
      `- **/cpu** spins an integer-hash loop of ${fmtInt(d.cpuIters)} iterations (calibrated once by the suite to ~1 ms: ${d.cpuMs.toFixed(2)} ms here), passed to every server as \`CPU_ITERS\`.`,
      `- **Keep-alive.** Every server keeps its default keep-alive timeout (oryx ${oryxDefault("keepAliveTimeout")?.text ?? "?"}, node:http ${nodeKeepAliveMs() / 1000} s, fastify 72 s, Bun.serve 10 s); the idle scenario measures within the shortest (above).`,
    ].join("\n") + "\n",
  );

  out.push(`## wrk scripts\n`);
  for (const id of ["echo", "pipelined"] as const) out.push(`${LOADS[id].title}:\n\n\`\`\`lua\n${wrkScript(LOADS[id]).trim()}\n\`\`\`\n`);
  out.push(`GET loads use only the \`done()\` part.\n`);
  return out.join("\n");
}
