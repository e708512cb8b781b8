/**
 * The tests' raw-socket client: connects (TCP or a Unix socket), writes bytes exactly as given, and reads until
 * the server closes, until N whole responses have arrived, or until the line has been idle, always within a
 * bounded time (`raw`); or holds a conversation on one connection (`Session`). For byte-exact cases that an HTTP
 * client would normalise or refuse to send.
 */
import net from "node:net";
import { ResponseParser } from "../../src/bench/parser.ts";
import { completeResponses, parseNext, parseResponses, type ParsedResponse } from "./response.ts";

export interface RawOptions {
  /** Give up (and report `closed: false`) after this long; default 2 s. */
  timeoutMs?: number;
  /** Pause between chunks, so each arrives in its own read. */
  gapMs?: number;
  /** Without gapMs: still let the event loop turn (setImmediate) between chunks, so each is its own write. */
  yieldBetween?: boolean;
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
  /** With `responses`: how many final responses were complete when the client stopped. */
  responses: number;
  /** With `responses`: why the framing parser found the bytes malformed, or null. */
  malformed: string | null;
  /** The client's local port (0 if it never connected). */
  localPort: number;
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
    let localPort = 0;
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
      resolve({ text: Buffer.concat(got).toString("latin1"), closed, reset, error, responses: complete, malformed: counter?.error ?? null, localPort, lastDataAt, endedAt: performance.now() });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("data", (d: Buffer) => {
      got.push(d);
      lastDataAt = performance.now();
      if (counter !== null && counter.error === null && counter.feed(d, 0, d.length) && complete >= opts.responses!) return finish(false);
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
      localPort = sock.localPort ?? 0;
      for (const c of list) {
        if (sock.destroyed) return;
        sock.write(typeof c === "string" ? Buffer.from(c, "latin1") : c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        else if (opts.yieldBetween) await new Promise((r) => setImmediate(r));
      }
      if (opts.end) sock.end();
    });
  });
}

/**
 * One GET on its own connection (`Connection: close`, `extra` header lines before it): its one response. Throws,
 * with what came, if there was not exactly one.
 */
export async function getOnce(port: number, target = "/", extra = "", timeoutMs = 5000): Promise<ParsedResponse> {
  const r = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`, { timeoutMs });
  const rs = parseResponses(r.text);
  if (rs.length !== 1) throw new Error(`one response expected for ${target}, got ${JSON.stringify(r.text)}`);
  return rs[0]!;
}

/** Resolves with the error code of a connection attempt ("ECONNREFUSED", …), or "connected". */
export function tryConnect(port: number, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, host);
    sock.on("connect", () => {
      sock.destroy();
      resolve("connected");
    });
    sock.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** Every session not yet destroyed, so an `after()` can end them all (`destroySessions`). */
const sessions = new Set<Session>();

/**
 * A conversation on one raw connection: write some bytes, wait for what comes (as text, as the next response, or
 * as N responses), write more, see whether and when the server closes. Records when each read arrived
 * (performance.now()), for tests that must act between reads. Responses are cut by the shared parser.
 */
export class Session {
  readonly sock: net.Socket;
  /** Each read as it arrived. */
  readonly chunks: Array<{ at: number; data: Buffer }> = [];
  readonly startedAt = performance.now();
  closed = false;
  /** performance.now() at the close (the server's FIN or the socket's close, whichever came first). */
  closedAt = 0;
  /** The socket saw an error (a reset). */
  reset = false;
  private buf = Buffer.alloc(0);
  /** Where `response()` has read up to in `buf`. */
  private pos = 0;
  /** Parsed but not yet handed out (interim responses arrive with or before their final one). */
  private queue: ParsedResponse[] = [];
  private waiters: Array<() => void> = [];
  private reading = false;

  private constructor(sock: net.Socket, paused: boolean) {
    this.sock = sock;
    sock.setNoDelay(true);
    // A paused session reads nothing (no 'data' listener, so the socket never flows) until resume().
    if (!paused) this.resume();
    sock.on("error", () => {
      this.reset = true;
    });
    const onClosed = (): void => {
      if (this.closed) return;
      this.closed = true;
      this.closedAt = performance.now();
      sessions.delete(this);
      this.wake();
    };
    sock.on("end", onClosed);
    sock.on("close", onClosed);
    sessions.add(this);
  }

  /** Starts reading (a session opened `paused` reads nothing before this). */
  resume(): void {
    if (this.reading) return;
    this.reading = true;
    this.sock.on("data", (d: Buffer) => {
      this.chunks.push({ at: performance.now(), data: d });
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
  }

  /** Connects to 127.0.0.1:`port`; `paused`: read nothing until resume(). */
  static open(port: number, opts: { paused?: boolean } = {}): Promise<Session> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      const c = new Session(sock, opts.paused ?? false);
      sock.once("connect", () => resolve(c));
      sock.once("error", reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked on every arrival and at the close); rejects after `ms`. */
  private until(pred: () => boolean, ms: number, what: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(what())), ms);
      const check = (): void => {
        let ok = false;
        try {
          ok = pred();
        } catch (err) {
          clearTimeout(timer);
          reject(err as Error);
          return;
        }
        if (ok) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  get localPort(): number {
    return this.sock.localPort ?? 0;
  }

  /** Everything received so far, as latin1. */
  get text(): string {
    return this.buf.toString("latin1");
  }

  write(data: string | Buffer): boolean {
    return this.sock.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Writes `pieces`, each its own write, `gapMs` apart. */
  async send(pieces: Array<string | Buffer>, gapMs = 0): Promise<void> {
    for (const p of pieces) {
      this.write(p);
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  /** Waits until `pred(text)` holds and returns the text; rejects (with what arrived) after `ms` or at a close without it. */
  async waitFor(pred: (text: string) => boolean, ms = 2000, what = "the expected bytes"): Promise<string> {
    await this.until(
      () => {
        if (pred(this.text)) return true;
        if (this.closed) throw new Error(`${what} did not arrive (closed=true); got ${JSON.stringify(this.text.slice(0, 600))}`);
        return false;
      },
      ms,
      () => `${what} did not arrive (closed=${this.closed}); got ${JSON.stringify(this.text.slice(0, 600))}`,
    );
    return this.text;
  }

  /** When `marker` first appeared in what was received, or undefined. */
  firstArrival(marker: string): number | undefined {
    let text = "";
    for (const c of this.chunks) {
      text += c.data.toString("latin1");
      if (text.includes(marker)) return c.at;
    }
    return undefined;
  }

  /** Waits for `n` complete final responses from the start of the connection and returns them all, interim ones too. */
  async responses(n: number, ms = 2000, headRequests = 0): Promise<ParsedResponse[]> {
    let got: ParsedResponse[] = [];
    await this.waitFor(
      () => {
        got = completeResponses(this.buf, headRequests);
        return got.filter((r) => r.status >= 200).length >= n;
      },
      ms,
      `${n} response(s)`,
    );
    return got;
  }

  /** The next response after those already taken (a 1xx counts as one). `head`: it answers a HEAD request. */
  async response(opts: { head?: boolean; ms?: number } = {}): Promise<ParsedResponse> {
    await this.until(
      () => {
        if (this.queue.length > 0) return true;
        const next = parseNext(this.buf, this.pos, { head: opts.head === true, eof: this.closed });
        if (next === null) {
          if (this.closed) throw new Error(`the connection closed before a complete response; got: ${JSON.stringify(this.rest().slice(0, 400))}`);
          return false;
        }
        this.queue.push(...next.responses);
        this.pos = next.end;
        return true;
      },
      opts.ms ?? 5000,
      () => `timed out after ${opts.ms ?? 5000} ms waiting for a response; got so far: ${JSON.stringify(this.rest().slice(0, 400))}`,
    );
    return this.queue.shift()!;
  }

  /** Resolves true if the server closes the connection within `ms`. */
  async waitClosed(ms = 2000): Promise<boolean> {
    try {
      await this.until(() => this.closed, ms, () => "the close");
      return true;
    } catch {
      return false;
    }
  }

  /** What arrived after the responses `response()` has taken, as latin1. */
  rest(): string {
    return this.buf.toString("latin1", this.pos);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Destroys every session still open (for `after()`). */
export function destroySessions(): void {
  for (const s of sessions) s.destroy();
}
