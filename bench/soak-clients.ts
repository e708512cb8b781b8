/**
 * Non-retrying keep-alive clients, for the lossless-stop soak (bench/soak-stops.ts) and its test
 * (test/e2e/lossless.test.ts). Each client POSTs back to back on one kept-alive connection: the next request goes
 * out the moment the previous response is complete, on the same connection, as an HTTP client with a connection
 * pool does. A response with `Connection: close` (or the server's FIN seen while no request is out) makes it open
 * a new connection, as such a client also does. It never retries: every request ends as exactly one of
 *
 * - ok: a complete 2xx response;
 * - status: a complete response with another status;
 * - reset: ECONNRESET or EPIPE while the request was out;
 * - unanswered: the server closed the connection (FIN) while the request was out, with no complete response;
 * - timeout: no complete response within `timeoutMs`;
 * - malformed: a response that could not be parsed;
 * - other: any other socket error while the request was out.
 *
 * A connection the server closes while no request is out costs nothing (`idleClosed` counts them). Only
 * 127.0.0.1 is loaded, and a run is bounded both in requests and in time.
 */
import { readFileSync } from "node:fs";
import net from "node:net";

export interface Tally {
  ok: number;
  status: number;
  reset: number;
  unanswered: number;
  timeout: number;
  malformed: number;
  other: number;
  /** Requests sent (each ends as one of the kinds above, once the run is done). */
  sent: number;
  /** Connections opened. */
  connections: number;
  /** Responses that said `Connection: close`. */
  closeResponses: number;
  /** Connections the server closed while nothing was out: no request lost. */
  idleClosed: number;
  /** Slowest complete response, ms. */
  maxLatencyMs: number;
  /** A few failures, described, with their time since the start (ms). */
  examples: string[];
  /** When each failure happened, ms since the start. */
  failureTimes: number[];
}

export function failures(t: Tally): number {
  return t.status + t.reset + t.unanswered + t.timeout + t.malformed + t.other;
}

export function summary(t: Tally): string {
  return (
    `${t.sent} sent, ${t.ok} ok, ${failures(t)} failed (reset ${t.reset}, closed unanswered ${t.unanswered}, ` +
    `non-2xx ${t.status}, timeout ${t.timeout}, malformed ${t.malformed}, other ${t.other}); ` +
    `${t.connections} connections, ${t.closeResponses} Connection: close responses, ${t.idleClosed} closed while idle; ` +
    `slowest ${t.maxLatencyMs.toFixed(0)} ms`
  );
}

export interface ClientOptions {
  port: number;
  clients: number;
  /** Most requests in all (the run ends when they are sent and answered, or at `durationMs`). */
  requests: number;
  /** Longest the clients send new requests. */
  durationMs: number;
  /** Request target, default /. */
  target?: string;
  /** Request body, default 64 bytes. */
  body?: Buffer;
  /** Longest wait for a response, default 10 s. */
  timeoutMs?: number;
}

export interface ClientRun {
  tally: Tally;
  /** Resolves when every client has finished (its last request answered or failed). */
  done: Promise<Tally>;
  /** Stops sending new requests; what is out still ends. */
  stop(): void;
}

const HOST = "127.0.0.1";

/** Starts `clients` clients; each runs until the shared budget of requests or time is used up. */
export function runClients(opts: ClientOptions): ClientRun {
  const tally: Tally = {
    ok: 0, status: 0, reset: 0, unanswered: 0, timeout: 0, malformed: 0, other: 0,
    sent: 0, connections: 0, closeResponses: 0, idleClosed: 0, maxLatencyMs: 0, examples: [], failureTimes: [],
  };
  const body = opts.body ?? Buffer.alloc(64, "x");
  const request = Buffer.concat([
    Buffer.from(`POST ${opts.target ?? "/"} HTTP/1.1\r\nHost: ${HOST}:${opts.port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"),
    body,
  ]);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  let stopped = false;
  const more = (): boolean => !stopped && tally.sent < opts.requests && performance.now() < deadline;

  const all: Client[] = [];
  let left = opts.clients;
  let resolveDone: (t: Tally) => void = () => {};
  const done = new Promise<Tally>((r) => (resolveDone = r));
  const finished = (): void => {
    if (--left === 0) {
      clearInterval(sweep);
      resolveDone(tally);
    }
  };

  const fail = (kind: "status" | "reset" | "unanswered" | "timeout" | "malformed" | "other", what: string): void => {
    tally[kind]++;
    const at = performance.now() - start;
    tally.failureTimes.push(at);
    if (tally.examples.length < 20) tally.examples.push(`${(at / 1000).toFixed(3)}s ${kind}: ${what}`);
  };

  class Client {
    private sock: net.Socket | null = null;
    private buf: Buffer = Buffer.alloc(0);
    /** A request is out on `sock`, sent at `sentAt`. */
    private out = false;
    private sentAt = 0;
    private serverEnded = false;
    private over = false;

    begin(): void {
      if (!more()) return this.finish();
      this.connect();
    }

    private connect(): void {
      const sock = net.connect({ host: HOST, port: opts.port });
      tally.connections++;
      sock.setNoDelay(true);
      this.sock = sock;
      this.buf = Buffer.alloc(0);
      this.serverEnded = false;
      sock.on("data", (d: Buffer) => {
        if (sock === this.sock) this.onData(d);
      });
      sock.on("end", () => {
        if (sock === this.sock) this.onEnd();
      });
      sock.on("error", (err: NodeJS.ErrnoException) => {
        if (sock === this.sock) this.onError(err);
      });
      sock.on("close", () => {
        if (sock === this.sock) this.onEnd();
      });
      this.send();
    }

    /** Sends the next request on this connection, or ends the client. */
    private send(): void {
      if (!more()) {
        this.drop();
        return this.finish();
      }
      tally.sent++;
      this.out = true;
      this.sentAt = performance.now();
      this.sock!.write(request);
    }

    private onData(d: Buffer): void {
      if (!this.out) {
        this.drop();
        fail("malformed", `bytes with no request out: ${JSON.stringify(d.subarray(0, 60).toString("latin1"))}`);
        return this.next();
      }
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      const r = parseResponse(this.buf);
      if (r === null) return; // incomplete
      if (r === "bad") {
        this.out = false;
        this.drop();
        fail("malformed", JSON.stringify(this.buf.subarray(0, 80).toString("latin1")));
        return this.next();
      }
      this.out = false;
      const latency = performance.now() - this.sentAt;
      if (latency > tally.maxLatencyMs) tally.maxLatencyMs = latency;
      if (r.status >= 200 && r.status < 300) tally.ok++;
      else fail("status", `status ${r.status}`);
      if (r.used < this.buf.length) {
        this.drop();
        fail("malformed", "bytes after the response");
        return this.next();
      }
      this.buf = Buffer.alloc(0);
      if (r.close) tally.closeResponses++;
      if (r.close || this.serverEnded) {
        this.drop();
        return this.next();
      }
      // Back to back, on the same connection.
      this.send();
    }

    private onEnd(): void {
      this.serverEnded = true;
      if (this.out) {
        this.out = false;
        this.drop();
        fail("unanswered", this.buf.length > 0 ? `FIN after ${this.buf.length} bytes of the response` : "FIN with the request out");
        return this.next();
      }
      tally.idleClosed++;
      this.drop();
      this.next();
    }

    private onError(err: NodeJS.ErrnoException): void {
      const wasOut = this.out;
      this.out = false;
      this.drop();
      if (wasOut) {
        if (err.code === "ECONNRESET" || err.code === "EPIPE") fail("reset", err.code);
        else fail("other", `${err.code ?? ""} ${err.message}`);
      } else {
        tally.idleClosed++;
      }
      this.next();
    }

    /** Called by the sweep: a request out for longer than the timeout fails and its connection goes. */
    check(now: number): void {
      if (this.out && now - this.sentAt > timeoutMs) {
        this.out = false;
        this.drop();
        fail("timeout", `no response in ${timeoutMs} ms`);
        this.next();
      }
    }

    private next(): void {
      if (this.over) return;
      if (!more()) return this.finish();
      this.connect();
    }

    private drop(): void {
      const s = this.sock;
      this.sock = null;
      s?.destroy();
    }

    private finish(): void {
      if (this.over) return;
      this.over = true;
      this.drop();
      finished();
    }
  }

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const c of all) c.check(now);
  }, 100);
  for (let i = 0; i < opts.clients; i++) all.push(new Client());
  for (const c of all) c.begin();
  if (opts.clients === 0) {
    clearInterval(sweep);
    resolveDone(tally);
  }
  return { tally, done, stop: () => void (stopped = true) };
}

interface Parsed {
  status: number;
  close: boolean;
  /** Bytes of `buf` the response took. */
  used: number;
}

/** Parses one response at the start of `buf`: null if incomplete, "bad" if it cannot be one. */
export function parseResponse(buf: Buffer): Parsed | null | "bad" {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length > 64 * 1024 ? "bad" : null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]! + " ");
  if (m === null) return "bad";
  const status = Number(m[1]);
  let length = -1;
  let chunked = false;
  let close = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "bad";
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") length = Number(value);
    else if (name === "transfer-encoding") chunked = /chunked/i.test(value);
    else if (name === "connection") close = /(^|,)\s*close\s*(,|$)/i.test(value);
  }
  let at = end + 4;
  if (status < 200 || status === 204 || status === 304) return { status, close, used: at };
  if (chunked) {
    for (;;) {
      const eol = buf.indexOf("\r\n", at);
      if (eol < 0) return null;
      const size = parseInt(buf.subarray(at, eol).toString("latin1"), 16);
      if (!Number.isFinite(size)) return "bad";
      at = eol + 2;
      if (size === 0) {
        // Trailers (none expected), then the final CRLF.
        const fin = buf.indexOf("\r\n", at);
        if (fin < 0) return null;
        return { status, close, used: fin + 2 };
      }
      if (buf.length < at + size + 2) return null;
      at += size + 2;
    }
  }
  if (length < 0) return "bad"; // a close-delimited body: not expected from these apps
  if (buf.length < at + length) return null;
  return { status, close, used: at + length };
}

/** This process's soft limit on open files (Linux), or null where /proc does not tell. */
export function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}
