import { spawn } from "node:child_process";
import { lstatSync, unlinkSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import { getSystemErrorName } from "node:util";
import { defaultSettings, type Bind } from "../config/settings.ts";
import { createServerHandle as nodeCreateServerHandle, type RawServerHandle } from "../node-internals.ts";
import { ListenError, bindText } from "../server/errors.ts";
import type { ListenerInfo } from "../server/server.ts";

type RawHandle = RawServerHandle;

/** A socket the master opened once, listens on, and shares with every worker it starts. */
export interface BoundSocket {
  listener: ListenerInfo;
  /**
   * libuv's raw TCP or Pipe handle. Its socket is listening (see LISTEN_HELPER): connections queue in the
   * kernel's backlog from the start, but the master never accepts from it (its event loop never watches it).
   * Closing a Unix socket's handle also removes its file, if it is still the file oryx created (see ownFile).
   */
  handle: RawHandle;
}


/**
 * Listen at once, accept only in workers — as Gunicorn's master does, so that connections made while the app
 * loads (or while every worker restarts) wait in the kernel's backlog instead of being refused.
 *
 * The master cannot call listen() on a handle itself: libuv's uv_listen() does listen(2) and also starts watching
 * the socket, and on the next turn of the master's event loop libuv accept(2)s every connection that arrives and
 * hands it to the handle's `onconnection` (Node's ConnectionWrap::OnConnection calls uv_accept before it looks for
 * a callback). With no callback the connection would be accepted and then held, unanswered, by the master; with
 * one, the master would be in the data path (Node's round-robin cluster). Neither libuv nor Node lets a listening
 * stream stop watching for connections short of closing it, and Node cannot dup(2) a descriptor.
 *
 * But the listening state belongs to the socket, not to a descriptor or a process. So a short-lived helper
 * process (node -e LISTEN_HELPER, one per address, started in parallel: ~60 ms) binds and listens on the socket,
 * sends the handle to the master over IPC (the master gets its own descriptor, as a worker does), and exits, all
 * in one turn of its event loop: it never polls, so it never accepts. For an inherited descriptor (fd://N,
 * systemd) the master passes its descriptor to the helper, which listens on it and exits. Workers still call
 * listen() on their copies (the same backlog; a no-op on a listening socket) and accept as before.
 *
 * A Unix socket's file thus listens microseconds after it appears (bind and listen back to back, as in any
 * server, rather than once a worker has loaded the app), so clients are not refused and a second oryx's probe
 * (see clearStaleSocket) finds it live even while the app loads. And the master's
 * handle, received over IPC, does not carry the path (libuv unlinks the path of a Pipe it bound when it closes
 * it, unconditionally): the master removes the file itself at the end, and only if it is still the file it
 * created (ownFile).
 */
const LISTEN_HELPER = `"use strict";
const net = require("node:net");
const fs = require("node:fs");
const { getSystemErrorName } = require("node:util");
const s = JSON.parse(process.argv[1]);
let created = false;
function fail(code, message) {
  if (created) { try { fs.unlinkSync(s.path); } catch {} }
  fs.writeSync(2, JSON.stringify({ code, message }) + "\\n");
  process.exit(1);
}
// A Unix socket's file is created with the mode wanted (bind applies the umask); chmod below only confirms it.
if (s.kind === "unix") process.umask(0o777 & ~s.mode);
const h = s.kind === "fd" ? net._createServerHandle(null, 0, 0, 3)
  : s.kind === "unix" ? net._createServerHandle(s.path, -1, -1)
  : net._createServerHandle(s.address, s.port, s.family);
if (typeof h === "number") fail(getSystemErrorName(h), getSystemErrorName(h));
created = s.kind === "unix";
// Right after bind: a client that finds the file finds it listening.
const e = h.listen(s.backlog);
if (e !== 0) fail(getSystemErrorName(e), getSystemErrorName(e));
if (s.kind === "fd") process.exit(0);
let file;
if (s.kind === "unix") {
  try {
    fs.chmodSync(s.path, s.mode);
    const st = fs.statSync(s.path, { bigint: true });
    file = { dev: String(st.dev), ino: String(st.ino) };
  } catch (err) {
    fail(err.code, err.message);
  }
}
// Listening: from here this process must exit before its event loop polls for I/O (libuv would accept). The
// IPC write of the handle is done at once, inside send(), and libuv runs its callback among the "pending"
// callbacks at the start of the loop's first turn, before the poll. Were it not done at once (never seen: a new
// channel, 200 bytes), a poll would come first, and then the check phase: give up there, loudly.
process.send({ t: "socket", file }, h, (err) => {
  if (err) fail(err.code, "could not send the socket to the master: " + err.message);
  process.exit(0);
});
setImmediate(() => fail("EAGAIN", "could not send the socket to the master at once"));
`;

type HelperSpec =
  | { kind: "tcp"; address: string; port: number; family: number; backlog: number }
  | { kind: "unix"; path: string; mode: number; backlog: number }
  | { kind: "fd"; backlog: number };

interface HelperResult {
  handle?: RawHandle;
  file?: { dev: string; ino: string };
  error?: { code?: string; message?: string };
}

const HELPER_TIMEOUT_MS = 30_000;

/** Runs LISTEN_HELPER for one socket; `fd` is the master's descriptor of an inherited socket (kind "fd"). */
function runHelper(spec: HelperSpec, fd?: number): Promise<HelperResult> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    // The helper needs nothing preloaded (a NODE_OPTIONS --import of a loader would only slow it down).
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ["-e", LISTEN_HELPER, JSON.stringify(spec)], {
      env,
      stdio: ["ignore", "ignore", "pipe", fd ?? "ignore", "ipc"],
    });
    const result: HelperResult = {};
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("message", (msg: { t: string; file?: HelperResult["file"] }, handle?: RawHandle) => {
      if (msg.t !== "socket" || handle === undefined) return;
      result.handle = handle;
      if (msg.file !== undefined) result.file = msg.file;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), HELPER_TIMEOUT_MS);
    // The process could not be started (its 'close' may never come). (Node writes the acknowledgement of the
    // handle to a helper that has exited meanwhile without reporting an error.)
    child.on("error", (err) => {
      if (child.pid !== undefined) return;
      clearTimeout(timer);
      resolve({ error: { message: `could not run ${process.execPath} to open the socket: ${err.message}` } });
    });
    // 'close' comes after the exit and after the IPC channel (so every message) is done.
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && result.error === undefined) {
        const last = stderr.trim().split("\n").pop() ?? "";
        try {
          const e = JSON.parse(last) as { code?: string; message?: string };
          result.error = { ...(typeof e.code === "string" ? { code: e.code } : {}), message: e.message ?? e.code ?? "failed" };
        } catch {
          result.error = { message: `the helper that opens the socket ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`}${last !== "" ? `: ${last}` : ""}` };
        }
      }
      if (result.error !== undefined && result.handle !== undefined) {
        result.handle.close();
        delete result.handle;
      }
      resolve(result);
    });
  });
}

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

/**
 * Opens every address, listening with `backlog` (see LISTEN_HELPER), all at once; on a failure nothing stays open
 * and the first failure, in the order of `binds`, is thrown. Unix sockets get `unixMode`.
 */
export async function bindSockets(binds: Bind[], unixMode: number, backlog: number = defaultSettings().backlog): Promise<BoundSocket[]> {
  nodeCreateServerHandle(); // throws a NodeInternalsError, before anything is opened, if this Node has none
  const results = await Promise.allSettled(binds.map((bind) => bindOne(bind, unixMode, backlog)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) {
    for (const r of results) if (r.status === "fulfilled") r.value.handle.close();
    throw failed.reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<BoundSocket>).value);
}

/**
 * The master's handle of a Unix socket it created, made to remove the socket's file when it is closed (at the
 * stop, or when another bind failed) — first, and only if the path still holds the file this master created
 * (same device and inode, taken by the helper right after bind; while the socket lives, its file's inode cannot
 * be reused): someone may have removed it and another server put its own socket there since.
 */
function ownFile(h: RawHandle, path: string, file: { dev: string; ino: string }): RawHandle {
  const close = h.close.bind(h);
  h.close = () => {
    try {
      const st = lstatSync(path, { bigint: true });
      if (String(st.dev) === file.dev && String(st.ino) === file.ino) unlinkSync(path);
    } catch {
      // already gone, or not ours to judge: leave it
    }
    close();
  };
  return h;
}

function helperFailure(name: string, error: NonNullable<HelperResult["error"]>): ListenError {
  return new ListenError(name, Object.assign(new Error(error.message ?? error.code ?? "failed"), error.code !== undefined ? { code: error.code } : {}));
}

async function bindOne(bind: Bind, unixMode: number, backlog: number): Promise<BoundSocket> {
  const name = bindText(bind);
  if (bind.kind === "unix") {
    await clearStaleSocket(bind.path);
    const r = await runHelper({ kind: "unix", path: bind.path, mode: unixMode, backlog });
    if (r.error !== undefined || r.handle === undefined || r.file === undefined) {
      r.handle?.close();
      throw helperFailure(name, r.error ?? { message: "the helper that opens the socket sent no socket" });
    }
    return { handle: ownFile(r.handle, bind.path, r.file), listener: { name, url: `unix:${bind.path}`, transport: "unix" } };
  }
  if (bind.kind === "fd") {
    const h = nodeCreateServerHandle()(null, 0, 0, bind.fd);
    if (typeof h === "number") throw failure(bind, h);
    // The master keeps its own handle on the descriptor; the helper listens on a copy (a no-op if the service
    // manager already did, as systemd does, but for the backlog, which becomes --backlog as under Gunicorn).
    const r = await runHelper({ kind: "fd", backlog }, bind.fd);
    if (r.error !== undefined) {
      h.close();
      throw helperFailure(name, r.error);
    }
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
  const r = await runHelper({ kind: "tcp", address, port: bind.port, family, backlog });
  if (r.error !== undefined || r.handle === undefined) throw helperFailure(name, r.error ?? { message: "the helper that opens the socket sent no socket" });
  return { handle: r.handle, listener: { name, url: tcpUrl(r.handle, bind, name), transport: "tcp" } };
}

/**
 * Makes a Unix socket path ready to bind. A socket file left by a server that died without cleaning up (kill -9,
 * a power cut) would make bind fail with "address in use" forever; so a socket file nobody listens on is removed.
 * A socket a server listens on — also one still loading its app: oryx listens from the start — or a path that is
 * not a socket at all, is never touched. (src/server/unix.ts does the same for a single-process server; here the
 * file is removed only if it is still the one found refusing connections: another oryx starting at the same
 * moment may have just replaced it with its own, live, socket.)
 */
const STALE_RECHECK_MS = 100;

async function clearStaleSocket(path: string): Promise<void> {
  const name = `unix:${path}`;
  const identity = (): string | null => {
    try {
      const st = lstatSync(path, { bigint: true });
      if (!st.isSocket()) {
        throw new ListenError(name, Object.assign(new Error("the path exists and is not a socket (oryx will not remove it)"), { code: "EEXIST" }));
      }
      return `${st.dev}:${st.ino}`;
    } catch (err) {
      if (err instanceof ListenError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new ListenError(name, err as NodeJS.ErrnoException);
    }
  };
  const found = identity();
  if (found === null) return;
  const alive = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const probe = net.connect({ path });
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      // ECONNREFUSED: nobody listens. ENOENT: gone meanwhile. Anything else (EACCES, EAGAIN when a live server's
      // backlog is full …) we cannot judge or means alive: leave the file, and say it is in use.
      probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code !== "ECONNREFUSED" && err.code !== "ENOENT"));
    });
  // Refused twice, STALE_RECHECK_MS apart: a server that has just bound the path listens microseconds later (its
  // bind and listen are back to back), so a probe that fell between the two is not taken for a dead server.
  let stale = !(await alive());
  if (stale) {
    await new Promise((resolve) => setTimeout(resolve, STALE_RECHECK_MS));
    stale = !(await alive());
  }
  if (!stale) {
    throw new ListenError(name, Object.assign(new Error("address already in use"), { code: "EADDRINUSE" }));
  }
  if (identity() !== found) return; // replaced meanwhile: the bind will tell whether the new file is live
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new ListenError(name, err as NodeJS.ErrnoException);
  }
}

/**
 * The URL a bound TCP handle serves. (libuv defers a TCP bind's EADDRINUSE to listen(), where the helper finds
 * it; getsockname would report it too. Left unnoticed, a listen() on the unbound socket would have the kernel
 * pick a random port.)
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
