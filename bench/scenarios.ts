/**
 * The scenarios of issue 5 and the loads they put on the peers. A measurement is (peer, load, tool); scenarios
 * that need the same measurement share it (the Express scenario reuses GET / of node:http and express).
 */
import type { LoadSpec, Tool } from "./load.ts";
import type { PeerId } from "./peers.ts";

export type LoadId = "hello" | "echo" | "64k" | "pipelined" | "json" | "cpu";

export const CONNECTIONS = 50;

export const LOADS: Record<LoadId, LoadSpec & { title: string }> = {
  hello: { title: "GET / (13 B)", method: "GET", path: "/", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  echo: { title: "POST /echo, 4 KiB echoed", method: "POST", path: "/echo", bodyBytes: 4096, pipelining: 1, connections: CONNECTIONS },
  "64k": { title: "GET /64k (65,536 B)", method: "GET", path: "/64k", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  pipelined: { title: "GET /, pipelined 16 deep", method: "GET", path: "/", bodyBytes: 0, pipelining: 16, connections: CONNECTIONS },
  json: { title: "GET /json/42 (router + JSON)", method: "GET", path: "/json/42", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  cpu: { title: "GET /cpu (~1 ms of CPU)", method: "GET", path: "/cpu", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
};

export type ScenarioId = "hello" | "echo" | "64k" | "pipelined" | "hono" | "express" | "workers" | "idle";

export interface Scenario {
  id: ScenarioId;
  title: string;
  load: LoadId;
  peers: PeerId[];
  /** The peer whose same-round numbers the ratios are taken against (node:http unless said). */
  baseline: PeerId;
  /** Also measured with `oryx bench`, reported next to wrk. */
  oryxBench: boolean;
  /** A sentence under the table. */
  note: string;
}

const PEERS: PeerId[] = ["node-http", "hono-node", "srvx", "fastify", "express", "oryx"];
// Express on oryx takes every load Express on node:http takes. Express's speed depends on what the process has
// served before: an Express 5 server warmed up on GET /, POST /echo, GET /64k and pipelined GET / then serves
// GET / at about 16k req/s, one warmed up on GET / alone at about 9k, on node:http and on oryx alike (measured
// in the suite; why, we do not know). The Express scenario compares the two, so both get the same history.
const ALL: PeerId[] = [...PEERS, "oryx-express"];

/** The scenarios measured with every server running at once (pinned to CPU 0, load on CPU 1). */
export const MAIN_SCENARIOS: Scenario[] = [
  {
    id: "hello",
    title: "GET / hello",
    load: "hello",
    peers: ALL,
    baseline: "node-http",
    oryxBench: true,
    note: "Each peer answers `Hello, World!` (13 bytes, text/plain).",
  },
  {
    id: "echo",
    title: "POST 4 KiB echo",
    load: "echo",
    peers: ALL,
    baseline: "node-http",
    oryxBench: false,
    note: "A 4 KiB body (application/octet-stream) read fully (fetch apps: `await request.arrayBuffer()`) and echoed back.",
  },
  {
    id: "64k",
    title: "GET 64 KiB",
    load: "64k",
    peers: ALL,
    baseline: "node-http",
    oryxBench: false,
    note: "A 65,536-byte body allocated once at startup.",
  },
  {
    id: "pipelined",
    title: "Pipelined GET /, depth 16",
    load: "pipelined",
    peers: ALL,
    baseline: "node-http",
    oryxBench: false,
    note: "wrk with a Lua script that writes 16 requests at once on each connection (50 connections); wrk counts every response. Latency is per batch.",
  },
  {
    id: "hono",
    title: "Hono app: oryx vs @hono/node-server",
    load: "json",
    peers: ["node-http", "hono-node", "oryx-hono"],
    baseline: "hono-node",
    oryxBench: false,
    note: "The same Hono app (servers/hono-app.mjs: several routes, params, JSON, notFound/onError) on both servers; load on `GET /json/:id` → `{ id, ok: true }`. node:http answers the same JSON by hand, for scale.",
  },
  {
    id: "express",
    title: "Express app: oryx vs node:http",
    load: "hello",
    peers: ["node-http", "express", "oryx-express"],
    baseline: "express",
    oryxBench: false,
    note: "The same Express 5 app (servers/express-app.mjs, express's defaults) on node:http and on oryx; load on GET /. Both Express servers take the same loads in the same order (every table above has a row for each), because Express's speed depends on what it has served before.",
  },
];

/** 1 vs 2 oryx workers: both cores for the server, load unpinned. */
export const WORKERS_SCENARIO: Scenario = {
  id: "workers",
  title: "1 vs 2 oryx workers, CPU-heavy handler",
  load: "cpu",
  peers: ["oryx-w1", "oryx-w2"],
  baseline: "oryx-w1",
  oryxBench: false,
  note: "oryx with -w 1 and -w 2 under `taskset -c 0,1` (both cores), wrk unpinned; each request spins a fixed integer-hash loop calibrated once by the suite to ~1 ms and passed to every server as CPU_ITERS.",
};

/** Peers of the idle-connection scenario (each started fresh per round), with the toy as the floor. */
export const IDLE_PEERS: PeerId[] = [...PEERS, "toy"];

export interface Measure {
  peer: PeerId;
  load: LoadId;
  tool: Tool;
}

export const measureKey = (m: Measure): string => `${m.peer}|${m.load}|${m.tool}`;

/** Every distinct measurement of these scenarios, in the order of a round (scenario by scenario, peer by peer). */
export function measuresOf(scenarios: readonly Scenario[]): Measure[] {
  const out: Measure[] = [];
  const seen = new Set<string>();
  const add = (m: Measure): void => {
    const k = measureKey(m);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(m);
    }
  };
  for (const s of scenarios) {
    for (const peer of s.peers) add({ peer, load: s.load, tool: "wrk" });
    if (s.oryxBench) for (const peer of s.peers) add({ peer, load: s.load, tool: "oryx-bench" });
  }
  return out;
}
