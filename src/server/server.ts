import net from "node:net";
import type { Bind } from "../config/settings.ts";
import type { ConnectionInfo } from "../gateway/exchange.ts";
import { Connection, type ConnectionOptions } from "./connection.ts";

/** A listen failure, with the address and a human reason ("address already in use"). */
export class ListenError extends Error {
  readonly code: string | undefined;
  constructor(address: string, err: NodeJS.ErrnoException) {
    super(`cannot listen on ${address}: ${describeListenError(err)}`);
    this.name = "ListenError";
    this.code = err.code;
  }
}

function describeListenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE": return "address already in use";
    case "EACCES": return "permission denied";
    case "EADDRNOTAVAIL": return "address not available on this machine";
    case "ENOTFOUND": case "EAI_AGAIN": return "host name not found";
    default: return err.message;
  }
}

export function bindText(b: Bind): string {
  if (b.kind === "unix") return `unix:${b.path}`;
  return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

export interface ServerOptions {
  /** Addresses to bind (single-process use); a worker gets bound handles from its master instead. */
  binds: Bind[];
  backlog: number;
  connection: ConnectionOptions;
  /** Most connections held at once; at the limit the listeners are closed (see `onAcceptPaused`). */
  maxConnections?: number;
  /** Called when the server stopped accepting at its limit, and again (with false) when it has room again. */
  onAcceptPaused?: (paused: boolean) => void;
  /**
   * For Node (req, res) apps: accepted sockets are handed to the app's http.Server instead of oryx's engine.
   * `closeIdle` closes its idle keep-alive connections (called repeatedly during a graceful stop).
   */
  handOff?: { take(socket: net.Socket): void; closeIdle(): void };
}

/** A listening socket handed over by the master: the raw handle and what it is bound to. */
export interface InheritedSocket {
  handle: object;
  bind: Bind;
}

/**
 * Listeners and the connections they accept. Knows nothing of apps: each connection hands its requests to the
 * handler in `connection.handler`.
 */
export class Server {
  private readonly opts: ServerOptions;
  private readonly listeners: net.Server[] = [];
  readonly connections = new Set<Connection>();
  private closing = false;
  private onEmpty: (() => void) | null = null;

  constructor(opts: ServerOptions) {
    this.opts = opts;
  }

  /** Binds every address; returns each one's real URL (port 0 resolved). On a failure nothing stays bound. */
  async listen(): Promise<string[]> {
    const urls: string[] = [];
    try {
      for (const bind of this.opts.binds) {
        const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket, bind));
        this.listeners.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(bindText(bind), err)));
          if (bind.kind === "unix") server.listen({ path: bind.path, backlog: this.opts.backlog }, resolve);
          else server.listen({ host: bind.host, port: bind.port, backlog: this.opts.backlog }, resolve);
        });
        server.on("error", (err) => this.opts.connection.log.error(`listener error on ${bindText(bind)}`, err));
        urls.push(addressUrl(server, bind));
      }
    } catch (err) {
      await this.closeListeners();
      throw err;
    }
    return urls;
  }

  /**
   * Serves on sockets bound (and shared) by the master. Each is a duplicate of the master's descriptor, so
   * closing it here (at the connection limit, or to stop) leaves the socket listening for the other workers.
   */
  async listenOn(sockets: InheritedSocket[]): Promise<void> {
    for (const { handle, bind } of sockets) {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket, bind));
      this.listeners.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(bindText(bind), err)));
        // listen(handle, backlog, cb): Node reads a handle's backlog only from this positional form.
        (server.listen as (handle: object, backlog: number, cb: () => void) => void)(handle, this.opts.backlog, resolve);
      });
      server.on("error", (err) => this.opts.connection.log.error(`listener error on ${bindText(bind)}`, err));
    }
    this.acceptPaused = false;
  }

  private acceptPaused = false;

  /** Sockets handed to a Node app's http.Server (see ServerOptions.handOff). */
  private readonly handedOff = new Set<net.Socket>();

  /** Connections open now, on oryx's engine or handed off. */
  get openConnections(): number {
    return this.connections.size + this.handedOff.size;
  }

  private accept(socket: net.Socket, bind: Bind): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const onClosed = (): void => {
      if (this.openConnections === 0) this.onEmpty?.();
      if (this.acceptPaused && !this.closing && this.openConnections < (this.opts.maxConnections ?? Infinity)) {
        this.opts.onAcceptPaused?.(false);
      }
    };
    const handOff = this.opts.handOff;
    if (handOff !== undefined) {
      this.handedOff.add(socket);
      socket.once("close", () => {
        this.handedOff.delete(socket);
        onClosed();
      });
      handOff.take(socket);
    } else {
      const conn = new Connection(socket, connectionInfo(socket, bind), this.opts.connection);
      this.connections.add(conn);
      conn.onClosed = () => {
        this.connections.delete(conn);
        onClosed();
      };
    }
    if (!this.acceptPaused && this.openConnections >= (this.opts.maxConnections ?? Infinity)) {
      // At the limit: stop accepting. The kernel's backlog queues new connections meanwhile.
      this.acceptPaused = true;
      void this.closeListeners();
      this.opts.onAcceptPaused?.(true);
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

  /** Closes every connection now. */
  destroyAll(): void {
    for (const conn of this.connections) conn.socket.destroy();
    for (const socket of this.handedOff) socket.destroy();
  }
}

function connectionInfo(socket: net.Socket, bind: Bind): ConnectionInfo {
  if (bind.kind === "unix") {
    return { remoteAddress: "", remotePort: 0, localAddress: bind.path, localPort: 0, remoteAddr: { transport: "unix", hostname: "", port: 0 } };
  }
  const remoteAddress = socket.remoteAddress ?? "";
  const remotePort = socket.remotePort ?? 0;
  return {
    remoteAddress,
    remotePort,
    localAddress: socket.localAddress ?? "",
    localPort: socket.localPort ?? 0,
    remoteAddr: { transport: "tcp", hostname: remoteAddress, port: remotePort },
  };
}

function addressUrl(server: net.Server, bind: Bind): string {
  if (bind.kind === "unix") return `unix:${bind.path}`;
  const a = server.address() as net.AddressInfo;
  return a.family === "IPv6" ? `http://[${a.address}]:${a.port}` : `http://${a.address}:${a.port}`;
}
