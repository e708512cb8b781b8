import type { Settings } from "../config/settings.ts";
import type { AppSpec } from "../config/app-spec.ts";
import type { ListenerInfo } from "../server/server.ts";
import type { WorkerStats } from "./worker-stats.ts";

/** What a worker needs to start: passed in ORYX_WORKER_CONFIG as JSON. */
export interface WorkerConfig {
  settings: Settings;
  app: AppSpec;
  cwd: string;
  /** The sockets the master will send, in order, with their real addresses (port 0 resolved). */
  listeners: ListenerInfo[];
  /** Requests after which this worker retires (0: never). The master adds the jitter. */
  maxRequests: number;
  /** Report RSS on the heartbeat (--max-worker-memory or --metrics-bind). */
  reportMemory: boolean;
  /** Count requests and report them on the heartbeat (--metrics-bind). */
  collectStats: boolean;
  /** Its young generation has the fetch apps' cap by --max-semi-space auto: with a Node app it exits NODE_APP, unready. */
  fetchAppCap: boolean;
}

export const WORKER_CONFIG_ENV = "ORYX_WORKER_CONFIG";

/** Master → worker. A `socket` message carries the listening handle as its IPC sendHandle. */
export type ToWorker =
  | { t: "socket"; index: number }
  | { t: "stop" } // graceful: finish in-flight requests, then exit
  | { t: "quit" } // fast: close everything and exit now
  | { t: "reopen" } // reopen log files
  | { t: "stats"; id: number } // send your counters now (a /metrics scrape): answered with a "stats" message
  | WsPublish; // another worker published to a WebSocket topic: deliver to this worker's subscribers

/** Worker → master. */
export type ToMaster =
  | { t: "ready"; interface: string }
  | { t: "heartbeat"; rss?: number; stats?: WorkerStats } // rss with reportMemory, stats with collectStats
  | { t: "stats"; id: number; stats: WorkerStats }
  | { t: "retire"; requests: number; reason?: "crash" } // --max-requests reached, or crashed: start my replacement, then stop me
  | { t: "sockets" } // I stopped accepting at --worker-connections and have room again: send the sockets anew
  | { t: "listen-failed"; message: string }
  | WsPublish; // I published to a WebSocket topic: pass it to the other workers

/** A WebSocket publish relayed between workers: the encoded frame, base64 (the IPC channel carries JSON). */
export interface WsPublish {
  t: "publish";
  topic: string;
  frame: string;
  payloadLength: number;
}

/** Worker exit codes the master reads. */
export const WORKER_EXIT = {
  OK: 0,
  APP_LOAD: 4,
  LISTEN: 3,
  /** It stopped after an uncaught exception or unhandled rejection (see worker.ts). */
  CRASHED: 1,
  /**
   * It loaded a Node app under the fetch apps' young-generation cap (--max-semi-space auto) and stopped before
   * serving: start it again without the cap. An exit code, not a message: 'exit' may reach the master first.
   * Not one of the master's own exit codes (README, Exit codes), as 3 and 4 are on purpose: this one never is.
   */
  NODE_APP: 10,
} as const;
