/**
 * The peers: every server the suite compares, and how to start it. Each serves its app on 127.0.0.1:$PORT, at
 * its own defaults. The plain-Node peers run their .mjs file directly; oryx runs from dist/
 * (`node dist/cli.js APP -b 127.0.0.1:PORT -w N`, no other flag: oryx's defaults); the Bun peers run
 * `node_modules/.bin/bun bench/servers/bun-runner.ts APP` (Bun.serve with the app's fetch).
 */
import type { ServerSpec } from "./procs.ts";

export type PeerId =
  // the user-shaped fetch app (servers/user-app.ts) and what it is compared with
  | "oryx-user"
  | "bun-user"
  | "toy-samework"
  // the production-shaped Hono app (servers/hono-prod-app.mjs)
  | "oryx-hono-prod"
  | "hono-prod-node"
  | "bun-hono-prod"
  // the lean app of issue 5 (servers/common.mjs) and its peers
  | "node-http"
  | "hono-node"
  | "srvx"
  | "fastify"
  | "express"
  | "oryx"
  | "oryx-hono"
  | "oryx-express"
  | "oryx-w1"
  | "oryx-w2"
  | "toy"
  // the WebSocket scenario's app (servers/ws-app.ts) on oryx and Bun.serve, and ws on node:http (servers/ws-node.mjs)
  | "oryx-ws"
  | "bun-ws"
  | "ws-node";

export interface Peer {
  id: PeerId;
  /** How the report names it. */
  label: string;
  /** How a ratio column names it: `× short`. */
  short: string;
  /** The command (executable first), given the port. */
  argv(port: number): string[];
  oryx: boolean;
  /** taskset CPU list of the server (and, for oryx, its master and workers). */
  cpus: string;
}

/** Bun, a devDependency (the npm package `bun` installs its binary there). */
export const BUN = "node_modules/.bin/bun";

/**
 * oryx's flags in every run besides the app, -b and -w: none. Every oryx row is oryx at its defaults
 * (src/config/settings.ts: --worker-connections, --keep-alive-timeout, --max-semi-space, … as shipped).
 */
export const ORYX_FLAGS: readonly string[] = [];

const node = (id: PeerId, label: string, short: string, file: string): Peer => ({
  id,
  label,
  short,
  argv: () => [process.execPath, `bench/servers/${file}`],
  oryx: false,
  cpus: "0",
});

const bun = (id: PeerId, label: string, app: string): Peer => ({
  id,
  label,
  short: "Bun.serve",
  argv: () => [BUN, "bench/servers/bun-runner.ts", `bench/servers/${app}`],
  oryx: false,
  cpus: "0",
});

const oryx = (id: PeerId, label: string, short: string, app: string, workers: number, cpus: string): Peer => ({
  id,
  label,
  short,
  argv: (port) => [process.execPath, "dist/cli.js", `bench/servers/${app}`, "-b", `127.0.0.1:${port}`, "-w", String(workers), ...ORYX_FLAGS],
  oryx: true,
  cpus,
});

export const PEERS: Record<PeerId, Peer> = {
  "oryx-user": oryx("oryx-user", "**oryx** (user-shaped fetch app, -w 1)", "oryx", "user-app.ts", 1, "0"),
  "bun-user": bun("bun-user", "Bun.serve (user-shaped fetch app)", "user-app.ts"),
  "toy-samework": node("toy-samework", "same-work toy on raw node:net", "toy", "toy-samework.mjs"),
  "oryx-hono-prod": oryx("oryx-hono-prod", "**production Hono app on oryx** (-w 1)", "oryx", "hono-prod-app.mjs", 1, "0"),
  "hono-prod-node": node("hono-prod-node", "production Hono app on @hono/node-server", "@hono/node-server", "hono-prod-node.mjs"),
  "bun-hono-prod": bun("bun-hono-prod", "production Hono app on Bun.serve", "hono-prod-app.mjs"),
  "node-http": node("node-http", "node:http (writeHead + end)", "node:http", "node-http.mjs"),
  "hono-node": node("hono-node", "Hono on @hono/node-server", "@hono/node-server", "hono-node.mjs"),
  srvx: node("srvx", "srvx (FastResponse)", "srvx", "srvx.mjs"),
  fastify: node("fastify", "fastify 5", "fastify", "fastify.mjs"),
  express: node("express", "express 5 on node:http", "express 5 on node:http", "express.mjs"),
  oryx: oryx("oryx", "**oryx** (lean fetch handler, -w 1)", "oryx", "oryx-app.ts", 1, "0"),
  "oryx-hono": oryx("oryx-hono", "**Hono on oryx** (-w 1)", "Hono on oryx", "hono-app.mjs", 1, "0"),
  "oryx-express": oryx("oryx-express", "**express 5 on oryx** (-w 1)", "express 5 on oryx", "express-app.mjs", 1, "0"),
  "oryx-w1": oryx("oryx-w1", "oryx -w 1 (both cores)", "-w 1", "oryx-app.ts", 1, "0,1"),
  "oryx-w2": oryx("oryx-w2", "oryx -w 2 (both cores)", "-w 2", "oryx-app.ts", 2, "0,1"),
  toy: node("toy", "toy on raw node:net (no parser; idle scenario only)", "parserless toy", "toy.mjs"),
  "oryx-ws": oryx("oryx-ws", "**oryx** (Bun-shaped WebSocket app, -w 1)", "oryx", "ws-app.ts", 1, "0"),
  "bun-ws": bun("bun-ws", "Bun.serve (the same WebSocket app)", "ws-app.ts"),
  "ws-node": node("ws-node", "ws on node:http", "ws on node:http", "ws-node.mjs"),
};

export function serverSpec(peer: Peer, port: number, env: Record<string, string>, nofile: number): ServerSpec {
  return { argv: peer.argv(port), env, cpus: peer.cpus, nofile, oryx: peer.oryx };
}

/** A shell-like rendering of how a peer is started, for the report. */
export function startCommand(peer: Peer, nofile: number): string {
  const [exe, ...args] = peer.argv(0);
  const shown = exe === process.execPath ? "node" : exe;
  return `bash -c 'ulimit -n ${nofile} && exec taskset -c ${peer.cpus} ${shown} ${args.join(" ").replace("127.0.0.1:0", "127.0.0.1:$PORT")}'`;
}
