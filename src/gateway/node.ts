import http from "node:http";
import net from "node:net";
import type { Logger } from "../log.ts";
import type { AccessRecord } from "./exchange.ts";
import { socketInfo } from "./info.ts";

/**
 * The Node gateway: apps written against Node's `(req, res)` interface (Express, Koa, Fastify, Connect, plain
 * listeners, an exported http.Server, or a module that calls `listen()` itself) get genuine
 * `IncomingMessage`/`ServerResponse` objects, `upgrade` events and all, because each socket oryx accepts is
 * handed to an `http.Server` that never listens itself. oryx still owns binding, workers and limits: its
 * settings are applied to that server (timeouts, header size and count, max body, Host required).
 */

/** `connectionsCheckingInterval` is an http.Server option and property since Node 18.12 (untyped in @types/node 20). */
type TrackedServer = http.Server & { connectionsCheckingInterval: number };

export type NodeListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface NodeLimits {
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Bytes of the whole head (request line and fields): Node counts them together. */
  maxHeaderSize: number;
  maxHeadersCount: number;
  maxBodyBytes: number;
}

/** Makes an http.Server for a plain listener, with oryx's limits. */
export function serverForListener(listener: NodeListener): http.Server {
  return http.createServer(listener);
}

/**
 * Applies oryx's limits to an http.Server (the app's own or one made for it) and starts its connection
 * tracking (Node does that on 'listening', which an unlistened server never sees otherwise; for a captured
 * server this also runs the app's listen callback, as `listen()` would have). Returns the connection hook.
 */
export function adoptServer(
  server: http.Server,
  limits: NodeLimits,
  log: Logger,
  emitListening: boolean,
  onAccess: ((record: AccessRecord) => void) | null,
): { take(socket: net.Socket): void; closeIdle(): void } {
  server.headersTimeout = limits.headerTimeoutMs;
  // Node's requestTimeout bounds the whole request (head and body); oryx's --request-timeout bounds a stall.
  // The closest faithful mapping is to give the whole request the stall bound plus the head's.
  server.requestTimeout = limits.requestTimeoutMs + limits.headerTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // One more than the limit, so the guard can tell "too many" (431) from "exactly the limit".
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  (server as TrackedServer).connectionsCheckingInterval = checkingInterval(limits);
  const s = server as http.Server & { maxHeaderSize?: number; requireHostHeader?: boolean; insecureHTTPParser?: boolean };
  s.maxHeaderSize = limits.maxHeaderSize;
  s.requireHostHeader = true;
  s.insecureHTTPParser = false;
  // The app's 'request' (and 'checkContinue') listeners run behind a guard that enforces oryx's rules first;
  // a refused request never reaches the app. (Listeners the app adds later are not guarded.)
  for (const event of ["request", "checkContinue"] as const) {
    const appListeners = server.listeners(event) as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
    if (appListeners.length === 0) continue;
    server.removeAllListeners(event);
    server.on(event, (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (onAccess !== null) logWhenDone(req, res, onAccess);
      if (req.rawHeaders.length / 2 > limits.maxHeadersCount) {
        refuse(req, res, 431);
        return;
      }
      if (!guardBody(req, res, limits.maxBodyBytes)) return;
      for (const listener of appListeners) listener.call(server, req, res);
    });
  }
  server.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    log.debug(`refused a request (Node parser): ${err.code ?? ""} ${err.message}`);
    // Node's default answers 400/431 and closes; keep that, but only when nobody else handles clientError.
    if (server.listenerCount("clientError") === 1 && socket.writable && !socket.destroyed) {
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      const reason = http.STATUS_CODES[status]!;
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: ${reason.length + 1}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${reason}\n`);
    }
    socket.destroy();
  });
  if (emitListening && !server.listening) server.emit("listening");
  return {
    take: (socket) => server.emit("connection", socket),
    closeIdle: () => server.closeIdleConnections(),
  };
}

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
    const remoteAddress = socket.remoteAddress ?? "";
    onAccess({
      info: socketInfo(socket),
      head: {
        method: req.method ?? "",
        target: req.url ?? "",
        versionMinor: req.httpVersionMinor === 0 ? 0 : 1,
        headers,
        host: req.headers.host ?? "",
        framing: "none",
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

/**
 * oryx's body rules for Node apps; false when the request was refused (and answered). A declared length over
 * --limit-request-body gets 413; a transfer coding other than chunked gets 501 (llhttp would hand the app a
 * body still gzip-coded); a chunked body that grows past the limit is cut, with 413 if the app has not answered.
 */
function guardBody(req: http.IncomingMessage, res: http.ServerResponse, max: number): boolean {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) {
    refuse(req, res, 413);
    return false;
  }
  const te = req.headers["transfer-encoding"];
  if (te === undefined) return true;
  if (!/^[ \t]*chunked[ \t]*$/i.test(te)) {
    refuse(req, res, 501);
    return false;
  }
  let seen = 0;
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) {
      seen += (chunk as { length: number }).length;
      if (seen > max) {
        refuse(req, res, 413);
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  };
  return true;
}

function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number): void {
  if (!res.headersSent) {
    const reason = http.STATUS_CODES[status] ?? "Error";
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
    res.end(`${reason}\n`);
  }
  res.shouldKeepAlive = false;
  // The app's own listener still runs after this one; a destroyed request and an ended response leave it
  // nothing to read and nothing to write.
  silence(res);
  req.destroy();
}

/**
 * After oryx has answered for the app, the app may still answer itself: a refusal can come while it runs (a
 * chunked body cut at the limit while Express's final handler waits for the request to end). Node throws on a
 * header change once headers are sent (ERR_HTTP_HEADERS_SENT, often from a callback, where it would take the
 * worker down) and emits 'error' for a write after the end; the app's late answer goes nowhere instead.
 */
function silence(res: http.ServerResponse): void {
  const ignore = function (this: http.ServerResponse): http.ServerResponse {
    return this;
  };
  res.setHeader = ignore;
  res.appendHeader = ignore;
  res.removeHeader = ignore;
  res.writeHead = ignore as unknown as typeof res.writeHead;
  res.on("error", () => {});
}

/** Node checks header and request timeouts only every connectionsCheckingInterval (30 s by default). */
export function checkingInterval(limits: Pick<NodeLimits, "headerTimeoutMs" | "requestTimeoutMs">): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(limits.headerTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/**
 * Runs `load` while `listen()` on any http.Server is captured instead of binding: the server is recorded,
 * its listen callback runs (asynchronously, as a real listen's would), and `address()` reports oryx's first
 * address. So `app.listen(3000)` in a module starts its app without taking port 3000.
 */
export async function captureListen<T>(
  load: () => Promise<T>,
  address: net.AddressInfo | string | null,
  checkingIntervalMs: number,
): Promise<{ value: T; servers: http.Server[] }> {
  const servers: http.Server[] = [];
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
    if (!(this instanceof http.Server)) return original.apply(this, args as Parameters<typeof original>);
    servers.push(this);
    const cb = args.find((a): a is () => void => typeof a === "function");
    if (cb !== undefined) this.once("listening", cb);
    const server = this as http.Server & { address: () => net.AddressInfo | string | null };
    server.address = () => address;
    Object.defineProperty(server, "listening", { configurable: true, get: () => true });
    // Read by Node when 'listening' starts its connection tracking: the timeouts must be checked often enough.
    (server as TrackedServer).connectionsCheckingInterval = checkingIntervalMs;
    setImmediate(() => this.emit("listening"));
    return this;
  } as typeof original;
  try {
    const value = await load();
    return { value, servers };
  } finally {
    net.Server.prototype.listen = original;
  }
}

/** An exported or captured server's Fastify, Koa … shapes are recognised by the loader; this one is plain. */
export function isHttpServer(v: unknown): v is http.Server {
  return v instanceof http.Server;
}
