/**
 * A connection's output: responses collected while a batch of received bytes is processed and written in one
 * write, and small head-and-body pairs assembled in one shared scratch buffer. The connection decides what to
 * write and when; this decides how.
 */
import type { Socket } from "node:net";
import type { AsciiText } from "../gateway/exchange.ts";

/** The output state a connection keeps (its own fields: no object of its own per connection). */
export interface Output {
  readonly socket: Socket;
  /**
   * While a batch of received bytes is processed, small responses are collected and leave in one buffer, one
   * write (a pipelined batch of 16 answered by one writev of 16 buffers costs far more than by one write).
   */
  batching: boolean;
  /** Collecting output past the batch, until flushDeferred (answers to pipelined requests that came asynchronously). */
  deferring: boolean;
  /** Collected output: latin1 text not yet written, then (only if bytes were collected too) buffers before it. */
  outText: string;
  out: Buffer[] | null;
  /** A write left more queued than the socket's high-water mark (the send timeout may start). */
  blocked(): void;
  /** Writes what was collected past the batch, unless the connection has gone meanwhile. */
  flushDeferred(): void;
}

// Bodies up to this size are copied next to their head and written with it as one buffer.
const COALESCE_MAX_BYTES = 16 * 1024;
// A response written at once (not collected with a batch) is assembled in this one buffer, shared by every
// connection, when head and body fit: a fresh buffer per response costs an allocation and its collection.
const SCRATCH_BYTES = COALESCE_MAX_BYTES + 8 * 1024;
let scratch: Buffer | null = null;

// The clock read once per batch of received bytes: the timeouts armed and the Date written while the batch is
// processed use it (a batch takes microseconds, unless the app is slow, and then timeouts start a little early).
let batchNow = 0;
// Whether batchNow was read in this turn of the event loop, before its check phase. An async handler that does
// no real I/O answers in the microtasks right after its batch, and a pipelined batch of 16 such answers read the
// clock twice each (Date, then the keep-alive timeout): 43 ns a read here, about 5 % of a pipelined request. In
// the same turn the batch's clock is as good (microseconds old, or as old as the app kept the loop busy since).
let clockThisTurn = false;
const endTurn = (): void => {
  clockThisTurn = false;
};

/**
 * Starts a batch: output is collected (and corked) until `endBatch`. Bytes just read get a fresh clock reading;
 * bytes that `waited` for the answer before them (a pipelined request behind an async answer, taken up in the
 * microtasks after it) keep the clock of this turn's batches if there is one, as that answer did.
 */
export function beginBatch(c: Output, waited = false): void {
  if (!waited || !clockThisTurn) batchNow = Date.now();
  if (!clockThisTurn) {
    clockThisTurn = true;
    setImmediate(endTurn);
  }
  c.socket.cork();
  c.batching = true;
}

/**
 * Ends a batch. With `defer`, the collected output waits for this turn's microtasks (answers to pipelined
 * requests behind one the app answers asynchronously come then) and leaves with theirs (flushDeferred).
 */
export function endBatch(c: Output, defer: boolean): void {
  c.batching = false;
  if (defer && !c.deferring) {
    c.deferring = true;
    deferred.push(c);
    if (deferred.length === 1) setImmediate(flushDeferred);
  }
  if (!c.deferring) flushOut(c);
  c.socket.uncork();
}

/**
 * Now, for timeouts and the Date header: the clock of this turn's latest batch (read while it is processed, and
 * still good in the microtasks after it, where async answers come), else a fresh reading.
 */
export function clockNow(): number {
  return clockThisTurn ? batchNow : Date.now();
}

/** Connections whose output waits for the end of this turn's microtasks (see endBatch). */
const deferred: Output[] = [];

function flushDeferred(): void {
  // A flush can lead to more (a write's callback runs later, not here), so take the list as it is now.
  const list = deferred.splice(0);
  for (const c of list) {
    c.deferring = false;
    c.flushDeferred();
  }
}

/** Forgets what was collected (the connection closed). */
export function dropOut(c: Output): void {
  c.outText = "";
  c.out = null;
}

/** Writes the collected responses in one write: one latin1 string when they are all text, else one buffer. */
export function flushOut(c: Output): void {
  const out = c.out;
  const text = c.outText;
  if (out === null) {
    if (text === "") return;
    c.outText = "";
    if (!c.socket.write(text, "latin1")) c.blocked();
    return;
  }
  c.out = null;
  if (text !== "") {
    c.outText = "";
    out.push(Buffer.from(text, "latin1"));
  }
  if (!c.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))) c.blocked();
}

/** Adds bytes to the collected output, after any text collected before them. */
function collect(c: Output, bytes: Buffer): void {
  const out = (c.out ??= []);
  if (c.outText !== "") {
    out.push(Buffer.from(c.outText, "latin1"));
    c.outText = "";
  }
  out.push(bytes);
}

/** Writes bytes or latin1 text now, after anything collected. False when the socket's buffer is full. */
export function writeRaw(c: Output, data: Uint8Array | string): boolean {
  flushOut(c);
  const ok = typeof data === "string" ? c.socket.write(data, "latin1") : c.socket.write(data);
  if (!ok) c.blocked();
  return ok;
}

/**
 * Writes a serialized response head (latin1) and a whole body (none: null), collected or at once. Kept small so
 * that it is inlined where responses are made: text (the common case) is handled here, bytes in `writeBytes`.
 */
export function writeResponse(c: Output, s: string, body: Uint8Array | AsciiText | null): void {
  if (typeof body === "string") {
    // ASCII text: head and body are one latin1 string, one buffer.
    if (c.batching || c.deferring) c.outText += s + body;
    else if (!c.socket.write(s + body, "latin1")) c.blocked();
  } else if (body !== null && body.length > 0) {
    writeBytes(c, s, body);
  } else if (c.batching || c.deferring) {
    c.outText += s;
  } else if (!c.socket.write(s, "latin1")) {
    c.blocked();
  }
}

function writeBytes(c: Output, s: string, body: Uint8Array): void {
  const socket = c.socket;
  if (body.length <= COALESCE_MAX_BYTES) {
    // One buffer, one write: cheaper than a writev of head and body.
    const n = s.length + body.length;
    if (c.batching || c.deferring) {
      // Kept until the batch is written: a buffer of its own (allocUnsafe takes small ones from a pool).
      collect(c, assemble(Buffer.allocUnsafe(n), s, body));
    } else if (n <= SCRATCH_BYTES) {
      // Written at once: the shared scratch buffer, unless a write still holds it (see below).
      if (!socket.write(assemble((scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES)), s, body).subarray(0, n))) c.blocked();
      // Nothing buffered means the kernel took every byte before write() returned and nobody holds the
      // scratch any more. Otherwise the pending write keeps it and the next response gets a new one.
      if (socket.writableLength !== 0) scratch = null;
    } else if (!socket.write(assemble(Buffer.allocUnsafe(n), s, body))) {
      c.blocked();
    }
  } else {
    flushOut(c);
    socket.cork();
    socket.write(s, "latin1");
    if (!socket.write(body)) c.blocked();
    socket.uncork();
  }
}

/** Puts a response head (latin1) and its body side by side at the start of `out`; returns `out`. */
function assemble(out: Buffer, head: string, body: Uint8Array): Buffer {
  out.latin1Write(head, 0);
  out.set(body, head.length);
  return out;
}
