/** The Markdown report: the run's facts, how it measured, the goals of issue 5, and a table per scenario. */
import type { Options } from "./args.ts";
import type { IdleFailure, IdleSample } from "./idle.ts";
import { oryxBenchArgs, wrkArgs, wrkScript, type Tool } from "./load.ts";
import type { Machine } from "./machine.ts";
import { SETTINGS } from "../src/config/settings.ts";
import { PEERS, startCommand, type PeerId } from "./peers.ts";
import type { PhaseResult, Sample } from "./phase.ts";
import { LOADS, measureKey, type LoadId, type Scenario } from "./scenarios.ts";
import { median, medianRatio } from "./stats.ts";

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
  idle: { samples: IdleSample[]; failures: IdleFailure[]; peers: PeerId[] } | null;
  warnings: string[];
}

// ─── formatting ───────────────────────────────────────────────────────────────────────────────────────────────

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtRatio = (r: number | null): string => (r === null ? "–" : r.toFixed(2));
const fmtMiB = (kib: number | null): string => (kib === null ? "–" : (kib / 1024).toFixed(1));

export function fmtLatency(us: number | null): string {
  if (us === null) return "–";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

function table(head: string[], rows: string[][], right: boolean[]): string {
  const sep = head.map((_, i) => (right[i] ? "---:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

// ─── reading the samples ──────────────────────────────────────────────────────────────────────────────────────

interface Summary {
  rps: number | null;
  /** round → requests/s */
  byRound: Map<number, number>;
  p50: number | null;
  p99: number | null;
  rss: number | null;
  notes: string[];
}

function summarize(samples: Sample[] | undefined): Summary | null {
  if (samples === undefined || samples.length === 0) return null;
  const ok = samples.filter((s) => s.result.responses > 0);
  const byRound = new Map(ok.map((s) => [s.round, s.result.requestsPerSecond] as [number, number]));
  return {
    rps: median(ok.map((s) => s.result.requestsPerSecond)),
    byRound,
    p50: median(ok.map((s) => s.result.p50us)),
    p99: median(ok.map((s) => s.result.p99us)),
    rss: median(samples.flatMap((s) => (s.rssKiB === null ? [] : [s.rssKiB]))),
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
  const hasNode = s.peers.includes("node-http");
  const extraBase = s.baseline !== "node-http";
  const head = ["peer", "req/s"];
  if (hasNode) head.push("× node:http");
  if (extraBase) head.push(`× ${PEERS[s.baseline].label.replace(/\*\*/g, "")}`);
  head.push("p50", "p99", "RSS (MiB)");
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
      footnotes.push(`${s.title}, ${label.replace(/\*\*/g, "")} (wrk): ${w.notes.join("; ")}`);
      mark = ` ⚠${footnotes.length}`;
    }
    const row = [label, `${fmtInt(w.rps ?? 0)}${mark}`];
    if (hasNode) row.push(fmtRatio(peer === "node-http" ? 1 : ratio(phase, peer, "node-http", s.load)));
    if (extraBase) row.push(fmtRatio(peer === s.baseline ? 1 : ratio(phase, peer, s.baseline, s.load)));
    row.push(fmtLatency(w.p50), fmtLatency(w.p99), fmtMiB(w.rss));
    if (s.oryxBench) {
      const b = get(phase, peer, s.load, "oryx-bench");
      if (b === null) row.push("–", "–", "–", "–");
      else {
        let bmark = "";
        if (b.notes.length > 0) {
          footnotes.push(`${s.title}, ${label.replace(/\*\*/g, "")} (oryx bench): ${b.notes.join("; ")}`);
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

function workersSection(s: Scenario, phase: PhaseResult, footnotes: string[]): string {
  const head = ["oryx", "req/s", "× -w 1", "p50", "p99", "RSS of the workers (MiB)"];
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
    rows.push([PEERS[peer].label, `${fmtInt(w.rps ?? 0)}${mark}`, fmtRatio(peer === s.baseline ? 1 : ratio(phase, peer, s.baseline, s.load)), fmtLatency(w.p50), fmtLatency(w.p99), fmtMiB(w.rss)]);
  }
  const r = ratio(phase, "oryx-w2", "oryx-w1", "cpu");
  return `### ${s.title}\n\n${LOADS[s.load].title}, ${LOADS[s.load].connections} connections. ${s.note}\n\n${table(head, rows, head.map((_, i) => i > 0))}\n\n**2 workers vs 1: × ${fmtRatio(r)}** (median of the per-round ratios).\n`;
}

interface IdleRow {
  peer: PeerId;
  held: number | null;
  kib: number | null;
  before: number | null;
  withIdle: number | null;
  busy: number | null;
  busyBefore: number | null;
  openMs: number | null;
  problems: string[];
}

function idleRows(idle: NonNullable<RunData["idle"]>): IdleRow[] {
  return idle.peers.map((peer) => {
    const ss = idle.samples.filter((s) => s.peer === peer);
    const problems: string[] = idle.failures.filter((f) => f.peer === peer).map((f) => `round ${f.round}: ${f.reason}`);
    for (const s of ss) {
      if (s.held < s.asked) problems.push(`round ${s.round}: ${s.opened} of ${s.asked} opened, ${s.held} still open after the loaded run${s.firstError !== null ? ` (first error: ${s.firstError})` : ""}`);
      if (s.busy.note !== null) problems.push(`round ${s.round}: busy load: ${s.busy.note}`);
    }
    return {
      peer,
      held: median(ss.map((s) => s.held)),
      kib: median(ss.map((s) => (s.rssIdleKiB - s.rssBeforeKiB) / Math.max(1, s.held))),
      before: median(ss.map((s) => s.rssBeforeKiB)),
      withIdle: median(ss.map((s) => s.rssIdleKiB)),
      busy: median(ss.map((s) => s.busy.requestsPerSecond)),
      busyBefore: median(ss.map((s) => s.busyBefore.requestsPerSecond)),
      openMs: median(ss.map((s) => s.openMs)),
      problems,
    };
  });
}

function idleSection(d: RunData, footnotes: string[]): string {
  const idle = d.idle!;
  const head = ["peer", "idle connections held", "RSS before (MiB)", "RSS with idle (MiB)", "KiB per idle connection", "busy req/s without → with idle", "time to open (s)"];
  const rows = idleRows(idle).map((r) => {
    let mark = "";
    if (r.problems.length > 0) {
      footnotes.push(`Idle connections, ${PEERS[r.peer].label.replace(/\*\*/g, "")}: ${r.problems.join("; ")}`);
      mark = ` ⚠${footnotes.length}`;
    }
    if (r.kib === null) return [PEERS[r.peer].label, `no result${mark}`, "", "", "", "", ""];
    return [
      PEERS[r.peer].label,
      `${fmtInt(r.held ?? 0)}${mark}`,
      fmtMiB(r.before),
      fmtMiB(r.withIdle),
      r.kib.toFixed(2),
      `${fmtInt(r.busyBefore ?? 0)} → ${fmtInt(r.busy ?? 0)}`,
      r.openMs === null ? "–" : (r.openMs / 1000).toFixed(1),
    ];
  });
  const limitNote = d.idleCount < d.opts.idle ? ` The open-file hard limit allowed only ${fmtInt(d.idleCount)} of the ${fmtInt(d.opts.idle)} asked for.` : "";
  return (
    `### ${fmtInt(d.idleCount)} idle keep-alive connections while 50 are busy\n\n` +
    `Per round and peer a fresh server (so an earlier round's grown heap cannot hide the growth): warm-up, then wrk ` +
    `GET / with 50 connections for ${d.opts.seconds} s and the server's RSS (before); then ${fmtInt(d.idleCount)} keep-alive ` +
    `connections, each having sent one GET / and read its response, held open by \`bench/idle-clients.ts\` ` +
    `(CPU 1, \`ulimit -n ${d.nofile}\`); wrk again with 50 busy connections, and the RSS (with idle). KiB per idle ` +
    `connection = (with idle − before) / connections still open after the second run. Every peer's keep-alive ` +
    `timeout is 300 s. The plain Node peers run with V8's default young generation (up to 2 × 16 MiB); oryx's ` +
    `workers run with its default \`--max-semi-space ${SEMI_SPACE_CAP}\` (up to 2 × ${SEMI_SPACE_CAP} MiB); what the cap is worth per idle ` +
    `connection is in the README (Workers).${limitNote}\n\n${table(head, rows, head.map((_, i) => i > 0))}\n`
  );
}

/** oryx's default young-generation cap, from the settings table, so the idle note follows the default. */
const SEMI_SPACE_CAP = SETTINGS.find((s) => s.key === "maxSemiSpace")?.defaultText ?? "?";

// ─── goals (issue 5) ──────────────────────────────────────────────────────────────────────────────────────────

function goalsSection(d: RunData): string {
  const rows: string[][] = [];
  const add = (what: string, goal: string, value: number | null, fmt: (v: number) => string, met: (v: number) => boolean, why: string | null = null): void => {
    rows.push([what, goal, value === null ? (why ?? "not measured") : fmt(value), value === null ? "–" : met(value) ? "yes" : "no"]);
  };
  const x = (v: number): string => `× ${v.toFixed(2)}`;
  const m = d.main;
  const has = (id: string): boolean => d.mainScenarios.some((s) => s.id === id);
  if (m !== null) {
    if (has("hello")) add("GET / hello, fetch handler, 1 worker", "≥ 1.4 × node:http", ratio(m, "oryx", "node-http", "hello"), x, (v) => v >= 1.4);
    if (has("echo")) add("POST 4 KiB echo", "≥ 1.5 × node:http", ratio(m, "oryx", "node-http", "echo"), x, (v) => v >= 1.5);
    if (has("64k")) add("GET 64 KiB", "≥ 1.2 × node:http", ratio(m, "oryx", "node-http", "64k"), x, (v) => v >= 1.2);
    if (has("pipelined")) add("pipelined depth 16", "≥ 10 × node:http", ratio(m, "oryx", "node-http", "pipelined"), x, (v) => v >= 10);
    if (has("hono")) add("Hono app on oryx vs on @hono/node-server", "≥ 1.4 ×", ratio(m, "oryx-hono", "hono-node", "json"), x, (v) => v >= 1.4);
    if (has("express")) {
      add("Express app on oryx vs on node:http", "≥ 0.95 ×", ratio(m, "oryx-express", "express", "hello"), x, (v) => v >= 0.95, missing(m, "oryx-express", "hello"));
    }
    if (has("hello")) {
      const o = get(m, "oryx", "hello", "wrk")?.p99 ?? null;
      const n = get(m, "node-http", "hello", "wrk")?.p99 ?? null;
      rows.push(["p99 latency, hello at 50 connections", "≤ node:http's", o === null || n === null ? "not measured" : `${fmtLatency(o)} vs ${fmtLatency(n)}`, o === null || n === null ? "–" : o <= n ? "yes" : "no"]);
    }
  }
  if (d.idle !== null) {
    const r = idleRows(d.idle).find((row) => row.peer === "oryx");
    add("memory per idle keep-alive connection", "≤ 3.5 KiB", r?.kib ?? null, (v) => `${v.toFixed(2)} KiB`, (v) => v <= 3.5);
  }
  if (d.workers !== null) add("2 workers vs 1, CPU-heavy handler", "≥ 1.8 ×", ratio(d.workers, "oryx-w2", "oryx-w1", "cpu"), x, (v) => v >= 1.8);
  const caveat = d.full ? "" : " **A smoke run: these numbers are not measurements to judge goals by.**";
  return `## Goals of issue 5\n\nRatios are medians of per-round ratios (each against the other server's number from the same round).${caveat}\n\n${table(["scenario", "goal", "measured", "met"], rows, [false, false, true, false])}\n`;
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

  out.push(`## Machine\n`);
  out.push(
    table(
      ["fact", "value"],
      [
        ["CPUs (nproc)", String(mc.nproc)],
        ["CPU model", mc.cpuModel],
        ["Node.js", mc.node],
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
  out.push(
    [
      `- **Pinning.** Every server runs under \`taskset -c 0\` (oryx's master and worker inherit it), the load generator under \`taskset -c 1\`; the idle-connection opener also on CPU 1. Exception: the workers scenario (below).`,
      `- **Servers** (\`bench/servers/\`, every one on 127.0.0.1, a free port passed as \`PORT\`, \`ulimit -n ${d.nofile}\`), all running at once during the main scenarios (idle ones cost nothing):`,
      ...["node-http", "hono-node", "srvx", "fastify", "express", "oryx", "oryx-hono", "oryx-express", "oryx-w1", "oryx-w2"].map(
        (id) => `  - ${PEERS[id as PeerId].label.replace(/\*\*/g, "")}: \`${startCommand(PEERS[id as PeerId], d.nofile)}\``,
      ),
      `- **Load.** \`${wrkEx}\` (50 connections, 1 thread), the script adding the POST body or the pipelined batch (below) and a \`done()\` that prints exact percentiles. \`oryx bench\` for GET /: \`${benchEx}\`.`,
      `- **Rounds.** Each server is checked (every route answers correctly: 13-byte hello, the 4 KiB body echoed byte for byte, 65,536 bytes, the JSON) and warmed up with wrk for ${o.warmupSeconds} s per load; then ${o.rounds} round(s), each running every measurement once in the same order (A B C … A B C …), with ${o.seconds} s per measurement.`,
      `- **Numbers.** req/s, p50 and p99 are medians over the rounds; each ratio is the median of the per-round ratios against the other server's number from the same round. RSS is VmRSS (/proc/PID/status) of the process that serves, read right after each measurement (oryx: its worker, not the master; -w 2: both workers summed), median over rounds.`,
      `- **/cpu** spins an integer-hash loop of ${fmtInt(d.cpuIters)} iterations (calibrated once by the suite to ~1 ms: ${d.cpuMs.toFixed(2)} ms here), passed to every server as \`CPU_ITERS\`.`,
      `- **Keep-alive.** Every server keeps idle connections 300 s (node:http-based: \`keepAliveTimeout\`; oryx: \`--keep-alive-timeout 300s\`), so the idle scenario's connections survive its two measurements.`,
    ].join("\n") + "\n",
  );

  out.push(goalsSection(d));

  out.push(`## Results\n`);
  const footnotes: string[] = [];
  if (d.main !== null) for (const s of d.mainScenarios) out.push(scenarioSection(s, d.main, footnotes));
  if (d.idle !== null) out.push(idleSection(d, footnotes));
  if (d.workers !== null && d.workersScenario !== null) out.push(workersSection(d.workersScenario, d.workers, footnotes));
  if (footnotes.length > 0) out.push(`### Notes\n\n${footnotes.map((f, i) => `${i + 1}. ${f}`).join("\n")}\n`);

  out.push(`## wrk scripts\n`);
  for (const id of ["echo", "pipelined"] as const) out.push(`${LOADS[id].title}:\n\n\`\`\`lua\n${wrkScript(LOADS[id]).trim()}\n\`\`\`\n`);
  out.push(`GET loads use only the \`done()\` part.\n`);
  return out.join("\n");
}
