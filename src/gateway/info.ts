import type net from "node:net";

/** Where a connection's peer is, as Bun's `server.requestIP(request)` answers it. */
export interface SocketAddress {
  readonly address: string;
  readonly family: "IPv4" | "IPv6";
  readonly port: number;
}

/**
 * The facts of the connection a request arrived on: the fetch handler's second argument. One object answers
 * every way the fetch ecosystem reads it, so an app's helper works unchanged:
 * - oryx's own fields and Deno's `info.remoteAddr` (`Deno.serve`'s handler info);
 * - Bun's `server.requestIP(request)` (Hono's `hono/bun` getConnInfo calls it on the second argument);
 * - @hono/node-server's `env.incoming.socket` (its getConnInfo reads the peer from there).
 * The facts are own data fields, so `JSON.stringify(info)`, a spread and `console.log` show them; the shapes
 * borrowed from other servers live on the prototype and cost nothing until read.
 */
export class ConnectionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** "IPv4" or "IPv6"; "" on a Unix socket. */
  readonly remoteFamily: "IPv4" | "IPv6" | "";
  readonly localAddress: string;
  readonly localPort: number;
  /** Deno's shape of the peer's address. */
  readonly remoteAddr: { readonly transport: "tcp" | "unix"; readonly hostname: string; readonly port: number };

  constructor(transport: "tcp" | "unix", remoteAddress: string, remotePort: number, localAddress: string, localPort: number) {
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.remoteFamily = transport === "unix" || remoteAddress === "" ? "" : remoteAddress.includes(":") ? "IPv6" : "IPv4";
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.remoteAddr = { transport, hostname: remoteAddress, port: remotePort };
  }

  /** Bun's `server.requestIP(request)`: the peer of the connection, or null on a Unix socket. */
  requestIP(_request?: Request): SocketAddress | null {
    if (this.remoteFamily === "") return null;
    return { address: this.remoteAddress, family: this.remoteFamily, port: this.remotePort };
  }

  /** @hono/node-server's `env.incoming`, as far as reading the peer goes (`incoming.socket.remoteAddress`). */
  get incoming(): { socket: { remoteAddress: string; remotePort: number; remoteFamily: string } } {
    return { socket: { remoteAddress: this.remoteAddress, remotePort: this.remotePort, remoteFamily: this.remoteFamily } };
  }
}

/** The facts of a TCP socket as the socket reports them (Node asks the kernel once and keeps the answer). */
export function socketInfo(socket: net.Socket): ConnectionInfo {
  return new ConnectionInfo("tcp", socket.remoteAddress ?? "", socket.remotePort ?? 0, socket.localAddress ?? "", socket.localPort ?? 0);
}

/** A TCP connection whose client is another than its peer (a PROXY header or a trusted proxy named it). */
export function namedClientInfo(address: string, port: number, local: { readonly localAddress?: string; readonly localPort?: number }): ConnectionInfo {
  return new ConnectionInfo("tcp", address, port, local.localAddress ?? "", local.localPort ?? 0);
}

/** A Unix-socket connection: its peer has no address; the local address is the socket's path. */
export function unixInfo(path: string): ConnectionInfo {
  return new ConnectionInfo("unix", "", 0, path, 0);
}
