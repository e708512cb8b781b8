/**
 * One benchmark connection ("slot"): a node:net socket, its response parser, and the requests in flight on it
 * as a ring of send times (the intended send time under --rate). The slot outlives its sockets: when one
 * closes, a new one is opened and the requests still in flight are written again.
 *
 * Accounting, so that requests sent = responses + errors exactly:
 * - a request is counted when it is issued (sent, or queued to be sent as soon as the socket connects), if it
 *   is issued after the warm-up;
 * - it then ends as exactly one response or one error. An error is charged to the oldest request in flight
 *   (the one whose response failed); the requests behind it are re-sent on a new connection, keeping their
 *   send times, so their latency includes the reconnect;
 * - kinds: refused (ECONNREFUSED), reset (ECONNRESET/EPIPE, or the server closed the connection without
 *   starting the response), timeout (no complete response within --timeout; every request that old), malformed
 *   (a bad status line or framing, a body cut short), other (anything else). A response nobody asked for is
 *   malformed too, charged to no request: the one case where errors exceed sent minus responses.
 *
 * The per-request path allocates nothing of its own (node:net still makes its write requests): reads go into one buffer per thread (`onread`), the parser keeps no
 * strings, and writes reuse precomputed buffers of k requests.
 */
import net from "node:net";
import { ResponseParser } from "./parser.ts";
import { MALFORMED, OTHER, REFUSED, RESET, TIMEOUT, type Stats } from "./stats.ts";

/** What a slot needs from the runner driving it. */
export interface SlotHost {
  readonly address: string;
  readonly port: number;
  /** copies[k]: k requests back to back. */
  readonly copies: Buffer[];
  /** One read buffer shared by every socket of the thread (reads are handled synchronously). */
  readonly readBuffer: Buffer;
  readonly stats: Stats;
  readonly headRequests: boolean;
  /** performance.now() at the end of the warm-up: requests issued before it are not counted. */
  measureStart: number;
  /** Requests in flight on every slot. */
  inflight: number;
  /** New requests are still being issued (false once the duration is over or -n was reached). */
  readonly issuing: boolean;
  /** The run is over: no new sockets. */
  readonly finished: boolean;
  /** A request position on `slot` came free (a response or an error); the runner may issue another. */
  free(slot: Slot, now: number): void;
}

/** Delay before reconnecting after a socket that never connected, so a refusing server is not spun on. */
const RECONNECT_DELAY_MS = 10;

export function errorKind(err: NodeJS.ErrnoException): number {
  switch (err.code) {
    case "ECONNREFUSED":
      return REFUSED;
    case "ECONNRESET":
    case "EPIPE":
      return RESET;
    case "ETIMEDOUT":
      return TIMEOUT;
    default:
      return OTHER;
  }
}

export class Slot {
  private socket: net.Socket | null = null;
  private connected = false;
  /** The last response said Connection: close; nothing more is written on this socket. */
  private closing = false;
  private inRead = false;
  /** Requests issued during a read, written in one go at its end. */
  private pendingWrites = 0;
  private readNow = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly ring: Float64Array;
  private head = 0;
  /** Requests in flight on this slot. */
  count = 0;
  private readonly parser: ResponseParser;
  /** A response arrived with nothing in flight; counted as malformed once the read is done. */
  private unsolicited = false;

  constructor(
    private readonly host: SlotHost,
    capacity: number,
  ) {
    this.ring = new Float64Array(capacity);
    this.parser = new ResponseParser((status, close) => this.onResponse(status, close));
    this.parser.headRequests = host.headRequests;
  }

  /** Opens the first connection. */
  start(): void {
    this.connect();
  }

  /** Issues one request, timed from `t` (performance.now() milliseconds). */
  issue(t: number): void {
    const h = this.host;
    this.ring[(this.head + this.count) % this.ring.length] = t;
    this.count++;
    h.inflight++;
    if (t >= h.measureStart) h.stats.sent++;
    if (this.socket === null || this.closing) return; // written when the next socket opens
    if (this.inRead) this.pendingWrites++;
    else this.socket.write(h.copies[1]!);
  }

  /** Charges a timeout to every request older than `timeoutMs`; if any, the connection is replaced. */
  expire(now: number, timeoutMs: number): void {
    let n = 0;
    while (this.count > 0 && now - this.ring[this.head]! >= timeoutMs) {
      this.settle(TIMEOUT);
      n++;
    }
    if (n === 0) return;
    this.detach();
    this.scheduleReconnect(0);
    for (let i = 0; i < n; i++) this.host.free(this, now);
  }

  /** Closes the socket for good (the run is over). */
  stop(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.detach();
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (this.host.finished) return;
    const h = this.host;
    this.parser.reset();
    this.connected = false;
    this.closing = false;
    this.pendingWrites = 0;
    const sock = net.connect({
      host: h.address,
      port: h.port,
      onread: {
        buffer: h.readBuffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          if (sock === this.socket) this.onRead(n, buf as Buffer);
          return true;
        },
      },
    });
    this.socket = sock;
    sock.setNoDelay(true);
    sock.on("connect", () => {
      if (sock === this.socket) this.connected = true;
    });
    sock.on("error", (err: NodeJS.ErrnoException) => {
      if (sock !== this.socket) return;
      if (errorKind(err) === OTHER) h.stats.otherError ??= `${err.code ?? ""} ${err.message}`.trim();
      this.fail(errorKind(err));
    });
    sock.on("end", () => {
      if (sock === this.socket) this.onEnd();
    });
    sock.on("close", () => {
      if (sock === this.socket) this.onEnd();
    });
    // Requests issued while there was no socket, or left over from the last one.
    if (this.count > 0) sock.write(h.copies[this.count]!);
  }

  private onRead(n: number, buf: Buffer): void {
    const h = this.host;
    const now = performance.now();
    this.readNow = now;
    if (now >= h.measureStart) h.stats.bytes += n;
    this.inRead = true;
    const ok = this.parser.feed(buf, 0, n);
    this.inRead = false;
    if (!ok || this.unsolicited) {
      this.fail(MALFORMED);
      return;
    }
    if (this.closing) {
      // The server said Connection: close: whatever is still in flight goes on a new connection.
      this.detach();
      this.scheduleReconnect(0);
      return;
    }
    if (this.pendingWrites > 0 && this.socket !== null) {
      this.socket.write(h.copies[this.pendingWrites]!);
    }
    this.pendingWrites = 0;
  }

  private onResponse(status: number, close: boolean): void {
    if (this.count - this.pendingWrites === 0) {
      // A response nobody asked for (requests issued during this read are not written yet): the stream cannot
      // be trusted any more.
      this.unsolicited = true;
      this.parser.halt();
      return;
    }
    const h = this.host;
    const t = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    h.inflight--;
    const now = this.inRead ? this.readNow : performance.now();
    if (t >= h.measureStart) h.stats.response(status, now - t);
    if (close) {
      this.closing = true;
      this.parser.halt();
    }
    h.free(this, now);
  }

  /** The server ended the connection (or the socket closed without an error event). */
  private onEnd(): void {
    const result = this.parser.finish();
    if (result === "truncated" || this.unsolicited) {
      this.fail(MALFORMED);
      return;
    }
    if (this.count > 0 && result === "idle") {
      // Closed with requests unanswered and nothing announced.
      this.fail(RESET);
      return;
    }
    // Idle with nothing in flight, or a close-delimited response just ended (anything behind it is re-sent).
    const wasConnected = this.connected;
    this.detach();
    this.scheduleReconnect(wasConnected ? 0 : RECONNECT_DELAY_MS);
  }

  /** Ends the oldest request in flight with an error of `kind` and replaces the connection. */
  private fail(kind: number): void {
    const wasConnected = this.connected;
    this.detach();
    if (this.unsolicited) {
      // Charged to no request: the one case where errors exceed sent minus responses.
      this.unsolicited = false;
      if (performance.now() >= this.host.measureStart) this.host.stats.errors[MALFORMED]++;
    } else if (this.count > 0) {
      this.settle(kind);
      this.host.free(this, performance.now());
    }
    this.scheduleReconnect(wasConnected ? 0 : RECONNECT_DELAY_MS);
  }

  /** Removes the oldest request in flight, charging an error of `kind` if it counts. */
  private settle(kind: number): void {
    const h = this.host;
    const t = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    h.inflight--;
    if (t >= h.measureStart) h.stats.errors[kind]++;
  }

  private detach(): void {
    const sock = this.socket;
    this.socket = null;
    this.connected = false;
    this.pendingWrites = 0;
    if (sock !== null) sock.destroy();
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.host.finished || this.reconnectTimer !== null || this.socket !== null) return;
    // Winding down: only a slot with requests still to send needs a connection.
    if (!this.host.issuing && this.count === 0) return;
    if (delayMs === 0) this.connect();
    else this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }
}
