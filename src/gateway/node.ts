import http from "node:http";
import net from "node:net";
import type { Logger } from "../log.ts";
import type { AccessRecord } from "./exchange.ts";
import { ConnectionInfo } from "./info.ts";
import { Screens, onRequestStart, screenOf, type ScreenOptions } from "./node-screen.ts";

/**
 * The Node gateway: apps written against Node's `(req, res)` interface (Express, Koa, Fastify, Connect, plain
 * listeners, an exported http.Server, or a module that calls `listen()` itself) get genuine
 * `IncomingMessage`/`ServerResponse` objects, `upgrade` events and all, because each socket oryx accepts is
 * handed to an `http.Server` that never listens itself. oryx still owns binding, workers and limits, and every
 * byte that server parses has passed oryx's own parser first (node-screen.ts).
 */

/** `connectionsCheckingInterval` is an http.Server option and property since Node 18.12 (untyped in @types/node 20). */
type TrackedServer = http.Server & { connectionsCheckingInterval: number };

export type NodeListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * oryx's limits and timeouts for a Node app: the same values, from the same settings, as a fetch app's
 * (src/server/from-settings.ts builds both). oryx's parser applies them in front of Node's (see node-screen.ts).
 */
export interface NodeLimits extends ScreenOptions {
  /** Idle time between requests: Node's keepAliveTimeout (it also says so in the Keep-Alive response header). */
  keepAliveTimeoutMs: number;
}

/**
 * Makes an http.Server for a plain listener. `watch` (a listener that is not a framework's: exported as a
 * function, or forced with --interface node) puts the safety net under the shape rules around it (see watched).
 */
export function serverForListener(listener: NodeListener, watch?: { log: Logger; guess?: GuessedListener }): http.Server {
  return http.createServer(watch === undefined ? listener : watched(listener, watch.log, watch.guess));
}

/** A function oryx took for a Node listener although its declared parameters did not say so, `(e, t)`. */
export interface GuessedListener {
  /** Why it was taken for a listener, for the error log. */
  why: string;
  log: Logger;
}

let warnedFetchShaped = false;

/**
 * The safety net under the shape rules, around the listener itself (so it holds whenever and however the app's
 * server calls it). A listener that returns a fetch Response (or a promise of one) is a fetch handler served as
 * a Node app: nothing would ever answer its request, so it gets a 500 at once and the error log says so, once
 * per process. A guessed listener (`guess`) that throws or rejects (a fetch handler's `new URL(request.url)`
 * throws on a Node request's bare path) answers 500 instead of taking the worker down or leaving the request
 * hanging, and the error log says what oryx assumed. Anything else it returns is passed on.
 */
function watched(listener: NodeListener, log: Logger, guess: GuessedListener | undefined): NodeListener {
  const fail = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown): undefined => {
    guess!.log.error(
      `the app threw while serving ${req.method} ${req.url}; oryx took it for a Node (req, res) listener (${guess!.why}): if it is a fetch handler (request, info), run it with --interface fetch`,
      err,
    );
    answer500(res);
    return undefined;
  };
  const call = listener as (this: unknown, ...args: unknown[]) => unknown;
  return function (this: unknown, req: http.IncomingMessage, res: http.ServerResponse): unknown {
    let returned: unknown;
    if (guess === undefined) returned = call.call(this, req, res);
    else {
      try {
        returned = call.call(this, req, res);
      } catch (err) {
        return fail(req, res, err);
      }
    }
    if (isResponseLike(returned)) {
      answerFetchShaped(res, log);
      return undefined;
    }
    if (!(returned instanceof Promise)) return returned;
    // Unguessed, no rejection handler: a rejection is reported as unhandled exactly as without this net.
    return returned.then(
      (v: unknown) => {
        if (isResponseLike(v)) answerFetchShaped(res, log);
        return v;
      },
      guess === undefined ? undefined : (err: unknown) => fail(req, res, err),
    );
  } as NodeListener;
}

/** A fetch Response, or anything shaped like one: a numeric status and a headers object. */
function isResponseLike(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  const r = v as { status?: unknown; headers?: unknown };
  return typeof r.status === "number" && r.headers !== null && typeof r.headers === "object";
}

function answerFetchShaped(res: http.ServerResponse, log: Logger): void {
  if (res.headersSent || res.writableEnded) return;
  if (!warnedFetchShaped) {
    warnedFetchShaped = true;
    log.error("the app returned a Response: it looks like a fetch handler (request, info); run it with --interface fetch");
  }
  answer500(res);
}

function answer500(res: http.ServerResponse): void {
  if (res.headersSent || res.writableEnded) return;
  const body = "Internal Server Error\n";
  res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Serves an http.Server (the app's own or one made for it) behind oryx's parser (node-screen.ts), and starts its
 * connection tracking (Node does that on 'listening', which an unlistened server never sees otherwise; for a
 * captured server this also runs the app's listen callback, as `listen()` would have). Returns the connection hook.
 */
export function adoptServer(
  server: http.Server,
  limits: NodeLimits,
  log: Logger,
  emitListening: boolean,
  onAccess: ((record: AccessRecord) => void) | null,
  /** Called once per request handed to the app (a worker counts them for --max-requests), as for fetch apps. */
  onRequest?: () => void,
): { take(socket: net.Socket): void; closeIdle(): void } {
  // Heads reach Node whole and checked, bodies screened with oryx's timeouts: Node's own head and request
  // timeouts have nothing left to time, and its size limits must never refuse what oryx accepted.
  server.headersTimeout = limits.headerTimeoutMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxHeadersCount = limits.limits.fields;
  (server as TrackedServer).connectionsCheckingInterval = checkingInterval(limits);
  const s = server as http.Server & { maxHeaderSize?: number; requireHostHeader?: boolean; insecureHTTPParser?: boolean };
  s.maxHeaderSize = nodeHeadRoom(limits);
  s.requireHostHeader = true;
  s.insecureHTTPParser = false;
  const stops = new GracefulStop();
  const screens = new Screens(server, limits, log);
  // Every request Node parses, whatever listeners the app has or adds later (Node's diagnostics channel).
  onRequestStart(server, ({ request, response, socket }) => {
    screenOf(socket)?.requestStarted(response);
    // A response not yet begun when the stop began says Connection: close (see GracefulStop.closeIdle).
    if (stops.stopping) response.shouldKeepAlive = false;
    if (onAccess !== null) logWhenDone(request, response, onAccess);
    onRequest?.();
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    const screen = screenOf(socket);
    if (screen !== undefined) {
      // Node's parser refused what oryx accepted, or the socket failed: the screen answers as oryx does.
      if (server.listenerCount("clientError") === 1 || screen.closing) screen.nodeError(err);
      return;
    }
    log.debug(`refused a request (Node parser): ${err.code ?? ""} ${err.message}`);
    socket.destroy();
  });
  server.once("close", () => screens.close());
  if (emitListening && !server.listening) server.emit("listening");
  return {
    take: (socket) => {
      stops.track(socket);
      screens.take(socket);
    },
    closeIdle: () => stops.closeIdle(),
  };
}

/**
 * The largest head Node's parser must take: every head oryx accepts (a request line and limits.fields lines at
 * their limits, CRLF line ends, leading empty lines), with room to spare. Node counts the head as one.
 */
function nodeHeadRoom(limits: NodeLimits): number {
  const l = limits.limits;
  return l.requestLine + 2 + l.fields * (l.fieldSize + 2) + 2 + 64;
}

/**
 * A stopping worker loses none of a Node app's requests, as none of a fetch app's (src/server/connection.ts):
 * every response not yet begun says `Connection: close` (Node then ends the connection after it), and a
 * connection idle between requests is closed only once it has been idle IDLE_GRACE_MS since the stop began or
 * since its last response, whichever is later: a client sending back to back has its next request on the way
 * when the stop comes, and it is served (with `Connection: close`). Node's own closeIdleConnections() would
 * destroy such a connection at once, with the request unread (a reset for the client). The close is a
 * half-close, never a destroy.
 */
class GracefulStop {
  private stoppedAt = 0;
  /**
   * Every handed-off socket (an upgraded one too). What each is doing is its screen's to say (a request in flight,
   * when its last response ended): kept there, with no closure or listener of its own per request.
   */
  private readonly sockets = new Set<net.Socket>();

  get stopping(): boolean {
    return this.stoppedAt !== 0;
  }

  track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }

  /** Called when the stop begins and then every 100 ms until every connection is gone. */
  closeIdle(): void {
    const now = Date.now();
    const first = this.stoppedAt === 0;
    if (first) this.stoppedAt = now;
    for (const socket of this.sockets) {
      const screen = screenOf(socket);
      const res = screen?.inFlight ?? null;
      if (res !== null) {
        if (first && !res.headersSent) res.shouldKeepAlive = false;
        continue;
      }
      if (socket.writableEnded) continue;
      if (now - Math.max(screen?.lastDone ?? 0, this.stoppedAt) < IDLE_GRACE_MS) continue;
      // A half-close: the client sees the end after everything it was sent, and Node closes the socket when the
      // client closes its side (or the graceful timeout ends it).
      socket.end();
    }
  }
}

/** How long a connection idle between requests is kept when a worker stops (as for fetch apps). */
const IDLE_GRACE_MS = 500;

/** An access-log record for a Node app's request, written once its response is done (or abandoned). */
function logWhenDone(req: http.IncomingMessage, res: http.ServerResponse, onAccess: (record: AccessRecord) => void): void {
  const startedAt = Date.now();
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push(raw[i]!.toLowerCase(), raw[i + 1]!);
    const socket = req.socket;
    onAccess({
      info: ConnectionInfo.ofSocket(socket),
      head: {
        method: req.method ?? "",
        target: req.url ?? "",
        versionMinor: req.httpVersionMinor === 0 ? 0 : 1,
        headers,
        host: req.headers.host ?? "",
        framing: "none",
        upgrade: false,
        contentLength: 0,
        keepAlive: !res.hasHeader("connection"),
        expectContinue: false,
      },
      status: res.headersSent ? res.statusCode : 0,
      bytes: Number(res.getHeader("content-length") ?? 0) || 0,
      startedAt,
      durationMs: Date.now() - startedAt,
    });
  };
  res.once("finish", finish);
  res.once("close", finish);
}

/** Node checks header and request timeouts only every connectionsCheckingInterval (30 s by default). */
export function checkingInterval(limits: Pick<NodeLimits, "headerTimeoutMs" | "bodyTimeoutMs">): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs) / 4)));
}

/** What the loader sees of `listen()` calls while it captures them (see `captureListen`). */
export interface ListenCapture {
  /** The first http.Server whose listen() was captured: the one oryx serves. */
  readonly server: http.Server | null;
  /** The captured server once there is one, or null if none comes within `ms`. `listen()` stays captured meanwhile. */
  waitForServer(ms: number): Promise<http.Server | null>;
  /** Puts `net.Server.prototype.listen` back (later calls bind for real). Idempotent. */
  release(): void;
}

/**
 * Captures `listen()` on http.Servers until released: the first server to listen is recorded, its listen
 * callback runs (asynchronously, as a real listen's would), `address()` reports oryx's first address and it is
 * never bound, so `app.listen(3000)` in a module starts its app without taking port 3000. Once the module has
 * loaded, the loader may keep capturing for a while (a NestJS `bootstrap()` listens after an `await`), and
 * releases the capture as soon as it has its server. A listen() on another server meanwhile (a metrics server on
 * its own port) binds as the app asked, and the log says so.
 */
export function captureListen(address: net.AddressInfo | string | null, checkingIntervalMs: number, log?: Logger): ListenCapture {
  const original = net.Server.prototype.listen;
  let served: http.Server | null = null;
  let released = false;
  let waiter: ((server: http.Server | null) => void) | null = null;
  const release = (): void => {
    if (released) return;
    released = true;
    if (net.Server.prototype.listen === patched) net.Server.prototype.listen = original;
  };
  const patched = function (this: net.Server, ...args: unknown[]): net.Server {
    if (!(this instanceof http.Server) || released) return original.apply(this, args as Parameters<typeof original>);
    if (served !== null && this !== served) {
      const asked = describeListen(args);
      this.once("listening", () => {
        const a = this.address();
        const where = a === null ? asked : typeof a === "string" ? a : `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
        log?.info(`the app started a second server (listen(${asked})): it listens on ${where} itself, as the app asked; oryx serves the first one`);
      });
      return original.apply(this, args as Parameters<typeof original>);
    }
    const first = served === null;
    served = this;
    const cb = args.find((a): a is () => void => typeof a === "function");
    if (cb !== undefined) this.once("listening", cb);
    const server = this as http.Server & { address: () => net.AddressInfo | string | null };
    server.address = () => address;
    Object.defineProperty(server, "listening", { configurable: true, get: () => true });
    // Read by Node when 'listening' starts its connection tracking: the timeouts must be checked often enough.
    (server as TrackedServer).connectionsCheckingInterval = checkingIntervalMs;
    setImmediate(() => this.emit("listening"));
    // Captured after the module loaded: the loader takes it and releases the capture.
    if (first && waiter !== null) waiter(this);
    return this;
  } as typeof original;
  net.Server.prototype.listen = patched;
  return {
    get server() {
      return served;
    },
    waitForServer(ms) {
      if (served !== null || released) return Promise.resolve(served);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiter = null;
          release();
          resolve(served);
        }, ms);
        waiter = (s) => {
          clearTimeout(timer);
          waiter = null;
          resolve(s);
        };
      });
    },
    release,
  };
}

/** A listen() call's arguments as the app wrote them, for the log: `3000`, `0, "127.0.0.1"`, `{ port: 9464 }`. */
function describeListen(args: unknown[]): string {
  const shown: string[] = [];
  for (const a of args) {
    if (typeof a === "function") break;
    if (typeof a === "number") shown.push(String(a));
    else if (typeof a === "string") shown.push(JSON.stringify(a));
    else if (a !== null && typeof a === "object") {
      const o = a as { port?: unknown; host?: unknown; path?: unknown };
      const parts = (["port", "host", "path"] as const).filter((k) => o[k] !== undefined).map((k) => `${k}: ${JSON.stringify(o[k])}`);
      shown.push(`{ ${parts.join(", ")} }`);
    }
  }
  return shown.join(", ");
}

/** An exported or captured server's Fastify, Koa … shapes are recognised by the loader; this one is plain. */
export function isHttpServer(v: unknown): v is http.Server {
  return v instanceof http.Server;
}
