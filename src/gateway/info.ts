import type net from "node:net";
import { inspect } from "node:util";
import { bunUpgrade, publish, subscriberCount, type UpgradeOptions } from "../ws/upgrade.ts";
import type { WsMessage } from "../ws/server-websocket.ts";

/** Where a connection's peer is, as Bun's `server.requestIP(request)` answers it. */
export interface SocketAddress {
  readonly address: string;
  readonly family: "IPv4" | "IPv6";
  readonly port: number;
}

/** The connection's facts as plain data: what `JSON.stringify(info)` and `console.log(info)` show. */
export interface ConnectionFacts {
  remoteAddress: string;
  remotePort: number;
  remoteFamily: "IPv4" | "IPv6" | "";
  localAddress: string;
  localPort: number;
  remoteAddr: { transport: "tcp" | "unix"; hostname: string; port: number };
}

/**
 * The facts of the connection a request arrived on: the fetch handler's second argument. One object answers
 * every way the fetch ecosystem reads it, so an app's helper works unchanged:
 * - oryx's own fields and Deno's `info.remoteAddr` (`Deno.serve`'s handler info);
 * - Bun's `server.requestIP(request)` (Hono's `hono/bun` getConnInfo calls it on the second argument);
 * - @hono/node-server's `env.incoming.socket` (its getConnInfo reads the peer from there).
 *
 * The addresses are read from the socket only when first asked (Node keeps what the kernel answered): most apps
 * never ask, and an idle keep-alive connection then holds no addresses (measured: reading them for every
 * connection cost about 0.3 KiB per idle connection). So the fields are getters; `toJSON()` and the inspector
 * show them as plain data, and `toJSON()` is the way to a plain copy (`{ ...info }` copies no getters).
 */
export class ConnectionInfo {
  readonly #transport: "tcp" | "unix";
  readonly #socket: net.Socket | null;
  /** The client when another than the peer names it (a PROXY header, a trusted proxy); else null. */
  readonly #client: { readonly address: string; readonly port: number } | null;
  /** A Unix socket's path (its local address). */
  readonly #path: string;

  private constructor(transport: "tcp" | "unix", socket: net.Socket | null, client: { address: string; port: number } | null, path: string) {
    this.#transport = transport;
    this.#socket = socket;
    this.#client = client;
    this.#path = path;
  }

  /** A TCP connection's facts, read from its socket when asked. */
  static ofSocket(socket: net.Socket): ConnectionInfo {
    return new ConnectionInfo("tcp", socket, null, "");
  }

  /** A TCP connection whose client is another than its peer (its PROXY header named it). */
  static ofProxied(address: string, port: number, socket: net.Socket): ConnectionInfo {
    return new ConnectionInfo("tcp", socket, { address, port }, "");
  }

  /** The facts of `conn` for one request whose client a trusted proxy names: the client's, the local side's. */
  static ofForwarded(address: string, port: number, conn: ConnectionInfo): ConnectionInfo {
    return new ConnectionInfo("tcp", conn.#socket, { address, port }, conn.#path);
  }

  /** A Unix-socket connection: its peer has no address; the local address is the socket's path. */
  static ofUnix(path: string): ConnectionInfo {
    // The path is never "" (a Unix listener has one), which is how the getters tell it is one.
    return new ConnectionInfo("unix", null, null, path);
  }

  /** Facts given as they are (tests, tools). */
  static of(remoteAddress: string, remotePort: number, localAddress: string, localPort: number): ConnectionInfo {
    const fixed = { localAddress, localPort } as net.Socket;
    return new ConnectionInfo("tcp", fixed, { address: remoteAddress, port: remotePort }, "");
  }

  get remoteAddress(): string {
    if (this.#client !== null) return this.#client.address;
    return this.#transport === "unix" ? "" : (this.#socket?.remoteAddress ?? "");
  }

  get remotePort(): number {
    if (this.#client !== null) return this.#client.port;
    return this.#transport === "unix" ? 0 : (this.#socket?.remotePort ?? 0);
  }

  /** "IPv4" or "IPv6"; "" on a Unix socket. */
  get remoteFamily(): "IPv4" | "IPv6" | "" {
    const address = this.remoteAddress;
    return this.#transport === "unix" || address === "" ? "" : address.includes(":") ? "IPv6" : "IPv4";
  }

  get localAddress(): string {
    return this.#path !== "" ? this.#path : (this.#socket?.localAddress ?? "");
  }

  get localPort(): number {
    return this.#path !== "" ? 0 : (this.#socket?.localPort ?? 0);
  }

  /** Deno's shape of the peer's address. */
  get remoteAddr(): ConnectionFacts["remoteAddr"] {
    return { transport: this.#transport, hostname: this.remoteAddress, port: this.remotePort };
  }

  /** Bun's `server.requestIP(request)`: the peer of the connection, or null on a Unix socket. */
  requestIP(_request?: Request): SocketAddress | null {
    const family = this.remoteFamily;
    if (family === "") return null;
    return { address: this.remoteAddress, family, port: this.remotePort };
  }

  /**
   * Bun's `server.upgrade(request, { data, headers })`: switches the request's connection to WebSocket (the app
   * exports `websocket` handlers beside `fetch`). True when it did; the fetch handler's answer is then ignored.
   */
  upgrade<T = undefined>(request: Request, options?: UpgradeOptions<T>): boolean {
    return bunUpgrade(request, options);
  }

  /** Bun's `server.publish(topic, data)`: to every WebSocket subscribed to `topic` in this worker. */
  publish(topic: string, data: WsMessage, compress?: boolean): number {
    return publish(topic, data, compress);
  }

  /** Bun's `server.subscriberCount(topic)`, in this worker. */
  subscriberCount(topic: string): number {
    return subscriberCount(topic);
  }

  /** @hono/node-server's `env.incoming`, as far as reading the peer goes (`incoming.socket.remoteAddress`). */
  get incoming(): { socket: { remoteAddress: string; remotePort: number; remoteFamily: string } } {
    return { socket: { remoteAddress: this.remoteAddress, remotePort: this.remotePort, remoteFamily: this.remoteFamily } };
  }

  toJSON(): ConnectionFacts {
    return {
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      remoteFamily: this.remoteFamily,
      localAddress: this.localAddress,
      localPort: this.localPort,
      remoteAddr: this.remoteAddr,
    };
  }

  [inspect.custom](_depth: number, options: object): string {
    return `ConnectionInfo ${inspect(this.toJSON(), options)}`;
  }
}
