/**
 * The peers: every server the suite compares, and how to start it. Each serves the same routes (see
 * servers/common.mjs) on 127.0.0.1:$PORT. The plain-Node peers run their .mjs file directly; oryx runs from
 * dist/ (`node dist/cli.js APP -b 127.0.0.1:PORT -w N`).
 */
import type { ServerSpec } from "./procs.ts";

export type PeerId =
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
  | "toy";

export interface Peer {
  id: PeerId;
  /** How the report names it. */
  label: string;
  /** `node` arguments, given the port. */
  args(port: number): string[];
  oryx: boolean;
  /** taskset CPU list of the server (and, for oryx, its master and workers). */
  cpus: string;
}

/** oryx's settings in every run besides -b and -w: long keep-alive (the idle scenario holds connections for two
 * measurements), room for the idle connections, and a short graceful stop. */
export const ORYX_FLAGS = ["--keep-alive-timeout", "300s", "--worker-connections", "20000", "--graceful-timeout", "2s"];

const node = (id: PeerId, label: string, file: string): Peer => ({
  id,
  label,
  args: () => [`bench/servers/${file}`],
  oryx: false,
  cpus: "0",
});

const oryx = (id: PeerId, label: string, app: string, workers: number, cpus: string): Peer => ({
  id,
  label,
  args: (port) => ["dist/cli.js", `bench/servers/${app}`, "-b", `127.0.0.1:${port}`, "-w", String(workers), ...ORYX_FLAGS],
  oryx: true,
  cpus,
});

export const PEERS: Record<PeerId, Peer> = {
  "node-http": node("node-http", "node:http (writeHead + end)", "node-http.mjs"),
  "hono-node": node("hono-node", "Hono on @hono/node-server", "hono-node.mjs"),
  srvx: node("srvx", "srvx (FastResponse)", "srvx.mjs"),
  fastify: node("fastify", "fastify 5", "fastify.mjs"),
  express: node("express", "express 5 on node:http", "express.mjs"),
  oryx: oryx("oryx", "**oryx** (fetch handler, -w 1)", "oryx-app.ts", 1, "0"),
  "oryx-hono": oryx("oryx-hono", "**Hono on oryx** (-w 1)", "hono-app.mjs", 1, "0"),
  "oryx-express": oryx("oryx-express", "**express 5 on oryx** (-w 1)", "express-app.mjs", 1, "0"),
  "oryx-w1": oryx("oryx-w1", "oryx -w 1 (both cores)", "oryx-app.ts", 1, "0,1"),
  "oryx-w2": oryx("oryx-w2", "oryx -w 2 (both cores)", "oryx-app.ts", 2, "0,1"),
  toy: node("toy", "toy on raw node:net (no parser; idle scenario only)", "toy.mjs"),
};

export function serverSpec(peer: Peer, port: number, env: Record<string, string>, nofile: number): ServerSpec {
  return { nodeArgs: peer.args(port), env, cpus: peer.cpus, nofile, oryx: peer.oryx };
}

/** A shell-like rendering of how a peer is started, for the report. */
export function startCommand(peer: Peer, nofile: number): string {
  return `bash -c 'ulimit -n ${nofile} && exec taskset -c ${peer.cpus} node ${peer.args(0).join(" ").replace("127.0.0.1:0", "127.0.0.1:$PORT")}'`;
}
