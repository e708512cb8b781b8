import net from "node:net";
import { createRequire } from "node:module";
import type tls from "node:tls";
import { chmodSync } from "node:fs";
import type { Bind } from "../config/settings.ts";
import { bindText, ListenError } from "./errors.ts";
import { tlsUnderlyingSocket } from "../node-internals.ts";

export { bindText, ListenError };
import { ConnectionInfo } from "../gateway/info.ts";
import { Connection, EVICT_AFTER_MS, type ConnectionOptions, type Origin } from "./connection.ts";
import { PREAMBLE_REFUSAL, readPreamble } from "./preamble.ts";
import { peerIsTrusted, type TrustedPeers } from "./trust.ts";
import { clearStaleSocket } from "./unix.ts";
import type { ProxyHeader } from "../http/proxy-protocol.ts";

/** What a listening socket is, for the connections it accepts and for the log. */
export interface ListenerInfo {
  /** As configured: 127.0.0.1:8888, unix:/run/oryx.sock, fd://3. */
  name: string;
  /** Where it serves: http://127.0.0.1:8888 (https:// under TLS), unix:/run/oryx.sock. */
  url: string;
  transport: "tcp" | "unix";
}

/** PEM texts for HTTPS. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CAs whose client certificates are accepted; when set, clients must present one (mutual TLS). */
  ca?: string | Buffer;
}

export interface ServerOptions {
  /** Addresses to bind (single-process use); a worker gets bound handles from its master instead. */
  binds: Bind[];
  backlog: number;
  connection: ConnectionOptions;
  /** Serve HTTPS: every connection is a TLS connection. */
  tls?: TlsOptions;
  /** Peers trusted as proxies (X-Forwarded-*, Forwarded, PROXY headers); none when absent. */
  trustedPeers?: TrustedPeers;
  /** Read PROXY protocol headers from trusted peers (and refuse them from others). */
  proxyProtocol?: boolean;
  /** File mode of Unix sockets this server creates (single-process use). */
  unixSocketMode?: number;
  /**
   * Most connections held at once. A connection accepted over it makes room by closing the connection that has
   * waited longest for its request head (a slowloris), else the one idle longest between requests (each only after
   * a second of waiting: see Connection.victim). With neither, the listeners are closed (see `onAcceptPaused`).
   */
  maxConnections?: number;
  /** Called when the server stopped accepting at its limit, and again (with false) when it has room again. */
  onAcceptPaused?: (paused: boolean) => void;
  /**
   * For Node (req, res) apps: accepted sockets are handed to the app's http.Server instead of oryx's engine.
   * `closeIdle` closes its idle keep-alive connections (called repeatedly during a graceful stop).
   */
  handOff?: { take(socket: net.Socket): void; closeIdle(): void };
  /** Keep totals of the bytes read and written by closed connections (for --metrics-bind; off: nothing counted). */
  countBytes?: boolean;
}

/** A listening socket handed over by the master: the raw handle and what it is. */
export interface InheritedSocket {
  handle: object;
  listener: ListenerInfo;
}

/** What is known of a connection before its first request: where it came in, and what a PROXY header said. */
interface Arrival {
  listener: ListenerInfo;
  /** Known only when a PROXY header had to be judged; else found out later, if ever needed. */
  trusted: boolean | null;
  proxied: ProxyHeader | null;
}

/**
 * Listeners and the connections they accept. Knows nothing of apps: each connection hands its requests to the
 * handler in `connection.handler`.
 *
 * An accepted socket goes through up to two steps before it is a connection: a PROXY header is read
 * (`--proxy-protocol`), then TLS is set up (`--certfile`). Sockets in those steps are counted as open.
 */
export class Server {
  private readonly opts: ServerOptions;
  private readonly listeners: net.Server[] = [];
  readonly connections = new Set<Connection>();
  /**
   * Sockets accepted but not yet connections (reading a PROXY header, or in the TLS handshake), with when each was
   * accepted (Date.now()); in accept order.
   */
  private readonly arriving = new Map<net.Socket, number>();
  private readonly arrivals = new WeakMap<net.Socket, Arrival>();
  private readonly tlsServer: tls.Server | null;
  private closing = false;
  private onEmpty: (() => void) | null = null;

  /** How connections arrive, by transport: shared objects, not one per connection. */
  private readonly origins: Record<"tcp" | "unix", Origin>;

  constructor(opts: ServerOptions) {
    this.opts = opts;
    this.tlsServer = opts.tls === undefined ? null : this.createTlsServer(opts.tls);
    const secure = opts.tls !== undefined;
    const trustedPeers = opts.trustedPeers === undefined || opts.trustedPeers.none ? null : opts.trustedPeers;
    this.origins = { tcp: { secure, transport: "tcp", trustedPeers }, unix: { secure, transport: "unix", trustedPeers } };
  }

  /**
   * TLS through a tls.Server that never listens: accepted sockets are emitted to it as 'connection', and it
   * does the handshake (timeout, client-certificate checks) as it would for its own. Its secure sockets come
   * back here as connections.
   */
  private createTlsServer(t: TlsOptions): tls.Server {
    // Loaded here, not at import: a worker that serves plain HTTP never pays for node:tls (about 2.4 MiB).
    const { createServer } = createRequire(import.meta.url)("node:tls") as typeof tls;
    const server = createServer({
      cert: t.cert,
      key: t.key,
      ...(t.ca !== undefined ? { ca: t.ca, requestCert: true, rejectUnauthorized: true } : {}),
      ALPNProtocols: ["http/1.1"],
      handshakeTimeout: this.opts.connection.headerTimeoutMs,
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      // The TLS socket wraps the accepted one.
      const raw = tlsUnderlyingSocket(socket);
      const arrival = raw === undefined ? undefined : this.arrivals.get(raw);
      if (raw === undefined || arrival === undefined) {
        this.opts.connection.log.error("a TLS connection whose accepted socket is unknown (node:tls internals changed?)");
        socket.destroy();
        return;
      }
      this.arriving.delete(raw);
      socket.allowHalfOpen = true;
      this.start(socket, arrival);
    });
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      this.opts.connection.log.debug(`TLS handshake failed with ${socket.remoteAddress ?? "a client"}: ${err.message}`);
      socket.destroy();
    });
    return server;
  }

  /** Binds every address; returns each one's real URL (port 0 resolved). On a failure nothing stays bound. */
  async listen(): Promise<string[]> {
    const urls: string[] = [];
    try {
      for (const bind of this.opts.binds) {
        const name = bindText(bind);
        if (bind.kind === "unix") await clearStaleSocket(bind.path);
        const server = this.createListener();
        this.listeners.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(name, err)));
          const backlog = this.opts.backlog;
          if (bind.kind === "unix") server.listen({ path: bind.path, backlog }, resolve);
          else if (bind.kind === "fd") server.listen({ fd: bind.fd, backlog }, resolve);
          else server.listen({ host: bind.host, port: bind.port, backlog }, resolve);
        });
        if (bind.kind === "unix" && this.opts.unixSocketMode !== undefined) chmodSync(bind.path, this.opts.unixSocketMode);
        const listener = this.describe(server, bind);
        server.on("connection", (socket: net.Socket) => this.accept(socket, listener));
        server.on("error", (err) => this.opts.connection.log.error(`listener error on ${name}`, err));
        urls.push(listener.url);
      }
    } catch (err) {
      await this.closeListeners();
      throw err;
    }
    return urls;
  }

  private createListener(): net.Server {
    return net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
  }

  private describe(server: net.Server, bind: Bind): ListenerInfo {
    const name = bindText(bind);
    const a = server.address();
    if (a === null || typeof a === "string") return { name, url: bind.kind === "unix" ? `unix:${bind.path}` : name, transport: "unix" };
    const scheme = this.tlsServer === null ? "http" : "https";
    const url = a.family === "IPv6" ? `${scheme}://[${a.address}]:${a.port}` : `${scheme}://${a.address}:${a.port}`;
    return { name, url, transport: "tcp" };
  }

  /**
   * Serves on sockets bound (and shared) by the master. Each is a duplicate of the master's descriptor, so
   * closing it here (at the connection limit, or to stop) leaves the socket listening for the other workers.
   */
  async listenOn(sockets: InheritedSocket[]): Promise<void> {
    for (const { handle, listener } of sockets) {
      const server = this.createListener();
      server.on("connection", (socket: net.Socket) => this.accept(socket, listener));
      this.listeners.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(listener.name, err)));
        // listen(handle, backlog, cb): Node reads a handle's backlog only from this positional form.
        (server.listen as (handle: object, backlog: number, cb: () => void) => void)(handle, this.opts.backlog, resolve);
      });
      server.on("error", (err) => this.opts.connection.log.error(`listener error on ${listener.name}`, err));
    }
    this.acceptPaused = false;
  }

  private acceptPaused = false;

  /** Sockets handed to a Node app's http.Server (see ServerOptions.handOff). */
  private readonly handedOff = new Set<net.Socket>();

  /** Connections open now: arriving, on oryx's engine, or handed off. */
  get openConnections(): number {
    return this.arriving.size + this.connections.size + this.handedOff.size;
  }

  private accept(socket: net.Socket, listener: ListenerInfo): void {
    // A connection accepted while the server stops (libuv accepts a batch of them at once) is served one request,
    // with `Connection: close`, as a connection accepted before the stop: it was accepted to be served (see start).
    const arrival: Arrival = { listener, trusted: null, proxied: null };
    if (this.opts.proxyProtocol === true || this.tlsServer !== null) {
      this.arriving.set(socket, Date.now());
      socket.once("close", () => {
        if (this.arriving.delete(socket)) this.closedOne();
      });
      // Until a Connection owns the socket, its errors end it quietly ('close' follows).
      socket.on("error", () => {});
      if (this.opts.proxyProtocol === true) {
        // A PROXY header must be judged now: is this peer one that may send one?
        const peers = this.opts.trustedPeers;
        const trusted = peerIsTrusted(peers, socket, listener.transport);
        arrival.trusted = trusted;
        readPreamble(socket, trusted, this.opts.connection.headerTimeoutMs, (r) => {
          if (!r.ok) {
            this.opts.connection.log.debug(`refused a connection from ${socket.remoteAddress ?? "a Unix socket"}: ${r.reason}`);
            if (this.tlsServer === null && !socket.destroyed) socket.end(PREAMBLE_REFUSAL);
            else socket.destroy();
            return;
          }
          arrival.proxied = r.header;
          this.secure(socket, arrival);
        });
      } else {
        this.secure(socket, arrival);
      }
    } else {
      this.start(socket, arrival);
    }
    if (this.opts.maxConnections !== undefined && !this.closing) this.checkLimit(this.opts.maxConnections);
  }

  // ─── the connection limit ─────────────────────────────────────────────────────────────────────────────────

  /**
   * After an accept: over the limit, one in means one out (the longest waiting for its head, else the longest
   * idle, see Connection.victim), so connections that hold a place without using it never starve new clients. At
   * the limit with none to close (every connection busy, or none has waited long enough yet), accepting stops:
   * the kernel's backlog queues new connections, and accepting resumes when one closes or, checked every
   * EVICT_AFTER_MS, when one could be closed.
   */
  private checkLimit(limit: number): void {
    if (this.openConnections > limit) this.makeRoom();
    if (!this.acceptPaused && this.openConnections >= limit && this.victim() === null) {
      this.acceptPaused = true;
      void this.closeListeners();
      this.opts.onAcceptPaused?.(true);
      this.scheduleRoomCheck();
    }
  }

  /** What can be closed to make room: the oldest arriving socket or connection that waited for its head, else the longest idle. */
  private victim(): net.Socket | Connection | null {
    const now = Date.now();
    let arriving: net.Socket | null = null;
    for (const [socket, at] of this.arriving) {
      // The first is the oldest.
      if (now - at >= EVICT_AFTER_MS) arriving = socket;
      break;
    }
    if (arriving !== null) return arriving;
    return Connection.victim(this, this.opts.connection);
  }

  private makeRoom(): void {
    const v = this.victim();
    if (v === null) return;
    if (v instanceof Connection) v.evict();
    else v.destroy(); // still in its TLS handshake or PROXY header: nothing of a request was read
  }

  private roomCheck: NodeJS.Timeout | null = null;

  /** While paused at the limit: resume once a connection could be closed to make room (or one closed by itself). */
  private scheduleRoomCheck(): void {
    if (this.roomCheck !== null) return;
    this.roomCheck = setTimeout(() => {
      this.roomCheck = null;
      if (!this.acceptPaused || this.closing) return;
      if (this.victim() !== null || this.openConnections < (this.opts.maxConnections ?? Infinity)) this.opts.onAcceptPaused?.(false);
      else this.scheduleRoomCheck();
    }, EVICT_AFTER_MS);
    this.roomCheck.unref();
  }

  /** The TLS step, if this server speaks TLS; else straight on. */
  private secure(socket: net.Socket, arrival: Arrival): void {
    if (this.tlsServer === null) {
      this.arriving.delete(socket);
      this.start(socket, arrival);
      socket.resume();
      return;
    }
    this.arrivals.set(socket, arrival);
    // The TLS socket takes allowHalfOpen from this one. During the handshake a client's EOF must end it (with
    // half-open allowed, a client gone mid-handshake would hold the socket until the handshake timeout); once
    // secure, the connection allows half-open again, as on plain sockets (see 'secureConnection').
    socket.allowHalfOpen = false;
    this.tlsServer.emit("connection", socket);
  }

  /** The socket (plain, or TLS after its handshake) becomes a connection of oryx's engine or of a Node app. */
  private start(socket: net.Socket, arrival: Arrival): void {
    const source = arrival.proxied?.command === "proxy" ? arrival.proxied.source : null;
    const handOff = this.opts.handOff;
    if (handOff !== undefined) {
      if (source !== null) {
        // The app's http.Server reads the client's address from the socket: make it the one the proxy named.
        Object.defineProperty(socket, "remoteAddress", { value: source.address, configurable: true });
        Object.defineProperty(socket, "remotePort", { value: source.port, configurable: true });
        Object.defineProperty(socket, "remoteFamily", { value: source.address.includes(":") ? "IPv6" : "IPv4", configurable: true });
      }
      this.handedOff.add(socket);
      socket.once("close", () => {
        this.handedOff.delete(socket);
        if (this.opts.countBytes === true) this.countClosed(socket);
        this.closedOne();
      });
      handOff.take(socket);
      if (this.closing) handOff.closeIdle();
      return;
    }
    const origin = this.origins[arrival.listener.transport];
    const info = source !== null ? ConnectionInfo.ofProxied(source.address, source.port, socket) : arrival.listener.transport === "unix" ? ConnectionInfo.ofUnix(arrival.listener.name) : null;
    const conn = new Connection(socket, info, this.opts.connection, origin, arrival.trusted);
    this.connections.add(conn);
    conn.owner = this;
    // A connection that arrives while the server stops (its TLS handshake or PROXY header was under way) is
    // served one request, as any connection accepted before the stop.
    if (this.closing) conn.shutdown();
  }

  /** Called by each connection when it has closed (no closure per connection). */
  connectionClosed(conn: Connection): void {
    this.connections.delete(conn);
    if (this.opts.countBytes === true) this.countClosed(conn.socket);
    this.closedOne();
  }

  private closedBytesIn = 0;
  private closedBytesOut = 0;

  private countClosed(socket: net.Socket): void {
    this.closedBytesIn += socket.bytesRead;
    this.closedBytesOut += socket.bytesWritten;
  }

  /**
   * Bytes read and written over every connection so far (with `countBytes`): closed ones' totals, plus what each
   * open one has done. Node counts each socket's bytes anyway; this only adds them up, once per connection.
   */
  byteTotals(): { bytesIn: number; bytesOut: number } {
    let bytesIn = this.closedBytesIn;
    let bytesOut = this.closedBytesOut;
    for (const conn of this.connections) {
      bytesIn += conn.socket.bytesRead;
      bytesOut += conn.socket.bytesWritten;
    }
    for (const socket of this.handedOff) {
      bytesIn += socket.bytesRead;
      bytesOut += socket.bytesWritten;
    }
    return { bytesIn, bytesOut };
  }

  private closedOne(): void {
    if (this.openConnections === 0) this.onEmpty?.();
    if (this.acceptPaused && !this.closing && this.openConnections < (this.opts.maxConnections ?? Infinity)) {
      this.opts.onAcceptPaused?.(false);
    }
  }

  private closeListeners(): Promise<void> {
    const all = this.listeners.splice(0).map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())));
    return Promise.all(all).then(() => undefined);
  }

  /**
   * Graceful stop: stop accepting, close idle connections, let requests in flight finish (their responses
   * carry `Connection: close`), and after `gracefulMs` close whatever is left.
   */
  async close(gracefulMs: number): Promise<void> {
    this.closing = true;
    if (this.roomCheck !== null) clearTimeout(this.roomCheck);
    this.roomCheck = null;
    const listenersClosed = this.closeListeners();
    for (const conn of this.connections) conn.shutdown();
    const handOff = this.opts.handOff;
    // Node's server closes idle connections only when asked: ask until every handed-off socket is gone.
    const idleCloser = handOff === undefined ? null : setInterval(() => handOff.closeIdle(), 100);
    handOff?.closeIdle();
    if (this.openConnections > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.destroyAll(), gracefulMs);
        this.onEmpty = () => {
          clearTimeout(timer);
          this.onEmpty = null;
          resolve();
        };
      });
    }
    if (idleCloser !== null) clearInterval(idleCloser);
    await listenersClosed;
  }

  /**
   * The requests being served now, as `METHOD /path` (no query: it may hold secrets), at most `max` of them: for a
   * crash's log line. A Node app's requests are not seen here; they count as connections handed off.
   */
  inFlight(max = 10): { requests: string[]; more: number; handedOff: number } {
    const requests: string[] = [];
    let more = 0;
    for (const conn of this.connections) {
      const ex = conn.ex;
      if (ex === null || ex.finished) continue;
      if (requests.length === max) {
        more++;
        continue;
      }
      const t = ex.head.target;
      const q = t.indexOf("?");
      requests.push(`${ex.head.method} ${q === -1 ? t : t.slice(0, q)}`);
    }
    return { requests, more, handedOff: this.handedOff.size };
  }

  /** Closes every connection now. */
  destroyAll(): void {
    for (const socket of this.arriving.keys()) socket.destroy();
    // An upgraded connection's WebSocket gets its Close frame (1001) and closes within its closing wait.
    for (const conn of this.connections) conn.destroy();
    for (const socket of this.handedOff) socket.destroy();
  }
}
