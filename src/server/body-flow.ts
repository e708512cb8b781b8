/**
 * A request body's flow from the socket to the app: the bytes a Content-Length or chunked body still owes, the
 * app's sink and whether it wants more (backpressure pauses the socket), 100-continue, and discarding a body the
 * app did not read, within the drain limits. The connection feeds bytes in and is told when to read or pause.
 *
 * These are functions of the exchange's body fields (BodyState), not a class of their own: the exchange is one
 * flat object made per request, which V8 builds faster than one of a derived class (measured: ~20 ns a request).
 */
import type { BodySink, RequestBody } from "../gateway/exchange.ts";
import { CONTINUE_100, ChunkedDecoder, type Limits, type RequestHead } from "../http/index.ts";
import { ResponseError } from "../errors.ts";
import { ownBytes } from "../gateway/read-buffer.ts";

// An unread request body is drained after the response, up to this many bytes and this long; past either the
// connection is closed instead, so a kept-alive client never waits on a body nobody reads.
export const DRAIN_MAX_BYTES = 256 * 1024;
export const DRAIN_MAX_MS = 5_000;

/** What the body flow tells the connection. */
export interface BodyHost {
  writeRaw(data: string): boolean;
  /** The app starts or resumes reading: read from the socket (the body timeout runs). */
  bodyFlow(): void;
  /** The app's sink is full: stop reading. */
  bodyPaused(): void;
  drainedTooMuch(): void;
  bodyComplete(ex: BodyState): void;
}

/** The request-body fields of an exchange. */
export interface BodyState extends RequestBody {
  readonly head: RequestHead;
  readonly decoder: ChunkedDecoder | null;
  readonly deliverFn: (chunk: Buffer) => void;
  /** Bytes of a Content-Length body not yet received. */
  remaining: number;
  bodyDone: boolean;
  sink: BodySink | null;
  flowing: boolean;
  discarding: boolean;
  continueSent: boolean;
  drainedBytes: number;
  headWritten: boolean;
  finished: boolean;
  readonly conn: BodyHost;
  deliver(chunk: Buffer): void;
}

/** The chunked decoder a request's body needs, or null (a Content-Length body, or none). */
export function decoderFor(head: RequestHead, limits: Limits): ChunkedDecoder | null {
  return head.framing === "chunked" ? new ChunkedDecoder(limits) : null;
}

export function startBody(b: BodyState, sink: BodySink): void {
  if (b.finished || b.sink !== null || b.discarding) return;
  if (b.bodyDone) {
    sink.end();
    return;
  }
  b.sink = sink;
  if (b.head.expectContinue && !b.continueSent && !b.headWritten) {
    b.continueSent = true;
    b.conn.writeRaw(CONTINUE_100);
  }
  b.flowing = true;
  b.conn.bodyFlow();
}

export function resumeBody(b: BodyState): void {
  if (b.finished || b.sink === null || b.flowing) return;
  b.flowing = true;
  b.conn.bodyFlow();
}

export function discardBody(b: BodyState): void {
  if (b.discarding) return;
  b.sink = null;
  b.flowing = false;
  b.discarding = true;
}

/** Hands received body bytes to the app's sink, or counts them when the body is discarded. */
export function deliverBody(b: BodyState, chunk: Buffer): void {
  if (chunk.length === 0) return;
  if (b.discarding) {
    b.drainedBytes += chunk.length;
    if (b.drainedBytes > DRAIN_MAX_BYTES) b.conn.drainedTooMuch();
    return;
  }
  // A copy if the chunk is a view of the shared read buffer: the app may keep it (see Connection).
  if (b.sink !== null && !b.sink.data(ownBytes(chunk))) {
    b.flowing = false;
    b.conn.bodyPaused();
  }
}

export function failBody(b: BodyState, err: Error): void {
  const sink = b.sink;
  b.sink = null;
  b.flowing = false;
  sink?.error(err);
}

/** Takes body bytes from `buf` at `off`; returns where they end (the connection is told when the body is done). */
export function feedBody(b: BodyState, buf: Buffer, off: number): number {
  if (b.decoder === null) {
    const n = Math.min(b.remaining, buf.length - off);
    b.remaining -= n;
    b.deliver(buf.subarray(off, off + n));
    if (b.remaining === 0) b.conn.bodyComplete(b);
    return off + n;
  }
  const end = b.decoder.execute(buf, off, b.deliverFn);
  if (end < 0) return buf.length;
  b.conn.bodyComplete(b);
  return end;
}

/** The whole body arrived (bodyDone is set): the sink, if any, is told. */
export function endSink(b: BodyState): void {
  const sink = b.sink;
  b.sink = null;
  sink?.end();
}

/** The response is complete and the body is not: from now on its bytes are discarded (the app's sink is told). */
export function startDiscarding(b: BodyState): void {
  const sink = b.sink;
  b.sink = null;
  sink?.error(new ResponseError("ORYX_ERR_BODY_UNREAD", "the response was sent before the request body was read"));
  b.discarding = true;
  b.flowing = true;
}

/**
 * Whether what is left of an unread body makes closing the connection better than draining it: a client that
 * waits for 100-continue sends nothing, and a declared length beyond the drain limit is not worth reading.
 */
export function unreadForcesClose(b: BodyState): boolean {
  if (b.bodyDone) return false;
  if (b.head.expectContinue && !b.continueSent) return true;
  return b.decoder === null && b.remaining > DRAIN_MAX_BYTES;
}
