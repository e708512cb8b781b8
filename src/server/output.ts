/**
 * A connection's output: whole responses are collected and leave in one write per connection and turn of the
 * event loop. Those made while a batch of received bytes is processed leave when it ends; those that come later
 * (an async handler's answer, in the microtasks after its batch or from a timer or real I/O) leave together at
 * the end of the turn, every connection's in a row. Small heads and bodies are assembled in one shared scratch
 * buffer. The connection decides what to write and when; this decides how.
 *
 * Why the end of the turn: on a busy server most answers are async (every `async fetch`), and writing each the
 * moment it is made interleaves the writes with the reads and parsing of the other connections ready in the
 * same turn. Written back to back, the client gets them in a burst and sends its next requests in one. Measured
 * against writing each at once (server CPU per request, 50 connections, medians of alternating rounds): the user
 * app's GET / 8.79 → 8.29 µs (p50 latency about 400 → 290 µs), its 4 KiB echo 11.90 → 10.51 µs, the
 * production Hono app 21.1 → 17.6 µs.
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
  /** Collecting output past the batch, until flushDeferred at the end of the turn (answers that came asynchronously). */
  deferring: boolean;
  /**
   * Collected output: latin1 text not yet written, after (only if bytes were collected too) the pieces before
   * it, text and bytes in order. Bytes are the app's, not copied: they are copied once, when written.
   */
  outText: string;
  out: Array<string | Uint8Array> | null;
  /** A write left more queued than the socket's high-water mark (the send timeout may start). */
  blocked(): void;
  /** Writes what was collected past the batch, unless the connection has gone meanwhile. */
  flushDeferred(): void;
}

// Bodies up to this size are copied next to their head and written with it as one buffer.
const COALESCE_MAX_BYTES = 16 * 1024;
// Collected output with bytes in it is assembled in this one buffer, shared by every connection, when it fits:
// a fresh buffer per write costs an allocation and its collection.
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
 * Ends a batch. With `defer`, the collected output waits for the end of the turn (answers to pipelined requests
 * behind one the app answers asynchronously come in its microtasks) and leaves with theirs (flushDeferred).
 */
export function endBatch(c: Output, defer: boolean): void {
  c.batching = false;
  if (defer) deferOut(c);
  if (!c.deferring) flushOut(c);
  c.socket.uncork();
}

/**
 * From now until the end of this turn, the connection's whole responses are collected (see the top), unless a
 * batch is collecting them already (its end writes them).
 */
function deferOut(c: Output): void {
  if (c.deferring || c.batching) return;
  c.deferring = true;
  deferred.push(c);
  if (deferred.length === 1) setImmediate(flushDeferred);
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

/**
 * Writes the collected responses in one write: one latin1 string when they are all text, else one buffer (the
 * shared scratch buffer when they fit in it).
 */
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
    out.push(text);
  }
  let n = 0;
  for (const piece of out) n += piece.length;
  const socket = c.socket;
  // A corked socket (a batch ends) keeps what is written until it is uncorked: not the scratch, then.
  const small = n <= SCRATCH_BYTES && socket.writableCorked === 0;
  const buf = small ? (scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES)) : Buffer.allocUnsafe(n);
  let at = 0;
  for (const piece of out) {
    if (typeof piece === "string") at += buf.latin1Write(piece, at);
    else {
      buf.set(piece, at);
      at += piece.length;
    }
  }
  if (!socket.write(small ? buf.subarray(0, n) : buf)) c.blocked();
  // Nothing queued means the kernel took every byte before write() returned and nobody holds the scratch any
  // more. Otherwise the pending write keeps it and the next flush gets a new one.
  if (small && socket.writableLength !== 0) scratch = null;
}

/** Adds a head (latin1) and its body to the collected output, after what was collected before them. */
function collect(c: Output, head: string, body: Uint8Array): void {
  const out = (c.out ??= []);
  if (c.outText !== "") {
    out.push(c.outText + head);
    c.outText = "";
  } else {
    out.push(head);
  }
  out.push(body);
}

/** Writes bytes or latin1 text now, after anything collected. False when the socket's buffer is full. */
export function writeRaw(c: Output, data: Uint8Array | string): boolean {
  flushOut(c);
  const ok = typeof data === "string" ? c.socket.write(data, "latin1") : c.socket.write(data);
  if (!ok) c.blocked();
  return ok;
}

/**
 * Collects a serialized response head (latin1) and a whole body (none: null): written when the batch ends, else
 * at the end of the turn (see the top); a body too large to copy goes out at once, after what was collected. Kept
 * small so that it is inlined where responses are made: text (the common case) is handled here, bytes in
 * `writeBytes`.
 */
export function writeResponse(c: Output, s: string, body: Uint8Array | AsciiText | null): void {
  if (typeof body === "string") {
    // ASCII text: head and body are one latin1 string, one buffer.
    deferOut(c);
    c.outText += s + body;
  } else if (body !== null && body.length > 0) {
    writeBytes(c, s, body);
  } else {
    deferOut(c);
    c.outText += s;
  }
}

function writeBytes(c: Output, s: string, body: Uint8Array): void {
  if (body.length > COALESCE_MAX_BYTES) {
    writeLarge(c, s, body);
    return;
  }
  // Head and body leave as one buffer, one write: cheaper than a writev of the two.
  deferOut(c);
  collect(c, s, body);
}

/** A body too large to be worth copying next to its head: after what was collected, head and body as they are. */
function writeLarge(c: Output, s: string, body: Uint8Array): void {
  const socket = c.socket;
  flushOut(c);
  socket.cork();
  socket.write(s, "latin1");
  if (!socket.write(body)) c.blocked();
  socket.uncork();
}
