/**
 * The tests' raw-socket client: connects (TCP or a Unix socket), writes bytes exactly as given, and reads until
 * the server closes, until N whole responses have arrived, or until the line has been idle, always within a
 * bounded time. For byte-exact cases that an HTTP client would normalise or refuse to send.
 */
import net from "node:net";
import { ResponseParser } from "../../src/bench/parser.ts";

export interface RawOptions {
  /** Give up (and report `closed: false`) after this long; default 2 s. */
  timeoutMs?: number;
  /** Pause between chunks, so each arrives in its own read. */
  gapMs?: number;
  /** Half-close (send FIN) after the last chunk. */
  end?: boolean;
  host?: string;
  /** A Unix socket path instead of a port. */
  path?: string;
  localAddress?: string;
  /** Stop once this many final responses are complete (counted by the framing parser), without waiting for the close. */
  responses?: number;
  /** With `responses`: that many responses answer HEAD requests (no bodies). */
  headRequests?: boolean;
  /** Stop once nothing has arrived for this long after something did. */
  idleMs?: number;
}

export interface RawResult {
  /** Everything the server sent, as latin1. */
  text: string;
  /** True if the server closed the connection (EOF or reset) before the client stopped reading. */
  closed: boolean;
  reset: boolean;
  /** The socket error's code ("ECONNRESET", "ECONNREFUSED", …), or "" if none. */
  error: string;
  /** performance.now() when the last bytes arrived (0 if none did), and when the client stopped. */
  lastDataAt: number;
  endedAt: number;
}

/**
 * Sends `chunks` on one connection (each written separately, `gapMs` apart) and collects what comes back until
 * the server closes, `responses` are complete, the line is idle `idleMs`, or `timeoutMs` passes.
 */
export function raw(port: number, chunks: Array<string | Buffer> | string, opts: RawOptions = {}): Promise<RawResult> {
  const list = typeof chunks === "string" ? [chunks] : chunks;
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve) => {
    const sock = opts.path !== undefined ? net.connect({ path: opts.path }) : net.connect({ port, host: opts.host ?? "127.0.0.1", localAddress: opts.localAddress });
    const got: Buffer[] = [];
    let reset = false;
    let error = "";
    let lastDataAt = 0;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    let complete = 0;
    const counter = opts.responses === undefined ? null : new ResponseParser(() => complete++);
    if (counter !== null) counter.headRequests = opts.headRequests === true;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(idle);
      sock.destroy();
      resolve({ text: Buffer.concat(got).toString("latin1"), closed, reset, error, lastDataAt, endedAt: performance.now() });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("data", (d: Buffer) => {
      got.push(d);
      lastDataAt = performance.now();
      if (counter !== null && counter.feed(d, 0, d.length) && complete >= opts.responses!) return finish(false);
      if (opts.idleMs !== undefined) {
        clearTimeout(idle);
        idle = setTimeout(() => finish(false), opts.idleMs);
      }
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      reset = true;
      error = e.code ?? e.message;
    });
    sock.on("close", () => finish(true));
    sock.on("end", () => finish(true));
    sock.on("connect", async () => {
      for (const c of list) {
        if (sock.destroyed) return;
        sock.write(typeof c === "string" ? Buffer.from(c, "latin1") : c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.end) sock.end();
    });
  });
}
