/**
 * The connection state machine: one client connection from accept to close (idle → head → active → draining →
 * closing), its timeouts' meanings, keep-alive and graceful stop, refusals, eviction at --worker-connections and
 * the switch to WebSocket. The rooms it drives do the rest: timeouts.ts (the queues), output.ts (how bytes are
 * written), body-flow.ts (a request body's flow), exchange.ts (one request and response), http/framing.ts (how a
 * response is framed).
 *
 * Why over 500 lines: every transition of the phase and of the one armed timeout is here, in one place, on
 * purpose: split across files, they could be read only together (a fifth of the lines are comments saying why
 * each transition is as it is).
 */
import type { Socket } from "node:net";
import type { AccessRecord, AsciiText, RequestHandler } from "../gateway/exchange.ts";
import { HeadParser, HttpError, closesAfter, readFailed, httpDate, serializeHead, simpleResponse, type Limits, type RequestHead, type RequestReader, type ResponseFraming } from "../http/index.ts";
import { ConnectionInfo } from "../gateway/info.ts";
import type { Logger } from "../log.ts";
import type { WsContext } from "../ws/context.ts";
import type { UpgradeHost, Upgraded } from "../ws/endpoint.ts";
import { DRAIN_MAX_MS, endSink, feedBody, startDiscarding, unreadForcesClose, type BodyHost, type BodyState } from "./body-flow.ts";
import { ConnExchange } from "./exchange.ts";
import { beginBatch, clockNow, dropOut, endBatch, flushOut, writeRaw, writeResponse, type Output } from "./output.ts";
import { socketQueuedBytes, socketSentMark } from "../node-internals.ts";
import { READ_AHEAD_BYTES, inSharedBuffer, ownBytes, readSharedWith } from "../gateway/read-buffer.ts";
import { EPOCH, enqueue, queueOf, unqueue, type TimeoutQueue, type Timed } from "./timeouts.ts";
import { peerIsTrusted, type TrustedPeers } from "./trust.ts";
import { ClientGoneError } from "../errors.ts";

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

/** Where each connection with a send timeout armed stood when it was armed (see socketSentMark); none for the others. */
const sendMarks = new WeakMap<Connection, number>();

/**
 * One client connection: a small state machine from accept to close.
 * reading head → (reading body ‖ app making the response) → writing → keep-alive → reading head …
 *
 * Requests on a connection are handled one at a time, in order. Bytes of pipelined requests that arrive early
 * wait in `pending`, the socket paused once more than READ_AHEAD_BYTES wait, which is also how an app that does
 * not read its body stops reads from the socket; the client's end waits behind them (`endQueued`). Responses
 * written while one batch of received bytes is processed leave in one write (cork).
 */
export class Connection implements UpgradeHost, Timed, Output, BodyHost, RequestReader {
  readonly socket: Socket;
  /** The connection's facts: given at accept (PROXY header, Unix socket), else read from the socket when first asked. */
  private known: ConnectionInfo | null;
  readonly opts: ConnectionOptions;
  readonly origin: Origin;
  private readonly parser: HeadParser;
  private phase = Phase.Idle;
  private pending: Buffer | null = null;
  /** Where the unprocessed bytes start in `pending` (a pipelined batch waits request by request: no copy, no view each). */
  private pendingOff = 0;
  private inProcess = false;
  private clientEnded = false;
  /** The client's end arrived behind bytes still kept aside (`pending`): it is acted on once they are processed. */
  private endQueued = false;
  private shuttingDown = false;
  private timerKind = Timer.None;
  /** When the armed timeout (`timerKind`) expires, in ms since EPOCH (see timeouts.ts). */
  deadline = 0;
  /** The queue of armed timeouts this connection is in (see `arm`), and its neighbours there. */
  timeouts: TimeoutQueue | null = null;
  timeoutPrev: Timed | null = null;
  timeoutNext: Timed | null = null;
  private drainWaiters: Array<() => void> | null = null;
  /** Output collected while a batch of received bytes is processed, or past it (see output.ts). */
  batching = false;
  deferring = false;
  outText = "";
  out: Buffer[] | null = null;
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
    // Reads go into the process's one shared buffer where Node allows it (read-buffer.ts): no Buffer per read and
    // no trip through the Readable stream. Its bytes are valid only during the call, so whatever outlives it is
    // copied (stash, feedBody's chunks, a WebSocket's). 'data' still brings bytes buffered before the switch (a
    // PROXY header's read) and every read of a socket that cannot be switched (TLS).
    socket.on("data", Connection.onSocketData);
    readSharedWith(socket, Connection.onSocketRead);
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

  private static onSocketRead(this: Socket, nread: number, buf: Buffer): void {
    (this as OwnedSocket)[OWNER].onData(buf.subarray(0, nread));
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
      this.peerTrust = peerIsTrusted(this.origin.trustedPeers, this.socket, this.origin.transport) ? Trust.Yes : Trust.No;
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
      buf = Buffer.concat([this.takePending()!, chunk]);
    }
    this.processBatch(buf, 0, false);
  }

  /**
   * Processes received bytes from `off` with their responses collected and written together (see output.ts).
   * `waited`: bytes that waited for the answer before them (see beginBatch).
   */
  private processBatch(buf: Buffer, off: number, waited: boolean): void {
    beginBatch(this, waited);
    this.process(buf, off);
    // Pipelined requests wait behind one the app answers asynchronously (an async handler): its answer and
    // theirs come in microtasks after this returns. They are collected too and leave together.
    endBatch(this, this.pending !== null && this.phase === Phase.Active);
  }

  /** Writes what was collected while answers to pipelined requests came asynchronously (see output.ts). */
  flushDeferred(): void {
    if (this.phase === Phase.Closed) dropOut(this);
    else flushOut(this);
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
      readFailed(this, err);
    } finally {
      this.inProcess = false;
    }
  }

  /** Keeps unprocessed bytes for later (a copy, if they are in the shared buffer); reading stops past the read-ahead. */
  private stash(buf: Buffer, off: number): void {
    if (inSharedBuffer(buf)) {
      this.pending = ownBytes(buf.subarray(off));
      this.pendingOff = 0;
    } else {
      this.pending = buf;
      this.pendingOff = off;
    }
    // More bytes that arrive meanwhile are added to these (onData), up to the read-ahead.
    if (this.pending.length - this.pendingOff > READ_AHEAD_BYTES) this.socket.pause();
  }

  /** The bytes kept aside (see stash), as one view, taken: none are kept any more. */
  private takePending(): Buffer | null {
    const buf = this.pending;
    this.pending = null;
    return buf === null || this.pendingOff === 0 ? buf : buf.subarray(this.pendingOff);
  }

  /** Restarts input after a wait: first the bytes kept aside, then the socket. */
  private resumeInput(): void {
    if (this.inProcess || this.phase === Phase.Closing || this.phase === Phase.Closed) return;
    if (this.pending !== null) {
      const buf = this.pending;
      this.pending = null;
      this.processBatch(buf, this.pendingOff, true);
      if (this.pending !== null) return; // still waiting
    }
    if (this.endQueued) {
      // Every byte before the client's end is processed: now the end (see onEnd).
      this.endQueued = false;
      this.onEnd();
      return;
    }
    // process() may have moved the phase on.
    const phase = this.phase as Phase;
    if (phase === Phase.Active && (this.ex!.bodyDone || !this.ex!.flowing)) return;
    if (phase === Phase.Closing || phase === Phase.Closed) return;
    this.socket.resume();
  }

  private feedBody(ex: ConnExchange, buf: Buffer, off: number): number {
    if (this.timerKind === Timer.Body) this.arm(Timer.Body, this.opts.bodyTimeoutMs);
    return feedBody(ex, buf, off);
  }

  /** Called by the exchange when the whole request body has arrived. */
  bodyComplete(ex: BodyState): void {
    ex.bodyDone = true;
    if (this.timerKind === Timer.Body || this.timerKind === Timer.Drain) this.armOutput();
    endSink(ex);
    if (this.phase === Phase.Draining) this.nextRequest();
  }

  private onEnd(): void {
    if (this.pending !== null && this.phase !== Phase.Closing) {
      // The end came behind bytes kept aside (pipelined requests waiting for the answer before them): as on the
      // wire, it comes after them (resumeInput), so a client that sends its requests and half-closes gets every
      // answer.
      this.endQueued = true;
      return;
    }
    this.clientEnded = true;
    switch (this.phase) {
      case Phase.Idle:
      case Phase.Head:
      case Phase.Draining:
        this.closeAfterOutput();
        return;
      case Phase.Closing:
        this.socket.destroy();
        return;
      case Phase.Active: {
        // A client's FIN before its response is complete almost always means it left (as Node's http server
        // takes it too): the app's signal aborts. The response is still written, for the rare client that
        // half-closes and waits; the connection closes after it.
        const ex = this.ex!;
        const reason = new ClientGoneError();
        if (!ex.bodyDone) ex.failBody(reason);
        if (!ex.finished) ex.abort(reason);
        return;
      }
    }
  }

  /**
   * The client ended and nothing of a request is being answered: answers already made may still be collected
   * (output.ts writes an async answer at the end of the turn), so they are written first, and the connection
   * closes once the kernel has them.
   */
  private closeAfterOutput(): void {
    flushOut(this);
    const socket = this.socket;
    if (socketQueuedBytes(socket) === 0) {
      socket.destroy();
      return;
    }
    socket.end();
    socket.once("finish", () => socket.destroy());
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
      const reason = new ClientGoneError(wasActive ? undefined : "the connection closed before the response was complete");
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
    const close =
      closesAfter(head.keepAlive, framing, ex.appSaysClose) || this.shuttingDown || this.clientEnded || this.opts.keepAliveTimeoutMs === 0 || (!ex.bodyDone && unreadForcesClose(ex));
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
      date: ex.appHasDate ? "" : httpDate(clockNow()),
    });
    if (body !== null) ex.bytes += body.length;
    writeResponse(this, s, body);
  }

  writeRaw(data: Uint8Array | string): boolean {
    return writeRaw(this, data);
  }

  // ─── the send timeout ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * A write left more queued than the socket's high-water mark: the client may have stopped reading. The send
   * timeout starts, unless it runs already (its deadline is not pushed back by more writes); 'drain' ends it.
   */
  blocked(): void {
    if (this.timerKind === Timer.Send || this.phase === Phase.Closed) return;
    if ((this.opts.sendTimeoutMs ?? 0) > 0) this.armSend();
  }

  private armSend(): void {
    sendMarks.set(this, socketSentMark(this.socket));
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
    const mark = socketSentMark(socket);
    if (mark !== sendMarks.get(this)) {
      this.armSend();
      return;
    }
    if (socketQueuedBytes(socket) === 0 && this.phase !== Phase.Closing) {
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
      startDiscarding(ex);
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

  internalError(err: unknown): void {
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
    if (this.endQueued) {
      // The bytes the end was waiting behind are dropped: it is the end now.
      this.endQueued = false;
      this.clientEnded = true;
    }
    flushOut(this);
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
      Connection.oldestIn(queueOf(opts.headerTimeoutMs), Timer.Header, opts.headerTimeoutMs, owner, now) ??
      Connection.oldestIn(queueOf(opts.keepAliveTimeoutMs), Timer.KeepAlive, opts.keepAliveTimeoutMs, owner, now)
    );
  }

  private static oldestIn(q: TimeoutQueue | undefined, kind: Timer, ms: number, owner: object, now: number): Connection | null {
    let steps = 0;
    // Every entry of a queue is a Connection: only connections arm timeouts.
    for (let c = (q?.head ?? null) as Connection | null; c !== null && steps < 64; c = c.timeoutNext as Connection | null, steps++) {
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
    if (this.timeouts !== null) unqueue(this);
    if (kind !== Timer.None) enqueue(this, ms, clockNow());
  }

  /** The armed timeout's deadline passed (called by its queue). */
  expire(): void {
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
    flushOut(this);
    socket.write(head, "latin1");
    // The HTTP listeners make way for the WebSocket's ('close' stays: it calls onClose, which knows).
    socket.removeListener("data", Connection.onSocketData);
    // Reads stay in the shared buffer (where they were: a socket that could not switch does not now): the
    // WebSocket copies what it keeps (the frame parser every payload, the endpoint bytes that come before it opens).
    readSharedWith(socket, Connection.onUpgradedRead);
    socket.removeListener("end", Connection.onSocketEnd);
    socket.removeListener("drain", Connection.onSocketDrain);
    socket.on("data", Connection.onUpgradedData);
    socket.on("end", Connection.onUpgradedEnd);
    socket.on("drain", Connection.onUpgradedDrain);
    // Messages are small and latency counts: no Nagle delay (Bun's uWS does the same).
    socket.setNoDelay(true);
    const ws = make(this);
    this.upgraded = ws;
    const pending = this.takePending();
    if (pending !== null) ws.wsData(pending);
    if (this.endQueued) {
      // The client's end came behind those bytes ('end' has been heard already): the WebSocket's now, in order.
      this.endQueued = false;
      process.nextTick(() => ws.wsEnd());
    }
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

  private static onUpgradedRead(this: Socket, nread: number, buf: Buffer): void {
    (this as OwnedSocket)[OWNER].upgraded!.wsData(buf.subarray(0, nread));
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

