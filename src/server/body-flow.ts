/**
 * A request body's flow from the socket to the app: the bytes a Content-Length or chunked body still owes, the
 * app's sink and whether it wants more (backpressure pauses the socket), 100-continue, and discarding a body the
 * app did not read, within the drain limits. The connection feeds bytes in and is told when to read or pause.
 */
import type { BodySink, RequestBody } from "../gateway/exchange.ts";
import { CONTINUE_100, ChunkedDecoder, type RequestHead } from "../http/index.ts";
import type { Connection } from "./connection.ts";

// An unread request body is drained after the response, up to this many bytes and this long; past either the
// connection is closed instead, so a kept-alive client never waits on a body nobody reads.
export const DRAIN_MAX_BYTES = 256 * 1024;
export const DRAIN_MAX_MS = 5_000;

/** The request side of an exchange (ConnExchange adds the response side). */
export class ExchangeBody implements RequestBody {
  readonly head: RequestHead;
  readonly body: RequestBody | null;
  readonly decoder: ChunkedDecoder | null;
  readonly deliverFn: (chunk: Buffer) => void;
  /** Bytes of a Content-Length body not yet received. */
  remaining: number;
  bodyDone: boolean;
  sink: BodySink | null = null;
  flowing = false;
  discarding = false;
  continueSent = false;
  drainedBytes = 0;
  headWritten = false;
  finished = false;
  protected readonly conn: Connection;

  constructor(conn: Connection, head: RequestHead) {
    this.conn = conn;
    this.head = head;
    this.remaining = head.framing === "length" ? head.contentLength : 0;
    this.bodyDone = head.framing === "none";
    this.decoder = head.framing === "chunked" ? new ChunkedDecoder(conn.opts.limits) : null;
    this.body = this.bodyDone ? null : this;
    this.deliverFn = this.decoder === null ? noDeliver : (chunk) => this.deliver(chunk);
  }

  get length(): number | null {
    return this.head.framing === "length" ? this.head.contentLength : null;
  }

  start(sink: BodySink): void {
    if (this.finished || this.sink !== null || this.discarding) return;
    if (this.bodyDone) {
      sink.end();
      return;
    }
    this.sink = sink;
    if (this.head.expectContinue && !this.continueSent && !this.headWritten) {
      this.continueSent = true;
      this.conn.writeRaw(CONTINUE_100);
    }
    this.flowing = true;
    this.conn.bodyFlow();
  }

  resume(): void {
    if (this.finished || this.sink === null || this.flowing) return;
    this.flowing = true;
    this.conn.bodyFlow();
  }

  discard(): void {
    if (this.discarding) return;
    this.sink = null;
    this.flowing = false;
    this.discarding = true;
  }

  deliver(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.discarding) {
      this.drainedBytes += chunk.length;
      if (this.drainedBytes > DRAIN_MAX_BYTES) this.conn.drainedTooMuch();
      return;
    }
    if (this.sink !== null && !this.sink.data(chunk)) {
      this.flowing = false;
      this.conn.bodyPaused();
    }
  }

  failBody(err: Error): void {
    const sink = this.sink;
    this.sink = null;
    this.flowing = false;
    sink?.error(err);
  }

  /** Takes body bytes from `buf` at `off`; returns where they end (the connection is told when the body is done). */
  feed(buf: Buffer, off: number): number {
    if (this.decoder === null) {
      const n = Math.min(this.remaining, buf.length - off);
      this.remaining -= n;
      this.deliver(buf.subarray(off, off + n));
      if (this.remaining === 0) this.conn.bodyComplete(this);
      return off + n;
    }
    const end = this.decoder.execute(buf, off, this.deliverFn);
    if (end < 0) return buf.length;
    this.conn.bodyComplete(this);
    return end;
  }

  /** The whole body arrived (bodyDone is set): the sink, if any, is told. */
  endSink(): void {
    const sink = this.sink;
    this.sink = null;
    sink?.end();
  }

  /**
   * The response is complete and the body is not: from now on its bytes are discarded (the app's sink is told).
   */
  startDiscarding(): void {
    const sink = this.sink;
    this.sink = null;
    sink?.error(new Error("the response was sent before the request body was read"));
    this.discarding = true;
    this.flowing = true;
  }

  /**
   * Whether what is left of an unread body makes closing the connection better than draining it: a client that
   * waits for 100-continue sends nothing, and a declared length beyond the drain limit is not worth reading.
   */
  unreadForcesClose(): boolean {
    if (this.bodyDone) return false;
    if (this.head.expectContinue && !this.continueSent) return true;
    return this.decoder === null && this.remaining > DRAIN_MAX_BYTES;
  }
}

function noDeliver(): void {}
