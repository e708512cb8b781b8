import http from "node:http";
import net from "node:net";
import type { Logger } from "../log.ts";
import type { AccessRecord } from "./exchange.ts";
import { ConnectionInfo } from "./info.ts";

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
export function serverForListener(listener: NodeListener, guess?: GuessedListener): http.Server {
  return http.createServer(guess === undefined ? listener : guarded(listener, guess));
}

/** A function oryx took for a Node listener although its declared parameters did not say so, `(e, t)`. */
export interface GuessedListener {
  /** Why it was taken for a listener, for the error log. */
  why: string;
  log: Logger;
}

/**
 * A guessed listener that throws or rejects (a fetch handler's `new URL(request.url)` throws on a Node
 * request's bare path) answers 500 instead of taking the worker down or leaving the request hanging, and the
 * error log says what oryx assumed. A value it resolves to is passed on (a Response is the gateway's business).
 */
function guarded(listener: NodeListener, guess: GuessedListener): NodeListener {
  const fail = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void => {
    guess.log.error(
      `the app threw while serving ${req.method} ${req.url}; oryx took it for a Node (req, res) listener (${guess.why}): if it is a fetch handler (request, info), run it with --interface fetch`,
      err,
    );
    answer500(res);
  };
  return function (this: unknown, req: http.IncomingMessage, res: http.ServerResponse): unknown {
    let returned: unknown;
    try {
      returned = (listener as (this: unknown, ...args: unknown[]) => unknown).call(this, req, res);
    } catch (err) {
      fail(req, res, err);
      return undefined;
    }
    if (returned instanceof Promise) {
      return returned.then(
        (v: unknown) => v,
        (err: unknown) => {
          fail(req, res, err);
          return undefined;
        },
      );
    }
    return returned;
  } as NodeListener;
}

let warnedFetchShaped = false;

/**
 * The safety net under the shape rules: a listener served as a Node app that returns a fetch Response (or a
 * promise of one) is a fetch handler oryx took for a listener. Nothing would ever answer its request: it gets a
 * 500 at once, and the error log says so, once per process.
 */
function checkReturned(returned: unknown, res: http.ServerResponse, log: Logger): void {
  if (isResponseLike(returned)) {
    answerFetchShaped(res, log);
  } else if (returned instanceof Promise) {
    // No rejection handler: a rejection is reported as unhandled exactly as it was without this check.
    void returned.then((v: unknown) => {
      if (isResponseLike(v)) answerFetchShaped(res, log);
    });
  }
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
  const stops = new GracefulStop();
  // The app's 'request' (and 'checkContinue') listeners run behind a guard that enforces oryx's rules first;
  // a refused request never reaches the app. (Listeners the app adds later are not guarded.)
  for (const event of ["request", "checkContinue"] as const) {
    const appListeners = server.listeners(event) as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
    if (appListeners.length === 0) continue;
    server.removeAllListeners(event);
    server.on(event, (req: http.IncomingMessage, res: http.ServerResponse) => {
      stops.begin(req, res);
      if (onAccess !== null) logWhenDone(req, res, onAccess);
      if (req.rawHeaders.length / 2 > limits.maxHeadersCount) {
        refuse(req, res, 431);
        return;
      }
      if (!guardBody(req, res, limits.maxBodyBytes)) return;
      for (const listener of appListeners) {
        const returned: unknown = listener.call(server, req, res);
        if (returned !== undefined) checkReturned(returned, res, log);
      }
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
    take: (socket) => {
      stops.track(socket);
      server.emit("connection", socket);
    },
    closeIdle: () => stops.closeIdle(),
  };
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
  /** Every handed-off socket, with when its last response ended (0: never) or -1 while a request is in flight. */
  private readonly sockets = new Map<net.Socket, number>();
  private readonly open = new Set<http.ServerResponse>();

  track(socket: net.Socket): void {
    this.sockets.set(socket, 0);
    socket.once("close", () => this.sockets.delete(socket));
  }

  begin(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    if (this.sockets.has(socket)) this.sockets.set(socket, -1);
    if (this.stoppedAt !== 0) res.shouldKeepAlive = false;
    else this.open.add(res);
    const done = (): void => {
      this.open.delete(res);
      if (this.sockets.get(socket) === -1) this.sockets.set(socket, Date.now());
    };
    // A response's 'close' comes once it is complete (after 'finish') or its connection went away.
    res.once("close", done);
  }

  /** Called when the stop begins and then every 100 ms until every connection is gone. */
  closeIdle(): void {
    const now = Date.now();
    if (this.stoppedAt === 0) {
      this.stoppedAt = now;
      for (const res of this.open) if (!res.headersSent) res.shouldKeepAlive = false;
      this.open.clear();
    }
    for (const [socket, lastDone] of this.sockets) {
      if (lastDone === -1 || socket.writableEnded) continue;
      if (now - Math.max(lastDone, this.stoppedAt) < IDLE_GRACE_MS) continue;
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
  const gather = new ChunkGatherer(req, push);
  req.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null || chunk === undefined) return gather.end(chunk, encoding);
    seen += (chunk as { length: number }).length;
    if (seen > max) {
      refuse(req, res, 413);
      return false;
    }
    return gather.push(chunk, encoding);
  };
  return true;
}

// Chunks of a chunked body shorter than this are gathered (see ChunkGatherer); longer ones are pushed as they come.
const GATHER_BELOW = 4096;
const GATHER_SIZE = 16 * 1024;

/**
 * Node's parser pushes every chunk of a chunked body as a Buffer of its own: a body sent in 1-byte chunks cost
 * an app gathering it (express.raw(), a req.on("data") collecting chunks) over 300 bytes of memory per body byte
 * (issue 18: 3 × 8 MiB → 7.7 GiB of RSS). Short chunks are copied into a buffer instead, pushed as one when it is
 * full, before a longer chunk, at the body's end, and otherwise once this turn of the event loop has parsed what
 * the socket had (setImmediate: Node runs process.nextTick callbacks after every chunk's push).
 */
class ChunkGatherer {
  private readonly req: http.IncomingMessage;
  private readonly nodePush: (chunk: unknown, encoding?: BufferEncoding) => boolean;
  private buf: Buffer | null = null;
  private len = 0;
  private scheduled = false;

  constructor(req: http.IncomingMessage, push: (chunk: unknown, encoding?: BufferEncoding) => boolean) {
    this.req = req;
    this.nodePush = push;
  }

  /** A chunk from Node's parser; returns what Node's own push would tell the parser (false: stop reading). */
  push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (!Buffer.isBuffer(chunk) || chunk.length >= GATHER_BELOW) {
      if (this.len !== 0) this.flush();
      return this.nodePush.call(this.req, chunk, encoding);
    }
    let ok = true;
    if (this.len + chunk.length > GATHER_SIZE) ok = this.flush();
    chunk.copy((this.buf ??= Buffer.allocUnsafe(GATHER_SIZE)), this.len);
    this.len += chunk.length;
    if (this.len === GATHER_SIZE) return this.flush() && ok;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.later);
    }
    return ok;
  }

  /** The body's end (null): what is gathered goes first. */
  end(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (this.len !== 0) this.flush();
    this.buf = null;
    return this.nodePush.call(this.req, chunk, encoding);
  }

  private readonly later = (): void => {
    this.scheduled = false;
    if (this.len === 0) return;
    if (this.req.destroyed) {
      this.len = 0;
      return;
    }
    // Outside the parser's callback, so Node does not stop the socket on a full stream: do as it would.
    if (!this.flush()) this.req.socket?.pause();
  };

  /** Pushes what is gathered: a full buffer as it is (a new one is made next), a partial one as a copy. */
  private flush(): boolean {
    const n = this.len;
    this.len = 0;
    if (this.req.destroyed) return false;
    let out: Buffer;
    if (n === GATHER_SIZE) {
      out = this.buf!;
      this.buf = null;
    } else {
      out = Buffer.allocUnsafe(n);
      this.buf!.copy(out, 0, 0, n);
    }
    return this.nodePush.call(this.req, out);
  }
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
