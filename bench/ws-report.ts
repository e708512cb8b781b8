// The report's WebSocket section (bench/ws-scenario.ts's numbers): one table per load, issue 17's goals above.
import { fmtInt, fmtMiB, fmtRatio, table } from "./format.ts";
import { PEERS, type PeerId } from "./peers.ts";
import { median, medianRatio } from "./stats.ts";
import { WS_LOADS, WS_PEERS, wsKey, type WsLoadId, type WsResult } from "./ws-scenario.ts";

const BASES: PeerId[] = ["ws-node", "bun-ws"];

/** round → value, for the per-round ratios. */
function byRound(r: WsResult, peer: PeerId, load: WsLoadId, field: "rate" | "cpuUs" | "rssKiB"): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of r.samples.get(wsKey(peer, load)) ?? []) {
    const v = s[field];
    if (v !== null) out.set(s.round, v);
  }
  return out;
}

const med = (m: Map<number, number>): number | null => median([...m.values()]);

/** Median over rounds of peer's / base's value of `field` in the same round. */
const ratio = (r: WsResult, peer: PeerId, base: PeerId, load: WsLoadId, field: "rate" | "cpuUs"): number | null =>
  medianRatio(byRound(r, peer, load, field), byRound(r, base, load, field));

function loadTable(r: WsResult, load: WsLoadId): string {
  const { unit, one } = WS_LOADS[load];
  const head = ["server", `${unit}/s`, ...BASES.map((b) => `× ${PEERS[b].short}`), `server CPU per ${one} (µs)`, ...BASES.map((b) => `CPU × ${PEERS[b].short}`), "RSS, whole tree (MiB)"];
  const rows = WS_PEERS.map((peer) => {
    const why = r.notStarted.get(peer);
    const rate = med(byRound(r, peer, load, "rate"));
    if (why !== undefined || rate === null) return [PEERS[peer].label, why !== undefined ? `did not start (${why.reason})` : "no result", ...Array<string>(head.length - 2).fill("")];
    return [
      PEERS[peer].label,
      fmtInt(rate),
      ...BASES.map((b) => fmtRatio(peer === b ? 1 : ratio(r, peer, b, load, "rate"))),
      (med(byRound(r, peer, load, "cpuUs")) ?? 0).toFixed(2),
      ...BASES.map((b) => fmtRatio(peer === b ? 1 : ratio(r, peer, b, load, "cpuUs"))),
      fmtMiB(med(byRound(r, peer, load, "rssKiB"))),
    ];
  });
  return `### WebSocket ${load.replace("ws-", "")}: ${WS_LOADS[load].title}\n\n${table(head, rows, head.map((_, i) => i > 0))}\n`;
}

export function wsSection(r: WsResult, rounds: number, seconds: number): string {
  const out: string[] = ["## WebSockets (issue 17)\n"];
  const echoVsWs = ratio(r, "oryx-ws", "ws-node", "ws-echo", "rate");
  const echoVsBun = ratio(r, "oryx-ws", "bun-ws", "ws-echo", "rate");
  const cpuVsWs = ratio(r, "oryx-ws", "ws-node", "ws-echo", "cpuUs");
  const mark = (x: number | null, goal: number): string => (x === null ? "–" : x >= goal ? "met" : "not met");
  out.push(
    table(
      ["goal", "measured", ""],
      [
        ["echo messages/s ≥ 1.3 × ws on node:http", fmtRatio(echoVsWs), mark(echoVsWs, 1.3)],
        ["stretch: ≥ 0.8 × Bun.serve", fmtRatio(echoVsBun), mark(echoVsBun, 0.8)],
        ["(server CPU per echoed message, oryx ÷ ws: below 1 is cheaper)", fmtRatio(cpuVsWs), ""],
      ],
      [false, true, false],
    ) + "\n",
  );
  out.push(
    `The same Bun-shaped app (\`bench/servers/ws-app.ts\`) on oryx (\`-w 1\`, defaults) and Bun.serve; \`ws\` on node:http is ` +
      `\`bench/servers/ws-node.mjs\`. Servers pinned to CPU 0, the client (\`bench/ws/clients.ts\`, one Node process of raw sockets) to CPU 1; ` +
      `${rounds} interleaved round(s) of ${seconds} s after 1 s of warm-up each; medians, ratios are medians of per-round ratios. ` +
      `One client process drives every server, so it can cap the rates: the server CPU time per message (user + system of the ` +
      `server's whole process tree over the measured window, from /proc) compares the servers' own costs. RSS is read at the end ` +
      `of each measurement, the clients still connected.\n`,
  );
  for (const load of Object.keys(WS_LOADS) as WsLoadId[]) out.push(loadTable(r, load));
  if (r.failures.length > 0) out.push(`Failed measurements: ${r.failures.join("; ")}\n`);
  return out.join("\n");
}
