import { fetchGateway } from "../gateway/fetch.ts";
import { AppLoadError, loadApp, type LoadedApp } from "../gateway/load.ts";
import { createLogger, describeError } from "../log.ts";
import { openAccessLog, type AccessLog } from "../server/access-log.ts";
import type { RequestHandler } from "../gateway/exchange.ts";
import { adoptServer, checkingInterval } from "../gateway/node.ts";
import { installLiteResponse } from "../gateway/response.ts";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { Server, type InheritedSocket } from "../server/server.ts";
import { connectionOptions, nodeLimits, serverEdges } from "../server/from-settings.ts";
import { WORKER_CONFIG_ENV, WORKER_EXIT, type ToMaster, type ToWorker, type WorkerConfig } from "./protocol.ts";
import { StatsCollector, type WorkerStats } from "./worker-stats.ts";
import { processTopics } from "../ws/topics.ts";

/** What `server.address()` tells an app whose module called listen() itself: oryx's first address. */
function appAddress(urls: string[]): AddressInfo | string | null {
  const first = urls[0];
  if (first === undefined) return null;
  if (first.startsWith("unix:")) return first.slice(5);
  const u = new URL(first);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return { address: host, family: host.includes(":") ? "IPv6" : "IPv4", port: Number(u.port) };
}

function send(msg: ToMaster): void {
  if (process.connected) process.send!(msg);
}

/**
 * The most connections a worker holds: --worker-connections, within what its open-files limit allows. Node raises
 * the soft limit to the hard one when it starts, so that is the hard `ulimit -n`; a tenth of it (at least 100) is
 * left for the app's own files and sockets, so the worker makes room or stops accepting (see Server) before
 * accept() fails for want of a descriptor. Linux tells the limit in /proc/self/limits; elsewhere the setting stands.
 */
export function connectionLimit(setting: number, limits: string | null = readLimits()): { limit: number; nofile: number | null } {
  // The soft limit (the first column) is the one that applies.
  const m = limits === null ? null : /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (m === null || m[1] === "unlimited") return { limit: setting, nofile: null };
  const nofile = Number(m[1]);
  const cap = Math.max(1, nofile - Math.max(100, Math.floor(nofile / 10)));
  return { limit: Math.min(setting, cap), nofile };
}

function readLimits(): string | null {
  try {
    return readFileSync("/proc/self/limits", "utf8");
  } catch {
    return null;
  }
}

/** Where a crash may have come from: the requests in flight when it happened. */
function inFlightText(server: Server | null): string {
  if (server === null) return "";
  const f = server.inFlight();
  const node = f.handedOff > 0 ? `${f.handedOff} connection(s) of the Node app` : "";
  if (f.requests.length === 0) return node === "" ? " (no request in flight at the time)" : ` (in flight at the time: ${node})`;
  const list = f.requests.join(", ") + (f.more > 0 ? ` and ${f.more} more` : "") + (node === "" ? "" : `, ${node}`);
  return ` (in flight at the time: ${list})`;
}

/**
 * A worker process: loads the app, takes the listening sockets the master bound, serves until told to stop,
 * and answers the master's heartbeat by sending one from its event loop (a loop stuck in app code sends none).
 */
export async function runWorker(): Promise<void> {
  const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? "null") as WorkerConfig | null;
  if (config === null || !process.send) {
    process.stderr.write("oryx: the worker entry point is started by the oryx master, not by hand\n");
    process.exit(2);
  }
  delete process.env[WORKER_CONFIG_ENV];
  const { settings } = config;
  const log = createLogger(settings.logLevel, settings.errorLog);

  // Sockets may arrive while the app loads: collect them from the start.
  const sockets: InheritedSocket[] = [];
  let socketWaiter: (() => void) | null = null;
  let server: Server | null = null;
  let accessLog: AccessLog | null = null;
  let stopping = false;
  let resumeRequested = false;
  let crashed = false;
  let requests = 0;
  const stats = config.collectStats ? new StatsCollector() : null;
  let nodeApp = false;
  const snapshot = (resetLag: boolean): WorkerStats => {
    const bytes = server?.byteTotals() ?? { bytesIn: 0, bytesOut: 0 };
    return stats!.snapshot({ connections: server?.openConnections ?? 0, ...bytes, rss: process.memoryUsage.rss(), nodeApp }, resetLag);
  };

  const stop = (graceful: boolean): void => {
    if (stopping) {
      if (!graceful) server?.destroyAll();
      return;
    }
    stopping = true;
    if (server === null) process.exit(WORKER_EXIT.OK);
    if (!graceful) server.destroyAll();
    void server.close(graceful ? settings.gracefulTimeout : 0).then(async () => {
      await accessLog?.close();
      // The last counts, so the master's totals include every request this worker answered.
      if (stats !== null && process.connected) await new Promise<void>((resolve) => process.send!({ t: "heartbeat", stats: snapshot(false) } satisfies ToMaster, () => resolve()));
      process.exit(crashed ? WORKER_EXIT.CRASHED : WORKER_EXIT.OK);
    });
  };

  /**
   * An uncaught exception or unhandled rejection while serving (a throw in an app's timer callback, a promise
   * nobody awaited): the process's state is suspect, so the worker stops as on SIGTERM: it accepts no more
   * connections, lets the requests in flight finish (at most --graceful-timeout), then exits (code 1), while its
   * replacement starts at once. The error is logged with the requests in flight: which one it came from is not
   * known (AsyncLocalStorage would know, at a third of the throughput of a small app on Node 20).
   */
  const crash = (what: string, err: unknown): void => {
    if (crashed) {
      log.error(`${what} in worker ${process.pid}, which is already stopping after an earlier one${inFlightText(server)}`, err);
      return;
    }
    crashed = true;
    const grace = `at most ${settings.gracefulTimeout / 1000}s, --graceful-timeout`;
    log.error(`${what} in worker ${process.pid}${inFlightText(server)}: it stops accepting, finishes the requests in flight (${grace}) and exits; a replacement starts now`, err);
    send({ t: "retire", requests, reason: "crash" });
    stop(true);
  };

  const reopenLogs = (): void => {
    log.reopen();
    accessLog?.reopen();
  };

  process.on("message", (msg: ToWorker, handle?: object) => {
    switch (msg.t) {
      case "socket": {
        if (handle === undefined) return;
        const listener = config.listeners[msg.index]!;
        if (server !== null) {
          // Sockets sent anew after a pause at --worker-connections.
          resumeRequested = false;
          if (!stopping) {
            server.listenOn([{ handle, listener }]).catch((err: Error) => log.error("could not resume accepting", err));
          }
          return;
        }
        sockets.push({ handle, listener });
        if (sockets.length === config.listeners.length) socketWaiter?.();
        return;
      }
      case "stop":
        stop(true);
        return;
      case "quit":
        stop(false);
        return;
      case "reopen":
        reopenLogs();
        return;
      case "stats":
        if (stats !== null) send({ t: "stats", id: msg.id, stats: snapshot(false) });
        return;
      case "publish":
        processTopics.deliver(msg.topic, Buffer.from(msg.frame, "base64"), msg.payloadLength);
        return;
    }
  });
  // This worker's WebSocket publishes go to the master, which passes them to the other workers.
  processTopics.relay = (topic, frame, payloadLength) => {
    if (process.connected) send({ t: "publish", topic, frame: frame.toString("base64"), payloadLength });
  };
  // The master died or closed the channel: no orphans holding the port.
  process.on("disconnect", () => {
    log.warning("the master is gone; stopping");
    stop(true);
  });
  process.on("SIGTERM", () => stop(true));
  process.on("SIGINT", () => stop(true)); // Ctrl-C reaches the whole process group; the master stops us too
  process.on("SIGQUIT", () => stop(false));
  process.on("SIGHUP", () => {}); // the master reloads; workers just carry on until told to stop
  process.on("SIGUSR1", () => reopenLogs());
  // Until the worker serves; then a rejection is a crash (see `crash`).
  const loadingRejection = (reason: unknown): void => log.error("an unhandled promise rejection (in the app?)", reason);
  process.on("unhandledRejection", loadingRejection);

  // Before the app loads, so its `new Response(...)` makes the lighter kind (src/gateway/response.ts).
  installLiteResponse();
  let app: LoadedApp;
  try {
    process.chdir(config.cwd);
    app = await loadApp(config.app, config.cwd, {
      interface: settings.interface,
      address: appAddress(config.listeners.map((l) => l.url)),
      checkingIntervalMs: checkingInterval({ headerTimeoutMs: settings.headerTimeout, bodyTimeoutMs: settings.requestTimeout }),
      listenTimeoutMs: settings.listenTimeout,
      log,
    });
  } catch (err) {
    if (err instanceof AppLoadError) {
      const stack = err.cause !== undefined ? `\n${describeError(err.cause)}` : "";
      process.stderr.write(`oryx: cannot load the app: ${err.message}${stack}\n`);
      process.exit(WORKER_EXIT.APP_LOAD);
    }
    throw err;
  }

  if (config.fetchAppCap && app.interface === "node") {
    // A Node app under the fetch apps' young-generation cap (--max-semi-space auto): the master starts this
    // worker again without it, as node:http would run the app. Nothing was served yet.
    process.exit(WORKER_EXIT.NODE_APP);
  }
  if (sockets.length < config.listeners.length) await new Promise<void>((resolve) => (socketWaiter = resolve));
  accessLog = settings.accessLog === "" ? null : openAccessLog(settings.accessLog, settings.accessLogFormat, (err) => log.error(`cannot write the access log ${settings.accessLog}`, err));
  const handler: RequestHandler = app.interface === "fetch" ? fetchGateway(app.fetch, log) : () => {};
  const connection = connectionOptions(settings, handler, log, accessLog, app.interface === "fetch" ? app.websocket : null);
  nodeApp = app.interface === "node";
  // With --metrics-bind the engine's access hook also counts: one hook, so the access log's path is unchanged.
  let onAccess = accessLog === null ? null : accessLog.write;
  if (stats !== null) {
    const write = onAccess;
    const count = stats.onAccess;
    onAccess = write === null ? count : (r) => (count(r), write(r));
    connection.onAccess = onAccess;
  }
  const handOff =
    app.interface === "node"
      ? adoptServer(app.server, nodeLimits(settings), log, !app.listening, onAccess, () => connection.onRequest?.())
      : undefined;
  if (config.maxRequests > 0) {
    const counted = stats?.onRequest;
    connection.onRequest = () => {
      counted?.();
      if (++requests === config.maxRequests) {
        log.info(`worker ${process.pid} served ${requests} requests (--max-requests): retiring`);
        send({ t: "retire", requests });
      }
    };
  } else if (stats !== null) {
    connection.onRequest = stats.onRequest;
  }
  const { limit, nofile } = connectionLimit(settings.workerConnections);
  if (limit < settings.workerConnections) {
    log.info(`worker ${process.pid} holds at most ${limit} connections: --worker-connections ${settings.workerConnections} is more than its open-files limit (ulimit -n ${nofile}) allows`);
  }
  server = new Server({
    binds: [],
    backlog: settings.backlog,
    connection,
    ...serverEdges(settings),
    maxConnections: limit,
    ...(handOff !== undefined ? { handOff } : {}),
    countBytes: stats !== null,
    onAcceptPaused: (paused) => {
      if (paused) {
        log.debug(`worker ${process.pid} holds ${limit} connections (--worker-connections) and none can make room: not accepting`);
      } else if (!resumeRequested && !stopping) {
        resumeRequested = true;
        send({ t: "sockets" });
      }
    },
  });
  try {
    await server.listenOn(sockets);
  } catch (err) {
    send({ t: "listen-failed", message: (err as Error).message });
    process.stderr.write(`oryx: ${(err as Error).message}\n`);
    process.exit(WORKER_EXIT.LISTEN);
  }
  if (stopping) return;
  process.off("unhandledRejection", loadingRejection);
  process.on("unhandledRejection", (reason) => crash("an unhandled promise rejection", reason));
  process.on("uncaughtException", (err) => crash("an uncaught exception", err));
  send({ t: "ready", interface: app.interface });
  const beat = Math.min(1000, Math.max(100, Math.floor(settings.timeout / 4)));
  // RSS is read only when the master needs it (a read of /proc/self/statm on Linux, once a beat).
  setInterval(() => {
    if (stats !== null) send({ t: "heartbeat", stats: snapshot(true) });
    else if (config.reportMemory) send({ t: "heartbeat", rss: process.memoryUsage.rss() });
    else send({ t: "heartbeat" });
  }, beat).unref();
}
