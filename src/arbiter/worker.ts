import { fetchGateway } from "../gateway/fetch.ts";
import { AppLoadError, loadApp, type LoadedApp } from "../gateway/load.ts";
import { createLogger, describeError } from "../log.ts";
import { openAccessLog, type AccessLog } from "../server/access-log.ts";
import type { RequestHandler } from "../gateway/exchange.ts";
import { adoptServer, checkingInterval } from "../gateway/node.ts";
import { installLiteResponse } from "../gateway/response.ts";
import type { AddressInfo } from "node:net";
import { Server, type InheritedSocket } from "../server/server.ts";
import { connectionOptions, nodeLimits, serverEdges } from "../server/from-settings.ts";
import { WORKER_CONFIG_ENV, WORKER_EXIT, type ToMaster, type ToWorker, type WorkerConfig } from "./protocol.ts";

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
      process.exit(WORKER_EXIT.OK);
    });
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
    }
  });
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
  process.on("unhandledRejection", (reason) => log.error("an unhandled promise rejection (in the app?)", reason));

  // Before the app loads, so its `new Response(...)` makes the lighter kind (src/gateway/response.ts).
  installLiteResponse();
  let app: LoadedApp;
  try {
    process.chdir(config.cwd);
    app = await loadApp(config.app, config.cwd, {
      interface: settings.interface,
      address: appAddress(config.listeners.map((l) => l.url)),
      checkingIntervalMs: checkingInterval({ headerTimeoutMs: settings.headerTimeout, requestTimeoutMs: settings.requestTimeout }),
      listenTimeoutMs: settings.listenTimeout,
      log,
    });
  } catch (err) {
    if (err instanceof AppLoadError) {
      const stack = err.detail !== undefined ? `\n${describeError(err.detail)}` : "";
      process.stderr.write(`oryx: cannot load the app: ${err.message}${stack}\n`);
      process.exit(WORKER_EXIT.APP_LOAD);
    }
    throw err;
  }

  if (sockets.length < config.listeners.length) await new Promise<void>((resolve) => (socketWaiter = resolve));
  accessLog = settings.accessLog === "" ? null : openAccessLog(settings.accessLog, settings.accessLogFormat, (err) => log.error(`cannot write the access log ${settings.accessLog}`, err));
  const handler: RequestHandler = app.interface === "fetch" ? fetchGateway(app.fetch, log) : () => {};
  const connection = connectionOptions(settings, handler, log, accessLog);
  const handOff =
    app.interface === "node"
      ? adoptServer(app.server, nodeLimits(settings), log, !app.listening, accessLog === null ? null : accessLog.write)
      : undefined;
  let requests = 0;
  if (config.maxRequests > 0) {
    connection.onRequest = () => {
      if (++requests === config.maxRequests) {
        log.info(`worker ${process.pid} served ${requests} requests (--max-requests): retiring`);
        send({ t: "retire", requests });
      }
    };
  }
  server = new Server({
    binds: [],
    backlog: settings.backlog,
    connection,
    ...serverEdges(settings),
    maxConnections: settings.workerConnections,
    ...(handOff !== undefined ? { handOff } : {}),
    onAcceptPaused: (paused) => {
      if (paused) {
        log.debug(`worker ${process.pid} holds ${settings.workerConnections} connections (--worker-connections): not accepting`);
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
  send({ t: "ready", interface: app.interface });
  const beat = Math.min(1000, Math.max(100, Math.floor(settings.timeout / 4)));
  setInterval(() => send({ t: "heartbeat" }), beat).unref();
}
