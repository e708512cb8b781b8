import type { Socket } from "node:net";
import type { AccessRecord, AsciiText, BodySink, Exchange, RequestBody, RequestHandler } from "../gateway/exchange.ts";
import {
  CONTINUE_100,
  ChunkedDecoder,
  HeadParser,
  HttpError,
  LAST_CHUNK,
  chunkHeader,
  httpDate,
  serializeHead,
  simpleResponse,
  statusForbidsBody,
  type Limits,
  type RequestHead,
  type ResponseFraming,
} from "../http/index.ts";
import { ConnectionInfo } from "../gateway/info.ts";
import type { Logger } from "../log.ts";
import { readForwarded } from "./forwarded.ts";
import type { WsContext } from "../ws/context.ts";
import type { UpgradeHost, Upgraded } from "../ws/endpoint.ts";
import type { TrustedPeers } from "./trust.ts";

export interface ConnectionOptions {
  limits: Limits;
  /** Longest wait for a complete request head, from its first byte (or from accept for the first request). */
  headerTimeoutMs: number;
  /** Longest idle wait between requests on a kept-alive connection. */
  keepAliveTimeoutMs: number;
  /** Longest a request body may stall: no byte while oryx is reading it. */
  bodyTimeoutMs: number;
  /**
   * Longest a response may wait for the client to read (no write progress: the kernel took none of what is queued);
   * then the connection is destroyed. 0: no limit.
   */
  sendTimeoutMs?: number;
  /** Server header value, or "" for none. */
  serverHeader: string;
  handler: RequestHandler;
  log: Logger;
  /** Called once per completed or abandoned response, only when an access log is configured. */
  onAccess: ((record: AccessRecord) => void) | null;
  /** Called once per request head handed to the app (a worker counts them for --max-requests). */
  onRequest?: () => void;
  /** What WebSockets on these connections share (the app's handlers, limits); none: upgrades are refused. */
  websocket?: WsContext;
}

export type { AccessRecord };

/** How connections reach oryx through one listener: over TLS or not, TCP or Unix, and who is trusted as a proxy. */
export interface Origin {
  secure: boolean;
  transport: "tcp" | "unix";
  /** The peers whose forwarding headers count (--forwarded-allow-ips), or null when none are. */
  trustedPeers: TrustedPeers | null;
}

const PLAIN: Origin = { secure: false, transport: "tcp", trustedPeers: null };

const enum Trust {
  Unknown,
  Yes,
  No,
}

const OWNER = Symbol("oryx.connection");
type OwnedSocket = Socket & { [OWNER]: Connection };
type QueueTimer = NodeJS.Timeout & { [OWNER]: TimeoutQueue };

/**
 * The armed timeouts of every connection with one duration, in the order they were armed. All were armed with
 * the same duration, so that is deadline order, and one Node timer (for the head) serves the whole queue: an idle
 * connection holds no timer object of its own (a Node Timeout was about 150 bytes per idle connection). Entries
 * leave the queue when disarmed; the queue's timer is left to fire and re-aims at the new head. (A wall clock
 * set back makes deadlines armed afterwards earlier than older ones: those fire late, by at most the jump.)
 */
class TimeoutQueue {
  head: Connection | null = null;
  tail: Connection | null = null;
  timer: QueueTimer | null = null;
}

/** One queue per duration in ms: a server has a handful (header, keep-alive, body, drain, linger). */
const timeoutQueues = new Map<number, TimeoutQueue>();

function timeoutQueue(ms: number): TimeoutQueue {
  let q = timeoutQueues.get(ms);
  if (q === undefined) {
    q = new TimeoutQueue();
    timeoutQueues.set(ms, q);
  }
  return q;
}
// Deadlines are kept in ms since this module loaded: small integers that V8 stores in the object itself, where
// a Date.now() value would be a separate 16-byte number per field per connection (for the first 12 days).
const EPOCH = Date.now();

// An unread request body is drained after the response, up to this many bytes and this long; past either the
// connection is closed instead, so a kept-alive client never waits on a body nobody reads.
export const DRAIN_MAX_BYTES = 256 * 1024;
export const DRAIN_MAX_MS = 5_000;
// After a refusal or a `Connection: close` response, oryx half-closes and keeps discarding what the client still
// sends for up to this long once its last byte has left, so the client reads the answer instead of a reset
// (lingering close, as nginx does).
export const LINGER_MS = 2_000;
// When a server stops, a kept-alive connection idle between requests gets this long (from its last response) for
// a request that may already be on its way, which is then served with `Connection: close`: a client sending back
// to back always has one in flight when the stop comes. One idle longer than this closes at once, with care.
export const IDLE_GRACE_MS = 500;
// A connection must have waited this long for its head (or idle between requests) before it may be closed to make
// room for a new one at --worker-connections: a client sends a head in one round trip, a slowloris never finishes.
export const EVICT_AFTER_MS = 1_000;
// Bodies up to this size are copied next to their head and written with it as one buffer.
const COALESCE_MAX_BYTES = 16 * 1024;
// A response written at once (not collected with a batch) is assembled in this one buffer, shared by every
// connection, when head and body fit: a fresh buffer per response costs an allocation and its collection.
const SCRATCH_BYTES = COALESCE_MAX_BYTES + 8 * 1024;
let scratch: Buffer | null = null;

// The clock read once per batch of received bytes: the timeouts armed and the Date written while the batch is
// processed use it (a batch takes microseconds, unless the app is slow, and then timeouts start a little early).
let batchNow = 0;

const enum Phase {
  /** Between requests: nothing of the next head received yet. */
  Idle,
  /** Part of a request head received. */
  Head,
  /** A request was handed to the app; its body may still be arriving; its response is being made. */
  Active,
  /** The response is complete; an unread body is being discarded before the next request. */
  Draining,
  /** Half-closed by oryx; discarding input until the client closes or the linger time ends. */
  Closing,
  Closed,
  /** Switched to WebSocket: the socket's bytes go to `upgraded`, not to the HTTP parser. */
  Upgraded,
}

const enum Timer {
  None,
  Header,
  KeepAlive,
  Body,
  Drain,
  Linger,
  /** Output is waiting for the client to read it (--send-timeout). */
  Send,
  /** Shutting down: a kept-alive connection's last wait for a request already on its way (IDLE_GRACE_MS). */
  Grace,
  /** Not a queued timeout: a close of a connection that looked idle, carried out after the next read (closeIdle). */
  IdleCheck,
  /** An upgraded connection's WebSocket timeout (idle, or the closing handshake's wait). */
  WebSocket,
}

/** Connections whose output waits for the end of this turn's microtasks (see processBatch). */
const deferred: Connection[] = [];

function flushDeferred(): void {
  // A flush can lead to more (a write's callback runs later, not here), so take the list as it is now.
  const list = deferred.splice(0);
  for (const conn of list) Connection.flushDeferred(conn);
}

/** Where each connection with a send timeout armed stood when it was armed (see `sentMark`); none for the others. */
const sendMarks = new WeakMap<Connection, number>();

type Internals = { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null; _parent?: Socket | null };

/**
 * How far a socket's output has got: bytes handed to libuv minus those libuv still holds, so it grows exactly by
 * what the kernel accepted. (Node's own `bufferSize` getter reads the same writeQueueSize.) A TLS socket adds its
 * underlying TCP socket's, where the encrypted bytes wait.
 */
function sentMark(socket: Socket): number {
  const s = socket as unknown as Internals;
  let mark = (s._bytesDispatched ?? 0) - (s._handle?.writeQueueSize ?? 0);
  const parent = s._parent;
  if (parent !== undefined && parent !== null) {
    const p = parent as unknown as Internals;
    mark += (p._bytesDispatched ?? 0) - (p._handle?.writeQueueSize ?? 0);
  }
  return mark;
}

/**
 * One client connection: a small state machine from accept to close.
 * reading head → (reading body ‖ app making the response) → writing → keep-alive → reading head …
 *
 * Requests on a connection are handled one at a time, in order. Bytes of pipelined requests that arrive early
 * wait in `pending` with the socket paused, which is also how an app that does not read its body stops reads
 * from the socket. Responses written while one batch of received bytes is processed leave in one write (cork).
 */
export class Connection implements UpgradeHost {
  readonly socket: Socket;
  /** The connection's facts: given at accept (PROXY header, Unix socket), else read from the socket when first asked. */
  private known: ConnectionInfo | null;
  readonly opts: ConnectionOptions;
  readonly origin: Origin;
  private readonly parser: HeadParser;
  private phase = Phase.Idle;
  private pending: Buffer | null = null;
  private inProcess = false;
  private clientEnded = false;
  private shuttingDown = false;
  private timerKind = Timer.None;
  /** When the armed timeout (`timerKind`) expires, in ms since EPOCH. */
  private deadline = 0;
  /** The queue of armed timeouts this connection is in (see `arm`), and its neighbours there. */
  private timeouts: TimeoutQueue | null = null;
  private timeoutPrev: Connection | null = null;
  private timeoutNext: Connection | null = null;
  private drainWaiters: Array<() => void> | null = null;
  /**
   * While a batch of received bytes is processed, small responses are collected here and leave in one buffer,
   * one write (a pipelined batch of 16 answered by one writev of 16 buffers costs far more than by one write).
   */
  private batching = false;
  /** Collecting output past the batch, until flushDeferred (answers to pipelined requests that came asynchronously). */
  private deferring = false;
  /** Collected output: latin1 text not yet written, then (only if bytes were collected too) buffers before it. */
  private outText = "";
  private out: Buffer[] | null = null;
  /** The exchange in progress, if any. */
  ex: ConnExchange | null = null;
  /** Requests served on this connection. */
  requests = 0;
  /** The WebSocket this connection was switched to, if it was. */
  upgraded: Upgraded | null = null;
  /** Told when the connection has closed (the server, which counts its connections). */
  owner: { connectionClosed(conn: Connection): void } | null = null;

  /** Whether the peer is a trusted proxy: known at accept (PROXY protocol), else found out when first needed. */
  private peerTrust: Trust;

  constructor(socket: Socket, info: ConnectionInfo | null, opts: ConnectionOptions, origin: Origin = PLAIN, trusted: boolean | null = null) {
    this.socket = socket;
    this.known = info;
    this.opts = opts;
    this.origin = origin;
    this.peerTrust = trusted === null ? Trust.Unknown : trusted ? Trust.Yes : Trust.No;
    this.parser = new HeadParser(opts.limits);
    // Listeners shared by every connection (they find theirs on the socket): no closures per connection, which
    // matters when thousands sit idle.
    (socket as OwnedSocket)[OWNER] = this;
    socket.on("data", Connection.onSocketData);
    socket.on("end", Connection.onSocketEnd);
    socket.on("close", Connection.onSocketClose);
    socket.on("error", Connection.onSocketError);
    socket.on("drain", Connection.onSocketDrain);
    this.arm(Timer.Header, opts.headerTimeoutMs);
  }

  /** Made when a request first needs it; it reads the addresses only when asked (see ConnectionInfo). */
  get info(): ConnectionInfo {
    return (this.known ??= ConnectionInfo.ofSocket(this.socket));
  }

  private static onSocketData(this: Socket, chunk: Buffer): void {
    (this as OwnedSocket)[OWNER].onData(chunk);
  }

  private static onSocketEnd(this: Socket): void {
    (this as OwnedSocket)[OWNER].onEnd();
  }

  private static onSocketClose(this: Socket): void {
    (this as OwnedSocket)[OWNER].onClose();
  }

  private static onSocketError(this: Socket, err: NodeJS.ErrnoException): void {
    // Resets and broken pipes are a client's right; 'close' follows and cleans up.
    if (err.code !== "ECONNRESET" && err.code !== "EPIPE") (this as OwnedSocket)[OWNER].opts.log.debug(`connection error: ${err.message}`);
  }

  private static onSocketDrain(this: Socket): void {
    (this as OwnedSocket)[OWNER].onDrain();
  }

  /**
   * Graceful shutdown: every response from now on carries `Connection: close`, and the connection closes after it.
   * A kept-alive connection idle between requests is not simply closed: the last response let its client keep
   * it, so a request may be on its way (a client sending back to back always has one), and closing now would lose
   * it, or answer it with a reset. It waits until IDLE_GRACE_MS after its last response; a request that comes is
   * served with `Connection: close`; then it closes with care (`closeIdle`). A connection that has not yet sent
   * its first request was accepted to be served: its request is read (within the header timeout) and answered
   * the same way.
   */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.phase !== Phase.Idle || this.requests === 0 || this.timerKind !== Timer.KeepAlive) return;
    const idleFor = Date.now() - EPOCH - (this.deadline - this.opts.keepAliveTimeoutMs);
    if (idleFor >= IDLE_GRACE_MS) this.closeIdle();
    // What is left of the grace, in steps of 50 ms: one timeout queue per duration, so a handful of queues.
    else this.arm(Timer.Grace, Math.ceil((IDLE_GRACE_MS - idleFor) / 50) * 50);
  }

  /** True when the peer is one of --forwarded-allow-ips (asked of the socket once, and only if it matters). */
  trustsPeer(): boolean {
    if (this.peerTrust === Trust.Unknown) {
      const peers = this.origin.trustedPeers;
      const yes = peers !== null && !peers.none && peers.allows(this.socket.remoteAddress ?? "", this.origin.transport);
      this.peerTrust = yes ? Trust.Yes : Trust.No;
    }
    return this.peerTrust === Trust.Yes;
  }

  get idle(): boolean {
    return this.phase === Phase.Idle || this.phase === Phase.Closed;
  }

  // ─── input ────────────────────────────────────────────────────────────────────────────────────────────────

  private onData(chunk: Buffer): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Closed) return; // lingering: discard
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    this.processBatch(buf);
  }

  /** Processes received bytes with their responses collected and written together (see `out`). */
  private processBatch(buf: Buffer): void {
    batchNow = Date.now();
    this.socket.cork();
    this.batching = true;
    this.process(buf, 0);
    this.batching = false;
    // Pipelined requests wait behind one the app answers asynchronously (an async handler): its answer and
    // theirs come in microtasks after this returns. They are collected too and leave together once the
    // microtasks are done (flushDeferred), not in one write each.
    if (this.pending !== null && this.phase === Phase.Active && !this.deferring) {
      this.deferring = true;
      deferred.push(this);
      if (deferred.length === 1) setImmediate(flushDeferred);
    }
    if (!this.deferring) this.flushOut();
    this.socket.uncork();
  }

  /** Writes what was collected while answers to pipelined requests came asynchronously (see processBatch). */
  static flushDeferred(conn: Connection): void {
    conn.deferring = false;
    if (conn.phase === Phase.Closed) {
      conn.outText = "";
      conn.out = null;
      return;
    }
    conn.flushOut();
  }

  /** Writes the collected responses in one write: one latin1 string when they are all text, else one buffer. */
  private flushOut(): void {
    const out = this.out;
    const text = this.outText;
    if (out === null) {
      if (text === "") return;
      this.outText = "";
      if (!this.socket.write(text, "latin1")) this.blocked();
      return;
    }
    this.out = null;
    if (text !== "") {
      this.outText = "";
      out.push(Buffer.from(text, "latin1"));
    }
    if (!this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))) this.blocked();
  }

  /** Adds bytes to the collected output, after any text collected before them. */
  private collect(bytes: Buffer): void {
    const out = (this.out ??= []);
    if (this.outText !== "") {
      out.push(Buffer.from(this.outText, "latin1"));
      this.outText = "";
    }
    out.push(bytes);
  }

  /** Processes received bytes until they are used up or the connection must wait (app, backpressure). */
  private process(buf: Buffer, start: number): void {
    let off = start;
    this.inProcess = true;
    try {
      while (off < buf.length) {
        const phase = this.phase;
        if (phase === Phase.Idle || phase === Phase.Head) {
          if (phase === Phase.Idle) {
            this.phase = Phase.Head;
            if (this.timerKind !== Timer.Header) this.arm(Timer.Header, this.opts.headerTimeoutMs);
          }
          const end = this.parser.execute(buf, off);
          if (end < 0) return;
          off = end;
          const head = this.parser.finish(this.opts.limits.body);
          this.startExchange(head);
        } else if (phase === Phase.Active || phase === Phase.Draining) {
          const ex = this.ex!;
          if (ex.bodyDone || !ex.flowing) {
            this.stash(buf, off);
            return;
          }
          off = this.feedBody(ex, buf, off);
        } else {
          // Upgraded by the request just handed over: what follows its head is the WebSocket's.
          if (phase === Phase.Upgraded && off < buf.length) this.upgraded!.wsData(off === 0 ? buf : buf.subarray(off));
          return;
        }
      }
    } catch (err) {
      if (err instanceof HttpError) this.refuse(err);
      else this.internalError(err);
    } finally {
      this.inProcess = false;
    }
  }

  /** Keeps unprocessed bytes for later and stops reading until they can be used. */
  private stash(buf: Buffer, off: number): void {
    this.pending = off === 0 ? buf : buf.subarray(off);
    this.socket.pause();
  }

  /** Restarts input after a wait: first the bytes kept aside, then the socket. */
  private resumeInput(): void {
    if (this.inProcess || this.phase === Phase.Closing || this.phase === Phase.Closed) return;
    if (this.pending !== null) {
      const buf = this.pending;
      this.pending = null;
      this.processBatch(buf);
      if (this.pending !== null) return; // still waiting
    }
    // process() may have moved the phase on.
    const phase = this.phase as Phase;
    if (phase === Phase.Active && (this.ex!.bodyDone || !this.ex!.flowing)) return;
    if (phase === Phase.Closing || phase === Phase.Closed) return;
    this.socket.resume();
  }

  private feedBody(ex: ConnExchange, buf: Buffer, off: number): number {
    if (this.timerKind === Timer.Body) this.arm(Timer.Body, this.opts.bodyTimeoutMs);
    if (ex.decoder === null) {
      const n = Math.min(ex.remaining, buf.length - off);
      ex.remaining -= n;
      ex.deliver(buf.subarray(off, off + n));
      if (ex.remaining === 0) this.bodyComplete(ex);
      return off + n;
    }
    const end = ex.decoder.execute(buf, off, ex.deliverFn);
    if (end < 0) return buf.length;
    this.bodyComplete(ex);
    return end;
  }

  private bodyComplete(ex: ConnExchange): void {
    ex.bodyDone = true;
    if (this.timerKind === Timer.Body || this.timerKind === Timer.Drain) this.armOutput();
    const sink = ex.sink;
    ex.sink = null;
    sink?.end();
    if (this.phase === Phase.Draining) this.nextRequest();
  }

  private onEnd(): void {
    this.clientEnded = true;
    switch (this.phase) {
      case Phase.Idle:
      case Phase.Head:
      case Phase.Draining:
      case Phase.Closing:
        this.socket.destroy();
        return;
      case Phase.Active: {
        // A client's FIN before its response is complete almost always means it left (as Node's http server
        // takes it too): the app's signal aborts. The response is still written, for the rare client that
        // half-closes and waits; the connection closes after it.
        const ex = this.ex!;
        const reason = new Error("the client closed the connection before the response was complete");
        if (!ex.bodyDone) ex.failBody(reason);
        if (!ex.finished) ex.abort(reason);
        return;
      }
    }
  }

  private onClose(): void {
    if (this.upgraded !== null) {
      this.phase = Phase.Closed;
      this.arm(Timer.None, 0);
      this.upgraded.wsClosed();
      this.owner?.connectionClosed(this);
      return;
    }
    const wasActive = this.phase === Phase.Active;
    this.phase = Phase.Closed;
    this.arm(Timer.None, 0);
    this.pending = null;
    const ex = this.ex;
    if (ex !== null && !ex.finished) {
      ex.finished = true;
      const reason = new Error(wasActive ? "the client closed the connection before the response was complete" : "connection closed");
      ex.failBody(reason);
      ex.abort(reason);
      this.logAccess(ex);
    }
    this.ex = null;
    this.onDrain();
    this.owner?.connectionClosed(this);
  }

  private onDrain(): void {
    if (this.timerKind === Timer.Send && this.phase !== Phase.Closing) this.sendDone();
    const waiters = this.drainWaiters;
    if (waiters === null) return;
    this.drainWaiters = null;
    for (const w of waiters) w();
  }

  waitDrain(): Promise<void> {
    if (this.phase === Phase.Closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  // ─── exchanges ────────────────────────────────────────────────────────────────────────────────────────────

  private startExchange(head: RequestHead): void {
    this.arm(Timer.None, 0);
    this.requests++;
    this.opts.onRequest?.();
    const ex = new ConnExchange(this, head);
    this.ex = ex;
    this.phase = Phase.Active;
    try {
      this.opts.handler(ex);
    } catch (err) {
      this.opts.log.error("the gateway failed on a request", err);
      ex.fail(500, true);
    }
  }

  /** Writes a response head (and a whole body, if given) and decides whether the connection stays open. */
  writeHead(ex: ConnExchange, status: number, reason: string, headers: string[], framing: ResponseFraming, length: number, body: Uint8Array | AsciiText | null): void {
    const head = ex.head;
    let close = !head.keepAlive || this.shuttingDown || this.clientEnded || framing === "close" || this.opts.keepAliveTimeoutMs === 0;
    if (!close && ex.appSaysClose) close = true;
    if (!close && !ex.bodyDone) {
      // The body was not read (or not all of it): drain it after the response if it is small, else close.
      if (head.expectContinue && !ex.continueSent) close = true;
      else if (ex.decoder === null && ex.remaining > DRAIN_MAX_BYTES) close = true;
    }
    ex.keepAlive = !close;
    ex.status = status;
    const s = serializeHead({
      status,
      reason,
      headers,
      framing,
      contentLength: length,
      close,
      keepAlive10: !close && head.versionMinor === 0,
      server: this.opts.serverHeader,
      hasDate: ex.appHasDate,
      date: ex.appHasDate ? "" : httpDate(this.batching ? batchNow : Date.now()),
    });
    const socket = this.socket;
    if (typeof body === "string") {
      // ASCII text: head and body are one latin1 string, one buffer.
      ex.bytes += body.length;
      if (this.batching || this.deferring) this.outText += s + body;
      else if (!socket.write(s + body, "latin1")) this.blocked();
    } else if (body !== null && body.length > 0) {
      ex.bytes += body.length;
      if (body.length <= COALESCE_MAX_BYTES) {
        // One buffer, one write: cheaper than a writev of head and body.
        const n = s.length + body.length;
        if (this.batching || this.deferring) {
          // Kept until the batch is written: a buffer of its own (allocUnsafe takes small ones from a pool).
          this.collect(assemble(Buffer.allocUnsafe(n), s, body));
        } else if (n <= SCRATCH_BYTES) {
          // Written at once: the shared scratch buffer, unless a write still holds it (see below).
          if (!socket.write(assemble((scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES)), s, body).subarray(0, n))) this.blocked();
          // Nothing buffered means the kernel took every byte before write() returned and nobody holds the
          // scratch any more. Otherwise the pending write keeps it and the next response gets a new one.
          if (socket.writableLength !== 0) scratch = null;
        } else if (!socket.write(assemble(Buffer.allocUnsafe(n), s, body))) {
          this.blocked();
        }
      } else {
        this.flushOut();
        socket.cork();
        socket.write(s, "latin1");
        if (!socket.write(body)) this.blocked();
        socket.uncork();
      }
    } else if (this.batching || this.deferring) {
      this.outText += s;
    } else if (!socket.write(s, "latin1")) {
      this.blocked();
    }
  }

  writeRaw(data: Uint8Array | string): boolean {
    this.flushOut();
    const ok = typeof data === "string" ? this.socket.write(data, "latin1") : this.socket.write(data);
    if (!ok) this.blocked();
    return ok;
  }

  // ─── the send timeout ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * A write left more queued than the socket's high-water mark: the client may have stopped reading. The send
   * timeout starts, unless it runs already (its deadline is not pushed back by more writes); 'drain' ends it.
   */
  private blocked(): void {
    if (this.timerKind === Timer.Send || this.phase === Phase.Closed) return;
    if ((this.opts.sendTimeoutMs ?? 0) > 0) this.armSend();
  }

  private armSend(): void {
    sendMarks.set(this, sentMark(this.socket));
    this.arm(Timer.Send, this.opts.sendTimeoutMs!);
  }

  /** Output is flowing again (or gone): the timeout the phase has without pending output. */
  private sendDone(): void {
    switch (this.phase) {
      case Phase.Active: {
        const ex = this.ex;
        if (ex !== null && !ex.bodyDone && ex.flowing) this.arm(Timer.Body, this.opts.bodyTimeoutMs);
        else this.arm(Timer.None, 0);
        return;
      }
      case Phase.Draining:
        this.arm(Timer.Drain, DRAIN_MAX_MS);
        return;
      case Phase.Idle:
        if (this.shuttingDown) this.arm(Timer.Grace, IDLE_GRACE_MS);
        else this.arm(Timer.KeepAlive, this.opts.keepAliveTimeoutMs);
        return;
      case Phase.Head:
        this.arm(Timer.Header, this.opts.headerTimeoutMs);
        return;
      default:
        return;
    }
  }

  /** The body's timeout ended (read, or paused by the app): the send timeout if output is waiting, else none. */
  private armOutput(): void {
    if (this.socket.writableNeedDrain && (this.opts.sendTimeoutMs ?? 0) > 0) this.armSend();
    else this.arm(Timer.None, 0);
  }

  /** The send timeout passed: if the kernel took any of the output meanwhile, wait again; else the client is gone. */
  private sendExpired(): void {
    const socket = this.socket;
    const mark = sentMark(socket);
    if (mark !== sendMarks.get(this)) {
      this.armSend();
      return;
    }
    const waiting = socket.writableLength + ((socket as unknown as Internals)._handle?.writeQueueSize ?? 0);
    if (waiting === 0 && this.phase !== Phase.Closing) {
      this.sendDone();
      return;
    }
    this.opts.log.debug(`closing a connection: its client read nothing of the response for ${this.opts.sendTimeoutMs! / 1000}s (--send-timeout)`);
    socket.destroy();
  }

  /** The response is complete: log it, then drain, close, or go on to the next request. */
  finishExchange(ex: ConnExchange): void {
    if (ex.finished) return;
    ex.finished = true;
    this.logAccess(ex);
    if (this.phase === Phase.Closed) return;
    if (!ex.keepAlive) {
      this.closeGracefully();
      return;
    }
    if (!ex.bodyDone) {
      const sink = ex.sink;
      ex.sink = null;
      sink?.error(new Error("the response was sent before the request body was read"));
      ex.discarding = true;
      ex.flowing = true;
      this.phase = Phase.Draining;
      this.arm(Timer.Drain, DRAIN_MAX_MS);
      this.resumeInput();
      return;
    }
    this.nextRequest();
  }

  private nextRequest(): void {
    this.ex = null;
    this.parser.reset();
    this.phase = Phase.Idle;
    // Also when shutting down: the response just sent let the client keep the connection, so its next request
    // may already be on its way. It is served, with `Connection: close` (see `shutdown`).
    if (this.shuttingDown) this.arm(Timer.Grace, IDLE_GRACE_MS);
    else this.arm(Timer.KeepAlive, this.opts.keepAliveTimeoutMs);
    if (!this.inProcess) this.resumeInput();
  }

  /** Called by the exchange when the app starts or resumes reading the body. */
  bodyFlow(): void {
    if (this.phase !== Phase.Active) return;
    if (this.timerKind !== Timer.Body) this.arm(Timer.Body, this.opts.bodyTimeoutMs);
    this.resumeInput();
  }

  /** Called by the exchange when the app's body stream is full. */
  bodyPaused(): void {
    if (this.timerKind === Timer.Body) this.armOutput();
  }

  drainedTooMuch(): void {
    this.opts.log.debug("closing a connection: the unread request body is larger than the drain limit");
    this.closeGracefully();
  }

  private logAccess(ex: ConnExchange): void {
    const onAccess = this.opts.onAccess;
    if (onAccess === null) return;
    onAccess({
      info: ex.info,
      head: ex.head,
      status: ex.status,
      bytes: ex.bytes,
      startedAt: ex.startedAt,
      durationMs: Date.now() - ex.startedAt,
    });
  }

  // ─── errors, timeouts, closing ────────────────────────────────────────────────────────────────────────────

  /** Refuses a request the client got wrong: the status, `Connection: close`, and a close. */
  refuse(err: HttpError): void {
    this.opts.log.debug(`refused a request from ${this.info.remoteAddress}: ${err.status} ${err.code}: ${err.message}`);
    const ex = this.ex;
    if (ex !== null && ex.finished) {
      // The body being drained after a complete response was malformed or too large: that response stands,
      // and a second one would answer a request the client never made. Just close.
      this.closeGracefully();
      return;
    }
    if (ex !== null) {
      ex.failBody(err);
      if (ex.headWritten) {
        ex.finished = true;
        ex.abort(err);
        this.logAccess(ex);
        this.socket.destroy();
        return;
      }
      ex.finished = true;
      ex.status = err.status;
      ex.abort(err);
      this.logAccess(ex);
    }
    this.pending = null;
    this.writeRaw(simpleResponse(err.status, true, this.opts.serverHeader));
    this.closeGracefully();
  }

  private internalError(err: unknown): void {
    this.opts.log.error("internal error on a connection", err);
    const ex = this.ex;
    if (ex !== null && ex.headWritten) {
      this.socket.destroy();
      return;
    }
    this.writeRaw(simpleResponse(500, true, this.opts.serverHeader));
    this.closeGracefully();
  }

  /**
   * Half-closes after what was written (FIN, never a reset), then discards input until the client closes, or
   * LINGER_MS after the last byte left (until then the send timeout bounds a client that does not read).
   */
  closeGracefully(): void {
    if (this.phase === Phase.Closing || this.phase === Phase.Closed) return;
    this.phase = Phase.Closing;
    this.pending = null;
    this.flushOut();
    const socket = this.socket;
    socket.end();
    if (socket.writableLength > 0 && (this.opts.sendTimeoutMs ?? 0) > 0) {
      this.armSend();
      socket.once("finish", Connection.onClosingFinish);
    } else {
      this.arm(Timer.Linger, LINGER_MS);
    }
    if (this.clientEnded) {
      // Nothing more can arrive: close once our bytes are out.
      socket.once("finish", () => socket.destroy());
    }
    socket.resume();
  }

  private static onClosingFinish(this: Socket): void {
    const conn = (this as OwnedSocket)[OWNER];
    if (conn.phase === Phase.Closing) conn.arm(Timer.Linger, LINGER_MS);
  }

  /**
   * Closes a connection that looks idle (its keep-alive or first-head wait is over), with care: a request whose
   * bytes are already in the socket's receive queue must be served, not answered with a reset. The timer that
   * decided this runs before the event loop polls for I/O, so the close is carried out after the poll
   * (setImmediate): bytes that had arrived are read first, and a request they start is served (with `Connection:
   * close` when shutting down). Then a half-close and a lingering read (closeGracefully), never destroy(), which
   * makes Linux send RST when unread bytes sit in the kernel's buffer.
   */
  private closeIdle(): void {
    this.arm(Timer.None, 0);
    this.timerKind = Timer.IdleCheck;
    setImmediate(Connection.onIdleCheck, this);
  }

  private static onIdleCheck(conn: Connection): void {
    // Any byte read meanwhile re-armed the timer (header, then none): the connection is in use again.
    if (conn.timerKind !== Timer.IdleCheck) return;
    conn.timerKind = Timer.None;
    if (conn.phase === Phase.Idle && conn.pending === null) conn.closeGracefully();
  }

  // ─── making room (--worker-connections) ─────────────────────────────────────────────────────────────────────

  /**
   * The connection that can best be closed to make room for a new one, among those of `owner`: the one that has
   * waited longest for its request head (a slowloris, or a socket that never sent a byte), else the one idle
   * longest between requests; either only if it has waited at least EVICT_AFTER_MS. Null if none. Both waits are
   * timeout queues in arm order, so the oldest is at the front (a few entries of other servers in this process,
   * or of another timeout with the same duration, are stepped over).
   */
  static victim(owner: object, opts: ConnectionOptions): Connection | null {
    const now = Date.now() - EPOCH;
    return (
      Connection.oldestIn(timeoutQueues.get(opts.headerTimeoutMs), Timer.Header, opts.headerTimeoutMs, owner, now) ??
      Connection.oldestIn(timeoutQueues.get(opts.keepAliveTimeoutMs), Timer.KeepAlive, opts.keepAliveTimeoutMs, owner, now)
    );
  }

  private static oldestIn(q: TimeoutQueue | undefined, kind: Timer, ms: number, owner: object, now: number): Connection | null {
    let steps = 0;
    for (let c = q?.head ?? null; c !== null && steps < 64; c = c.timeoutNext, steps++) {
      if (c.timerKind !== kind || c.owner !== owner) continue;
      if (c.phase !== Phase.Idle && c.phase !== Phase.Head) continue;
      // Armed at deadline - ms; the queue is in arm order, so every later entry is younger still.
      return now - (c.deadline - ms) >= EVICT_AFTER_MS ? c : null;
    }
    return null;
  }

  /**
   * Closed to make room: a half-received head gets 503 (the server is full) and a lingering close; a connection
   * that sent nothing, or is idle between requests, is closed as an idle one is (closeIdle: a request already in
   * its receive queue is still served).
   */
  evict(): void {
    if (this.phase === Phase.Head && this.parser.started) {
      this.opts.log.debug(`closing a connection from ${this.info.remoteAddress} that is still sending its request head, to make room (--worker-connections)`);
      this.writeRaw(simpleResponse(503, true, this.opts.serverHeader));
      this.closeGracefully();
    } else {
      this.closeIdle();
    }
  }

  /**
   * Arms the connection's one timeout (or none): the connection moves to the end of the queue of its duration.
   * Timeouts change several times per request (header, then none, then keep-alive) but almost never expire, so
   * this is a few pointer moves and no timer call; the queue's Node timer is started only when the queue was empty.
   */
  private arm(kind: Timer, ms: number): void {
    this.timerKind = kind;
    if (this.timeouts !== null) this.unqueue();
    if (kind === Timer.None) return;
    const now = (this.batching ? batchNow : Date.now()) - EPOCH;
    this.deadline = now + ms;
    const q = timeoutQueue(ms);
    this.timeouts = q;
    const tail = q.tail;
    this.timeoutPrev = tail;
    if (tail === null) q.head = this;
    else tail.timeoutNext = this;
    q.tail = this;
    if (q.timer === null) Connection.startQueueTimer(q, ms);
  }

  private unqueue(): void {
    const q = this.timeouts!;
    const prev = this.timeoutPrev;
    const next = this.timeoutNext;
    if (prev === null) q.head = next;
    else prev.timeoutNext = next;
    if (next === null) q.tail = prev;
    else next.timeoutPrev = prev;
    this.timeouts = null;
    this.timeoutPrev = null;
    this.timeoutNext = null;
  }

  /** A Node timer that finds its queue on itself: no closure, no argument list. */
  private static startQueueTimer(q: TimeoutQueue, ms: number): void {
    const timer = setTimeout(Connection.onQueueTimer, ms) as QueueTimer;
    timer[OWNER] = q;
    timer.unref();
    q.timer = timer;
  }

  /** Expires every connection whose deadline has passed, then aims the timer at the next deadline, if any. */
  private static onQueueTimer(this: QueueTimer): void {
    const q = this[OWNER];
    // q.timer stays set while expiring, so a connection armed meanwhile (into this queue) starts no second timer.
    const now = Date.now() - EPOCH;
    let conn: Connection | null;
    while ((conn = q.head) !== null && conn.deadline <= now) {
      conn.unqueue();
      try {
        conn.expire();
      } catch (err) {
        conn.logError("a connection's timeout failed", err);
      }
    }
    q.timer = null;
    if (q.head !== null) Connection.startQueueTimer(q, q.head.deadline - now);
  }

  private expire(): void {
    const kind = this.timerKind;
    this.timerKind = Timer.None;
    switch (kind) {
      case Timer.Header:
        if (this.parser.started && this.phase === Phase.Head) {
          this.refuse(new HttpError(408, "HEAD_TIMEOUT", "the request head did not arrive in time"));
        } else if (this.phase === Phase.Idle) {
          this.closeIdle();
        }
        return;
      case Timer.KeepAlive:
      case Timer.Grace:
        if (this.phase === Phase.Idle) this.closeIdle();
        return;
      case Timer.Send:
        this.sendExpired();
        return;
      case Timer.Body:
        if (this.phase === Phase.Active && this.ex !== null && !this.ex.bodyDone) {
          this.refuse(new HttpError(408, "BODY_TIMEOUT", "the request body stalled"));
        }
        return;
      case Timer.Drain:
      case Timer.Linger:
        this.socket.destroy();
        return;
      case Timer.WebSocket:
        this.upgraded?.wsTimeout();
        return;
    }
  }

  // ─── WebSocket ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Switches the connection to WebSocket for the exchange `ex` in progress: writes the 101 head (after any
   * answers to earlier pipelined requests) and hands every later byte to the endpoint `make` returns. Null when
   * the exchange cannot switch: answered already, a request body on its way, or the server stopping.
   */
  upgrade<E extends Upgraded>(ex: ConnExchange, head: string, make: (host: UpgradeHost) => E): E | null {
    if (ex.finished || ex.headWritten || this.ex !== ex || this.phase !== Phase.Active || !ex.bodyDone || this.shuttingDown || this.clientEnded) return null;
    ex.headWritten = true;
    ex.finished = true;
    ex.status = 101;
    this.logAccess(ex);
    this.ex = null;
    // The head parser would otherwise keep the handshake's fields for the socket's whole life (idle memory).
    this.parser.reset();
    this.arm(Timer.None, 0);
    this.phase = Phase.Upgraded;
    const socket = this.socket;
    this.flushOut();
    socket.write(head, "latin1");
    // The HTTP listeners make way for the WebSocket's ('close' stays: it calls onClose, which knows).
    socket.removeListener("data", Connection.onSocketData);
    socket.removeListener("end", Connection.onSocketEnd);
    socket.removeListener("drain", Connection.onSocketDrain);
    socket.on("data", Connection.onUpgradedData);
    socket.on("end", Connection.onUpgradedEnd);
    socket.on("drain", Connection.onUpgradedDrain);
    // Messages are small and latency counts: no Nagle delay (Bun's uWS does the same).
    socket.setNoDelay(true);
    const ws = make(this);
    this.upgraded = ws;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) ws.wsData(pending);
    // In process(), the loop hands over the rest of its buffer; otherwise the socket may be paused (stash).
    if (!this.inProcess) socket.resume();
    return ws;
  }

  armWsTimer(ms: number): void {
    if (this.phase === Phase.Closed) return;
    this.arm(ms > 0 ? Timer.WebSocket : Timer.None, ms);
  }

  /** Closes now; an upgraded connection's WebSocket is told 1001 first (it closes within its closing wait). */
  destroy(): void {
    if (this.upgraded !== null && this.phase === Phase.Upgraded) this.upgraded.wsGoingAway();
    else this.socket.destroy();
  }

  private static onUpgradedData(this: Socket, chunk: Buffer): void {
    (this as OwnedSocket)[OWNER].upgraded!.wsData(chunk);
  }

  private static onUpgradedEnd(this: Socket): void {
    (this as OwnedSocket)[OWNER].upgraded!.wsEnd();
  }

  private static onUpgradedDrain(this: Socket): void {
    (this as OwnedSocket)[OWNER].upgraded!.wsDrain();
  }


  logError(msg: string, err: unknown): void {
    this.opts.log.error(msg, err);
  }

  get log(): Logger {
    return this.opts.log;
  }
}

/**
 * One request and its response on a connection. Every method is a no-op once the exchange is finished, so an
 * app holding on to a stale request can never write into the next one.
 */
export class ConnExchange implements Exchange, RequestBody {
  readonly head: RequestHead;
  readonly info: ConnectionInfo;
  readonly scheme: "http" | "https";
  readonly forwardedHost: string | null = null;
  readonly body: RequestBody | null;
  /** When the request arrived (for the access log; 0 without one, which saves a clock read per request). */
  readonly startedAt: number;
  readonly decoder: ChunkedDecoder | null;
  readonly deliverFn: (chunk: Buffer) => void;
  onAbort: ((reason: Error) => void) | null = null;
  aborted = false;
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
  keepAlive = false;
  appSaysClose = false;
  appHasDate = false;
  status = 0;
  bytes = 0;
  private framing: ResponseFraming = "none";
  private declared = -1;
  private written = 0;
  private isHead: boolean;
  private readonly conn: Connection;

  constructor(conn: Connection, head: RequestHead) {
    this.conn = conn;
    this.head = head;
    this.startedAt = 0;
    if (conn.opts.onAccess !== null) {
      this.startedAt = Date.now();
      // The access log names the client even if the connection is gone by then: ask now, while the socket can
      // answer (it keeps the answer).
      void conn.info.remoteAddress;
    }
    this.info = conn.info;
    this.scheme = conn.origin.secure ? "https" : "http";
    const peers = conn.origin.trustedPeers;
    if (peers !== null) {
      // From a trusted proxy: the client, scheme and host it names are the request's (for this request only:
      // a proxy's kept-alive connection carries many clients' requests). Whether the peer is trusted is asked
      // only of requests that carry such headers.
      const view = readForwarded(head.headers, peers);
      if (view !== null && conn.trustsPeer()) {
        if (view.client !== null) {
          this.info = ConnectionInfo.ofForwarded(view.client.address, view.client.port, conn.info);
        }
        if (view.scheme !== null) this.scheme = view.scheme;
        this.forwardedHost = view.host;
      }
    }
    this.isHead = head.method === "HEAD";
    this.remaining = head.framing === "length" ? head.contentLength : 0;
    this.bodyDone = head.framing === "none";
    this.decoder = head.framing === "chunked" ? new ChunkedDecoder(conn.opts.limits) : null;
    this.body = this.bodyDone ? null : this;
    this.deliverFn = this.decoder === null ? noDeliver : (chunk) => this.deliver(chunk);
  }

  get closed(): boolean {
    return this.finished;
  }

  /** What this server's WebSockets share, or null when it takes none. */
  get websocket(): WsContext | null {
    return this.conn.opts.websocket ?? null;
  }

  upgrade<E extends Upgraded>(head: string, make: (host: UpgradeHost) => E): E | null {
    return this.conn.upgrade(this, head, make);
  }

  get length(): number | null {
    return this.head.framing === "length" ? this.head.contentLength : null;
  }

  // ─── RequestBody ──

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

  abort(reason: Error): void {
    this.aborted = true;
    const cb = this.onAbort;
    this.onAbort = null;
    if (cb !== null) {
      try {
        cb(reason);
      } catch (err) {
        this.conn.logError("an abort listener threw", err);
      }
    }
  }

  // ─── response ──

  /** Reads the app's framing-related headers; they are oryx's to write. Returns the app's Content-Length or -1. */
  private takeFraming(headers: string[]): { headers: string[]; length: number } {
    let length = -1;
    let clean = headers;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name === "content-length" || name === "transfer-encoding" || name === "connection" || name === "date" || name === "keep-alive") {
        clean = [];
        for (let j = 0; j < headers.length; j += 2) {
          const n = headers[j]!;
          const v = headers[j + 1]!;
          if (n === "content-length") {
            if (/^[0-9]{1,15}$/.test(v)) length = Number(v);
          } else if (n === "connection") {
            if (/(^|,)\s*close\s*(,|$)/i.test(v)) this.appSaysClose = true;
          } else if (n === "date") {
            this.appHasDate = true;
            clean.push(n, v);
          } else if (n !== "transfer-encoding" && n !== "keep-alive") {
            clean.push(n, v);
          }
        }
        break;
      }
    }
    return { headers: clean, length };
  }

  respond(status: number, reason: string, headers: string[], body: Uint8Array | AsciiText | null, length = -1): void {
    if (this.finished || this.headWritten) return;
    this.headWritten = true;
    const t = this.takeFraming(headers);
    let framing: ResponseFraming;
    let len = 0;
    if (statusForbidsBody(status)) {
      framing = "none";
      if (status === 304 && (length >= 0 || t.length >= 0)) {
        framing = "length";
        len = length >= 0 ? length : t.length;
      }
      body = null;
    } else if (body !== null) {
      framing = "length";
      len = body.length;
      if (this.isHead) body = null;
    } else if (this.isHead && (length >= 0 || t.length >= 0)) {
      framing = "length";
      len = length >= 0 ? length : t.length;
    } else if (this.isHead) {
      framing = "none";
    } else {
      framing = "length";
      len = 0;
    }
    this.conn.writeHead(this, status, reason, t.headers, framing, len, body);
    this.conn.finishExchange(this);
  }

  begin(status: number, reason: string, headers: string[], length: number): void {
    if (this.finished || this.headWritten) return;
    this.headWritten = true;
    const t = this.takeFraming(headers);
    const declared = length >= 0 ? length : t.length;
    let framing: ResponseFraming;
    if (statusForbidsBody(status)) framing = status === 304 && declared >= 0 ? "length" : "none";
    else if (declared >= 0) framing = "length";
    else if (this.head.versionMinor === 1) framing = "chunked";
    else framing = this.isHead ? "none" : "close";
    this.framing = framing;
    this.declared = declared;
    this.conn.writeHead(this, status, reason, t.headers, framing, declared, null);
    if (this.isHead || statusForbidsBody(status)) this.framing = "none";
  }

  write(chunk: Uint8Array): boolean {
    if (this.finished || !this.headWritten) return true;
    const n = chunk.length;
    if (n === 0) return true;
    switch (this.framing) {
      case "none":
        return true;
      case "length": {
        if (this.written + n > this.declared) {
          this.destroy(new Error(`the app's response body is longer than its Content-Length (${this.declared})`));
          return true;
        }
        this.written += n;
        this.bytes += n;
        return this.conn.writeRaw(chunk);
      }
      case "chunked": {
        this.bytes += n;
        const socket = this.conn.socket;
        socket.cork();
        this.conn.writeRaw(chunkHeader(n));
        this.conn.writeRaw(chunk);
        const ok = this.conn.writeRaw("\r\n");
        socket.uncork();
        return ok;
      }
      case "close":
        this.bytes += n;
        return this.conn.writeRaw(chunk);
    }
  }

  drained(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return this.conn.waitDrain();
  }

  end(): void {
    if (this.finished || !this.headWritten) return;
    if (this.framing === "chunked") this.conn.writeRaw(LAST_CHUNK);
    else if (this.framing === "length" && this.written !== this.declared) {
      this.destroy(new Error(`the app's response body is shorter than its Content-Length (${this.declared})`));
      return;
    }
    if (this.framing === "close") this.keepAlive = false;
    this.conn.finishExchange(this);
  }

  destroy(err: Error): void {
    if (this.finished) return;
    this.conn.logError("a response was abandoned mid-way", err);
    this.finished = true;
    this.failBody(err);
    this.conn.socket.destroy();
  }

  fail(status: number, close = false): void {
    if (this.finished) return;
    if (this.headWritten) {
      this.destroy(new Error(`failed after the response head was sent (would have been ${status})`));
      return;
    }
    if (close) this.appSaysClose = true;
    const body = Buffer.from(simpleBody(status));
    this.respond(status, "", ["content-type", "text/plain; charset=utf-8"], body);
  }
}

function noDeliver(): void {}

/** Puts a response head (latin1) and its body side by side at the start of `out`; returns `out`. */
function assemble(out: Buffer, head: string, body: Uint8Array): Buffer {
  out.latin1Write(head, 0);
  out.set(body, head.length);
  return out;
}

function simpleBody(status: number): string {
  // The same text simpleResponse uses: the reason phrase, nothing of the request, no stack.
  const s = simpleResponse(status, false, "");
  return s.slice(s.indexOf("\r\n\r\n") + 4);
}
