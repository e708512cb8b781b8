/**
 * The scenarios and the loads they put on the peers. The headline scenarios (issue 19) load apps as users
 * write them: the user-shaped fetch app (servers/user-app.ts) on oryx and on Bun.serve, against the same-work
 * toy (its ceiling) and node:http; and the production-shaped Hono app (servers/hono-prod-app.mjs) on oryx,
 * @hono/node-server and Bun.serve. The secondary scenarios (issue 5) load the suite's lean app
 * (servers/common.mjs). A measurement is (peer, load, tool); scenarios that need the same measurement share it
 * (node:http's GET / serves the user-shaped rows and the lean rows alike).
 */
import type { LoadSpec, Tool } from "./load.ts";
import type { PeerId } from "./peers.ts";

export type LoadId = "hello" | "echo" | "64k" | "pipelined" | "json" | "users" | "cpu";

export const CONNECTIONS = 50;

export const LOADS: Record<LoadId, LoadSpec & { title: string }> = {
  hello: { title: "GET / (13 B)", method: "GET", path: "/", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  echo: { title: "POST /echo, 4 KiB echoed", method: "POST", path: "/echo", bodyBytes: 4096, pipelining: 1, connections: CONNECTIONS },
  "64k": { title: "GET /64k (65,536 B)", method: "GET", path: "/64k", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  pipelined: { title: "GET /, pipelined 16 deep", method: "GET", path: "/", bodyBytes: 0, pipelining: 16, connections: CONNECTIONS },
  json: { title: "GET /json/42 (router + JSON)", method: "GET", path: "/json/42", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  users: { title: "GET /users/7 (middleware + router + JSON)", method: "GET", path: "/users/7", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
  cpu: { title: "GET /cpu (~1 ms of CPU)", method: "GET", path: "/cpu", bodyBytes: 0, pipelining: 1, connections: CONNECTIONS },
};

export type ScenarioId =
  | "user-hello"
  | "user-echo"
  | "user-pipelined"
  | "hono-prod"
  | "hello"
  | "echo"
  | "64k"
  | "pipelined"
  | "hono"
  | "express"
  | "workers"
  | "idle"
  | "ws";

export interface Scenario {
  id: ScenarioId;
  /** Headline (issue 19: apps as users write them) or secondary (issue 5: the suite's lean app). */
  group: "user" | "lean";
  title: string;
  load: LoadId;
  peers: PeerId[];
  /** The peers whose same-round numbers each row's ratios are taken against, one column each. */
  compare: PeerId[];
  /** Also measured with `oryx bench`, reported next to wrk. */
  oryxBench: boolean;
  /** A sentence under the table. */
  note: string;
}

/** The user-shaped fetch app's table: node:http and the same-work toy for scale, Bun.serve beside oryx. */
const USER_PEERS: PeerId[] = ["node-http", "toy-samework", "bun-user", "oryx-user"];
const USER_COMPARE: PeerId[] = ["toy-samework", "node-http", "bun-user"];

const LEAN_PEERS: PeerId[] = ["node-http", "hono-node", "srvx", "fastify", "express", "oryx"];
// Express on oryx takes every load Express on node:http takes. Express's speed depends on what the process has
// served before: an Express 5 server warmed up on GET /, POST /echo, GET /64k and pipelined GET / then serves
// GET / at about 16k req/s, one warmed up on GET / alone at about 9k, on node:http and on oryx alike (measured
// in the suite; why, we do not know). The Express scenario compares the two, so both get the same history.
const ALL_LEAN: PeerId[] = [...LEAN_PEERS, "oryx-express"];

const USER_APP = "The user-shaped fetch app (`servers/user-app.ts`: `async fetch(request)`, `new URL(request.url)` per request, a content-type header on every Response), served unchanged by oryx and by Bun.serve; node:http is `servers/node-http.mjs` (writeHead + end, no URL parsed) and the same-work toy is `servers/toy-samework.mjs` (raw node:net: per request one async call and `new URL()` of the absolute URL, then the same response bytes oryx writes; no validation, no limits).";

/** The scenarios measured with every server running at once (pinned to CPU 0, load on CPU 1), headline first. */
export const MAIN_SCENARIOS: Scenario[] = [
  {
    id: "user-hello",
    group: "user",
    title: "User-shaped fetch app: GET /",
    load: "hello",
    peers: USER_PEERS,
    compare: USER_COMPARE,
    oryxBench: false,
    note: `${USER_APP} GET / answers \`new Response("Hello, World!", { headers: { "content-type": "text/plain;charset=utf-8" } })\`.`,
  },
  {
    id: "user-echo",
    group: "user",
    title: "User-shaped fetch app: POST 4 KiB echo",
    load: "echo",
    peers: USER_PEERS,
    compare: USER_COMPARE,
    oryxBench: false,
    note: "The same app and peers: a 4 KiB body (application/octet-stream) read with `await request.arrayBuffer()` and echoed with a content-type header (node:http: `data` events, `Buffer.concat`).",
  },
  {
    id: "user-pipelined",
    group: "user",
    title: "User-shaped fetch app: GET /, pipelined 16 deep",
    load: "pipelined",
    peers: USER_PEERS,
    compare: USER_COMPARE,
    oryxBench: false,
    note: "The same app and peers; wrk with a Lua script that writes 16 requests at once on each connection; wrk counts every response. Latency is per batch.",
  },
  {
    id: "hono-prod",
    group: "user",
    title: "Production-shaped Hono app: oryx vs Bun.serve and @hono/node-server",
    load: "users",
    peers: ["hono-prod-node", "bun-hono-prod", "oryx-hono-prod"],
    compare: ["bun-hono-prod", "hono-prod-node"],
    oryxBench: false,
    note: "The same Hono app (`servers/hono-prod-app.mjs`: a timing middleware that sets `x-response-time` after `await next()`, `cors()`, `secureHeaders()`, JSON routes with params, notFound/onError) on the three servers; load on `GET /users/:id` → `c.json({ id, name })` (16 response headers). Each server's answer is checked for the JSON and the middleware's headers before it is measured.",
  },
  {
    id: "hello",
    group: "lean",
    title: "Lean app: GET / hello",
    load: "hello",
    peers: ALL_LEAN,
    compare: ["node-http"],
    oryxBench: true,
    note: "Each peer answers `Hello, World!` (13 bytes, text/plain) from the suite's lean app (`servers/common.mjs`: a synchronous fetch handler that reads the path without parsing the URL and sets no header on GET /).",
  },
  {
    id: "echo",
    group: "lean",
    title: "Lean app: POST 4 KiB echo",
    load: "echo",
    peers: ALL_LEAN,
    compare: ["node-http"],
    oryxBench: false,
    note: "A 4 KiB body (application/octet-stream) read fully (fetch apps: `await request.arrayBuffer()`) and echoed back.",
  },
  {
    id: "64k",
    group: "lean",
    title: "Lean app: GET 64 KiB",
    load: "64k",
    peers: ALL_LEAN,
    compare: ["node-http"],
    oryxBench: false,
    note: "A 65,536-byte body allocated once at startup.",
  },
  {
    id: "pipelined",
    group: "lean",
    title: "Lean app: pipelined GET /, depth 16",
    load: "pipelined",
    peers: ALL_LEAN,
    compare: ["node-http"],
    oryxBench: false,
    note: "wrk with a Lua script that writes 16 requests at once on each connection (50 connections); wrk counts every response. Latency is per batch.",
  },
  {
    id: "hono",
    group: "lean",
    title: "Lean Hono app: oryx vs @hono/node-server",
    load: "json",
    peers: ["node-http", "hono-node", "oryx-hono"],
    compare: ["node-http", "hono-node"],
    oryxBench: false,
    note: "The same Hono app (servers/hono-app.mjs: several routes, params, JSON, notFound/onError, no middleware) on both servers; load on `GET /json/:id` → `{ id, ok: true }`. node:http answers the same JSON by hand, for scale.",
  },
  {
    id: "express",
    group: "lean",
    title: "Express app: oryx vs node:http",
    load: "hello",
    peers: ["node-http", "express", "oryx-express"],
    compare: ["node-http", "express"],
    oryxBench: false,
    note: "The same Express 5 app (servers/express-app.mjs, express's defaults) on node:http and on oryx; load on GET /. Both Express servers take the same loads in the same order (every lean table has a row for each), because Express's speed depends on what it has served before.",
  },
];

/** 1 vs 2 oryx workers: both cores for the server, load unpinned. */
export const WORKERS_SCENARIO: Scenario = {
  id: "workers",
  title: "1 vs 2 oryx workers, CPU-heavy handler",
  load: "cpu",
  group: "lean",
  peers: ["oryx-w1", "oryx-w2"],
  compare: ["oryx-w1"],
  oryxBench: false,
  note: "oryx with -w 1 and -w 2 under `taskset -c 0,1` (both cores), wrk unpinned; each request spins a fixed integer-hash loop calibrated once by the suite to ~1 ms and passed to every server as CPU_ITERS.",
};

/**
 * Peers of the idle-connection scenario (each started fresh per round): the user-shaped app on oryx and on
 * Bun.serve, the lean app's peers, and issue 5's parserless toy as the floor.
 */
export const IDLE_PEERS: PeerId[] = ["oryx-user", "bun-user", ...LEAN_PEERS, "toy"];

export interface Measure {
  peer: PeerId;
  load: LoadId;
  tool: Tool;
  /** Which run of a round it belongs to (a scenario's peers with one tool): see roundOrder. */
  block: number;
}

export const measureKey = (m: Omit<Measure, "block">): string => `${m.peer}|${m.load}|${m.tool}`;

/**
 * A round's measurements in the order they run: the measures as given, but each block (one scenario's peers
 * with one tool, as measuresOf numbers them) starts at another peer each round (round 1 as given, round 2 one
 * further, …). A load leaves the shared CPU in a state the next server inherits (caches, a peer's threads
 * winding down): measured in a fixed order, oryx always came right after Bun.serve, and in 5 rounds of the user
 * app's GET / it ran at a median 110.5k req/s right after Bun.serve against 114.2k right after itself (the
 * same-work toy: 121.2k and 122.4k). Rotating gives every peer every place in turn.
 */
export function roundOrder(measures: readonly Measure[], round: number): Measure[] {
  const out: Measure[] = [];
  let start = 0;
  while (start < measures.length) {
    const first = measures[start]!;
    let end = start + 1;
    while (end < measures.length && measures[end]!.block === first.block) end++;
    const n = end - start;
    const shift = (((round - 1) % n) + n) % n;
    for (let i = 0; i < n; i++) out.push(measures[start + ((i + shift) % n)]!);
    start = end;
  }
  return out;
}

/**
 * Every distinct measurement of these scenarios, scenario by scenario and peer by peer, each scenario's (per
 * tool) numbered as one block for roundOrder.
 */
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
  let block = 0;
  for (const s of scenarios) {
    block++;
    for (const peer of s.peers) add({ peer, load: s.load, tool: "wrk", block });
    block++;
    if (s.oryxBench) for (const peer of s.peers) add({ peer, load: s.load, tool: "oryx-bench", block });
  }
  return out;
}
