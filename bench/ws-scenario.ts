/**
 * The WebSocket scenario (issue 17): 50 connections echoing 64-byte messages, and a broadcast of 64-byte messages
 * to 1,000 subscribers; oryx (the CLI at its defaults, -w 1) against `ws` on node:http and Bun.serve, the same
 * Bun-shaped app on oryx and Bun (servers/ws-app.ts). Every server runs at once, pinned to CPU 0; the client
 * (bench/ws/clients.ts, one Node process of raw sockets) to CPU 1. Each server is warmed up with an echo run, then
 * interleaved rounds run every (load, server) once in the same order. Per measurement: messages received per
 * second, the server's CPU time per message (user + system of its whole process tree, from /proc, over the
 * measured window: the figure that compares servers when the one client process limits the rate), and the
 * whole-tree RSS right after (for broadcast, with the 1,000 subscribers still open).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { PeerId } from "./peers.ts";
import { startPeers } from "./phase.ts";
import { sleep, track, treeCpuSeconds, type Server } from "./procs.ts";

export type WsLoadId = "ws-echo" | "ws-broadcast";

export const WS_LOADS: Record<WsLoadId, { title: string; mode: "echo" | "broadcast"; clients: number; unit: string; one: string }> = {
  "ws-echo": { title: "echo, 50 connections, 64-byte binary messages, one in flight each", mode: "echo", clients: 50, unit: "messages", one: "message" },
  "ws-broadcast": { title: "broadcast to 1,000 subscribers, 64-byte binary messages, the next sent when all got the last", mode: "broadcast", clients: 1000, unit: "deliveries", one: "delivery" },
};

/** The servers, in the order each round measures them; the ratios are taken against the last two. */
export const WS_PEERS: PeerId[] = ["oryx-ws", "ws-node", "bun-ws"];

export interface WsSample {
  round: number;
  /** Messages received by the clients per second (deliveries, for broadcast). */
  rate: number;
  /** Server CPU time (whole tree) per message, µs. */
  cpuUs: number;
  rssKiB: number | null;
}

export interface WsResult {
  /** `${peer}|${load}` → one sample per round. */
  samples: Map<string, WsSample[]>;
  notStarted: Map<PeerId, { reason: string; exitCode: number | null }>;
  /** Measurements that failed (the client's error), by round. */
  failures: string[];
}

export interface WsOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  env: Record<string, string>;
  nofile: number;
  log(line: string): void;
}

export const wsKey = (peer: PeerId, load: WsLoadId): string => `${peer}|${load}`;

/** Runs the client on CPU 1 against `server` and reads the server's CPU time over the client's measured window. */
async function measure(server: Server, load: WsLoadId, seconds: number): Promise<WsSample & { round: 0 }> {
  const spec = WS_LOADS[load];
  const proc = spawn("taskset", ["-c", "1", process.execPath, "--import", "tsx", "bench/ws/clients.ts", spec.mode, String(server.port), String(seconds), String(spec.clients)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(proc);
  let stderr = "";
  proc.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  let cpu0 = 0;
  // RSS is read as the client reports, before it closes its sockets.
  let done: { messages: number; seconds: number; cpu: number; rssKiB: number | null } | null = null;
  const timer = setTimeout(() => proc.kill("SIGKILL"), (seconds + 60) * 1000);
  for await (const line of createInterface({ input: proc.stdout! })) {
    const msg = JSON.parse(line) as { measuring?: boolean; messages?: number; seconds?: number };
    if (msg.measuring === true) cpu0 = treeCpuSeconds(server.pid);
    else if (msg.messages !== undefined) done = { messages: msg.messages, seconds: msg.seconds!, cpu: treeCpuSeconds(server.pid) - cpu0, rssKiB: server.rssKiB() };
  }
  const code = await exited;
  clearTimeout(timer);
  if (done === null || done.messages === 0) throw new Error(`the client failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" ")}`);
  return { round: 0, rate: done.messages / done.seconds, cpuUs: (done.cpu / done.messages) * 1e6, rssKiB: done.rssKiB };
}

export async function runWs(o: WsOptions): Promise<WsResult> {
  const result: WsResult = { samples: new Map(), notStarted: new Map(), failures: [] };
  const servers = new Map<PeerId, Server>();
  try {
    await startPeers(WS_PEERS, o, servers, result.notStarted);
    for (const [id, server] of servers) {
      o.log(`warm-up ${id} ws-echo (${o.warmupSeconds} s)`);
      await measure(server, "ws-echo", o.warmupSeconds).catch((err: unknown) => o.log(`warm-up ${id}: ${(err as Error).message}`));
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const load of Object.keys(WS_LOADS) as WsLoadId[]) {
        for (const [id, server] of servers) {
          if (!server.running) continue;
          try {
            const s = { ...(await measure(server, load, o.seconds)), round };
            const list = result.samples.get(wsKey(id, load)) ?? [];
            list.push(s);
            result.samples.set(wsKey(id, load), list);
            o.log(`[ws ${round}/${o.rounds}] ${load.padEnd(12)} ${id.padEnd(8)} ${Math.round(s.rate).toLocaleString("en-US").padStart(9)} ${WS_LOADS[load].unit}/s, ${s.cpuUs.toFixed(2)} µs server CPU each`);
          } catch (err) {
            result.failures.push(`round ${round}, ${id}, ${load}: ${(err as Error).message}`);
            o.log(`[ws ${round}/${o.rounds}] ${load} ${id}: ${(err as Error).message}`);
          }
          await sleep(200);
        }
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
  return result;
}
