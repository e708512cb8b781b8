/**
 * A phase: start its servers (all at once, each pinned as its peer says), check their routes, warm each up,
 * then run interleaved rounds (every measurement once per round; each scenario's peers in turn, starting at
 * another peer each round: scenarios.ts roundOrder), reading the server's
 * whole-tree RSS (the process and its descendants) after each measurement. Servers are stopped at the end of
 * the phase.
 */
import { checkRoute } from "./check.ts";
import { runLoad, type LoadResult } from "./load.ts";
import { PEERS, serverSpec, type PeerId } from "./peers.ts";
import { freePort, sleep, startServer, StartError, type Server } from "./procs.ts";
import { LOADS, measureKey, roundOrder, type Measure } from "./scenarios.ts";

export interface Sample {
  round: number;
  result: LoadResult;
  rssKiB: number | null;
  /** The whole tree's memory with every page counted once (procs.ts treeMemoryKiB), read with rssKiB. */
  memKiB: number | null;
}

export interface PhaseResult {
  /** measureKey → one sample per round. */
  samples: Map<string, Sample[]>;
  /** Peers that did not start: why (the server's last output line included). */
  notStarted: Map<PeerId, { reason: string; exitCode: number | null }>;
  /** measureKey → why it was not measured (its route answered wrongly). */
  skipped: Map<string, string>;
}

export interface PhaseOptions {
  measures: Measure[];
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  /** taskset CPU list of the load generator, or null for unpinned. */
  loadCpus: string | null;
  env: Record<string, string>;
  nofile: number;
  log(line: string): void;
}

/** Starts each peer on a free port (into `servers`); one that does not start is noted in `notStarted`, with why. */
export async function startPeers(
  peers: readonly PeerId[],
  o: { env: Record<string, string>; nofile: number; log(line: string): void },
  servers: Map<PeerId, Server>,
  notStarted: Map<PeerId, { reason: string; exitCode: number | null }>,
): Promise<void> {
  for (const id of peers) {
    const port = await freePort();
    try {
      servers.set(id, await startServer(serverSpec(PEERS[id], port, o.env, o.nofile), port));
      o.log(`started ${id} on 127.0.0.1:${port}`);
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      const last = err.stderr.trim().split("\n").slice(-1)[0] ?? "";
      notStarted.set(id, { reason: `${err.message}${last !== "" ? `: ${last}` : ""}`, exitCode: err.exitCode });
      o.log(`${id} did not start: ${err.message}\n${err.stderr.trim()}`);
    }
  }
}

export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const result: PhaseResult = { samples: new Map(), notStarted: new Map(), skipped: new Map() };
  const peers = [...new Set(o.measures.map((m) => m.peer))];
  const servers = new Map<PeerId, Server>();
  try {
    await startPeers(peers, o, servers, result.notStarted);

    let measures = o.measures.filter((m) => servers.has(m.peer));
    for (const m of measures) {
      const problem = await checkRoute(servers.get(m.peer)!.port, m.load);
      if (problem !== null) {
        result.skipped.set(measureKey(m), problem);
        o.log(`${m.peer} ${m.load}: not measured: ${problem}`);
      }
    }
    measures = measures.filter((m) => !result.skipped.has(measureKey(m)));

    // Warm-up: every (peer, load) once with wrk, not counted.
    const warmed = new Set<string>();
    for (const m of measures) {
      const k = `${m.peer}|${m.load}`;
      if (warmed.has(k)) continue;
      warmed.add(k);
      o.log(`warm-up ${m.peer} ${m.load} (${o.warmupSeconds} s)`);
      await runLoad("wrk", LOADS[m.load], servers.get(m.peer)!.port, o.warmupSeconds, o.loadCpus);
    }

    for (let round = 1; round <= o.rounds; round++) {
      for (const m of roundOrder(measures, round)) {
        const server = servers.get(m.peer)!;
        if (!server.running) {
          o.log(`[round ${round}/${o.rounds}] ${m.peer} is no longer running; its measurements stop here`);
          continue;
        }
        const r = await runLoad(m.tool, LOADS[m.load], server.port, o.seconds, o.loadCpus);
        const rssKiB = server.rssKiB();
        const memKiB = server.memoryKiB();
        const list = result.samples.get(measureKey(m)) ?? [];
        list.push({ round, result: r, rssKiB, memKiB });
        result.samples.set(measureKey(m), list);
        o.log(
          `[round ${round}/${o.rounds}] ${m.load.padEnd(10)} ${m.peer.padEnd(15)} ${m.tool.padEnd(10)} ` +
            `${Math.round(r.requestsPerSecond).toLocaleString("en-US").padStart(9)} req/s  p99 ${(r.p99us / 1000).toFixed(2)} ms` +
            `${r.note !== null ? `  (${r.note})` : ""}`,
        );
        await sleep(200);
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
  return result;
}
