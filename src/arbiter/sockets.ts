import { chmodSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import { getSystemErrorName } from "node:util";
import type { Bind } from "../config/settings.ts";
import { ListenError, bindText } from "../server/errors.ts";
import type { ListenerInfo } from "../server/server.ts";
import { clearStaleSocket } from "../server/unix.ts";

/** A socket the master bound once and shares with every worker it starts. */
export interface BoundSocket {
  listener: ListenerInfo;
  /** libuv's raw TCP or Pipe handle: bound, never listened on or accepted from by the master. */
  handle: { close(): void; getsockname?(out: Record<string, unknown>): number };
}

type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => BoundSocket["handle"] | number;

/**
 * Node's own cluster module binds shared sockets in the primary with net._createServerHandle and sends the
 * handle to each worker, which listens and accepts on it. oryx does the same (the master binds, so "address in
 * use" is found once, at start; the master never accepts, so it never sits in the data path), and keeps the
 * handle for its whole life, so the socket stays open while workers come and go.
 */
const createServerHandle = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;

function failure(bind: Bind, errno: number): ListenError {
  const code = getSystemErrorName(errno);
  return new ListenError(bindText(bind), Object.assign(new Error(code), { code }));
}

/**
 * systemd socket activation (sd_listen_fds(3)): when LISTEN_PID is this process, descriptors 3 … 3+LISTEN_FDS-1
 * are listening sockets passed by the service manager. They are served instead of the configured binds, as
 * Gunicorn does. The variables are removed so the workers (other pids) do not see them.
 */
export function activatedBinds(env: NodeJS.ProcessEnv, pid: number = process.pid): Bind[] | null {
  const fds = Number(env.LISTEN_FDS);
  const mine = env.LISTEN_PID === String(pid);
  if (env.LISTEN_PID !== undefined && mine) {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    delete env.LISTEN_FDNAMES;
  }
  if (!mine || !Number.isInteger(fds) || fds < 1) return null;
  return Array.from({ length: fds }, (_, i) => ({ kind: "fd" as const, fd: 3 + i }));
}

/** Binds every address; on a failure nothing stays bound. Unix sockets get `unixMode`. */
export async function bindSockets(binds: Bind[], unixMode: number): Promise<BoundSocket[]> {
  if (typeof createServerHandle !== "function") {
    throw new Error("this Node.js has no net._createServerHandle, which oryx's master needs to share sockets");
  }
  const bound: BoundSocket[] = [];
  try {
    for (const bind of binds) bound.push(await bindOne(bind, unixMode));
  } catch (err) {
    for (const b of bound) b.handle.close();
    throw err;
  }
  return bound;
}

async function bindOne(bind: Bind, unixMode: number): Promise<BoundSocket> {
  const name = bindText(bind);
  if (bind.kind === "unix") {
    await clearStaleSocket(bind.path);
    const h = createServerHandle!(bind.path, -1, -1);
    if (typeof h === "number") throw failure(bind, h);
    try {
      chmodSync(bind.path, unixMode);
    } catch (err) {
      h.close();
      throw new ListenError(name, err as NodeJS.ErrnoException);
    }
    return { handle: h, listener: { name, url: `unix:${bind.path}`, transport: "unix" } };
  }
  if (bind.kind === "fd") {
    const h = createServerHandle!(null, 0, 0, bind.fd);
    if (typeof h === "number") throw failure(bind, h);
    // A TCP handle can say where it is bound; a Pipe cannot (and needs no URL beyond its descriptor).
    if (typeof h.getsockname !== "function") return { handle: h, listener: { name, url: name, transport: "unix" } };
    return { handle: h, listener: { name, url: tcpUrl(h, bind, name), transport: "tcp" } };
  }
  let address = bind.host;
  let family = net.isIP(address);
  if (family === 0) {
    try {
      const r = await lookup(bind.host);
      address = r.address;
      family = r.family;
    } catch (err) {
      throw new ListenError(name, err as NodeJS.ErrnoException);
    }
  }
  const h = createServerHandle!(address, bind.port, family);
  if (typeof h === "number") throw failure(bind, h);
  return { handle: h, listener: { name, url: tcpUrl(h, bind, name), transport: "tcp" } };
}

/**
 * The URL a bound TCP handle serves. libuv defers a TCP bind's EADDRINUSE to listen(), which only workers call;
 * getsockname reports it now. (Left unnoticed, a worker would listen on the unbound socket, and the kernel pick a
 * random port.)
 */
function tcpUrl(h: BoundSocket["handle"], bind: Bind, name: string): string {
  const out: Record<string, unknown> = {};
  const err = h.getsockname?.(out) ?? 0;
  if (err !== 0) {
    h.close();
    throw failure(bind, err);
  }
  const address = String(out.address ?? "");
  const port = Number(out.port ?? 0);
  if (address === "") return name;
  return address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}
