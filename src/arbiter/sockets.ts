import { lookup } from "node:dns/promises";
import net from "node:net";
import { getSystemErrorName } from "node:util";
import type { Bind } from "../config/settings.ts";
import { ListenError, bindText } from "../server/server.ts";

/** A socket the master bound once and shares with every worker it starts. */
export interface BoundSocket {
  bind: Bind;
  /** libuv's raw TCP or Pipe handle: bound, never listened on or accepted from by the master. */
  handle: { close(): void; getsockname?(out: Record<string, unknown>): number };
  url: string;
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

/** Binds every address; on a failure nothing stays bound. */
export async function bindSockets(binds: Bind[]): Promise<BoundSocket[]> {
  if (typeof createServerHandle !== "function") {
    throw new Error("this Node.js has no net._createServerHandle, which oryx's master needs to share sockets");
  }
  const bound: BoundSocket[] = [];
  try {
    for (const bind of binds) {
      if (bind.kind === "unix") {
        const h = createServerHandle(bind.path, -1, -1);
        if (typeof h === "number") throw failure(bind, h);
        bound.push({ bind, handle: h, url: `unix:${bind.path}` });
        continue;
      }
      let address = bind.host;
      let family = net.isIP(address);
      if (family === 0) {
        try {
          const r = await lookup(bind.host);
          address = r.address;
          family = r.family;
        } catch (err) {
          throw new ListenError(bindText(bind), err as NodeJS.ErrnoException);
        }
      }
      const h = createServerHandle(address, bind.port, family);
      if (typeof h === "number") throw failure(bind, h);
      // libuv defers a TCP bind's EADDRINUSE to listen(), which only workers call; getsockname reports it now.
      // (Left unnoticed, a worker would listen on the unbound socket, and the kernel pick a random port.)
      const out: Record<string, unknown> = {};
      const err = h.getsockname?.(out) ?? 0;
      if (err !== 0) {
        h.close();
        throw failure(bind, err);
      }
      const port = Number(out.port ?? bind.port);
      bound.push({ bind, handle: h, url: family === 6 ? `http://[${address}]:${port}` : `http://${address}:${port}` });
    }
  } catch (err) {
    for (const b of bound) b.handle.close();
    throw err;
  }
  return bound;
}
