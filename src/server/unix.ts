import { lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import { ListenError } from "./errors.ts";

/**
 * Makes a Unix socket path ready to bind. A socket file left by a server that died without cleaning up (kill -9,
 * a power cut) would make bind fail with "address in use" forever; so a socket file nobody accepts on is removed.
 * A socket a live server still accepts on, or a path that is not a socket at all, is never touched.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ListenError(`unix:${path}`, err as NodeJS.ErrnoException);
  }
  if (!isSocket) {
    throw new ListenError(`unix:${path}`, Object.assign(new Error("the path exists and is not a socket (oryx will not remove it)"), { code: "EEXIST" }));
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: nobody listens. Anything else (EACCES …) we cannot judge: leave the file, let bind report.
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "ECONNREFUSED"));
  });
  if (alive) {
    throw new ListenError(`unix:${path}`, Object.assign(new Error("address already in use"), { code: "EADDRINUSE" }));
  }
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new ListenError(`unix:${path}`, err as NodeJS.ErrnoException);
  }
}
