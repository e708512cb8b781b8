import type { Socket } from "node:net";
import type { WsContext } from "./context.ts";
import { CLOSE, WsProtocolError } from "./errors.ts";
import { FrameParser, OP, type FrameSink } from "./frame-parser.ts";
import { closePayload, encodeFrame } from "./frame-encoder.ts";
import { deflateMessage } from "./deflate.ts";

/** What an upgraded connection offers its WebSocket: the socket, and its one timeout (see Connection.arm). */
export interface UpgradeHost {
  readonly socket: Socket;
  /** Arms the connection's timeout to call `wsTimeout()` on the endpoint after `ms` (0: none). */
  armWsTimer(ms: number): void;
}

/** What the connection tells its WebSocket once it has handed the socket over. */
export interface Upgraded {
  /** Bytes the client sent: valid only during the call (a view of a buffer the connection reads every socket into). */
  wsData(chunk: Buffer): void;
  /** The client half-closed (FIN). */
  wsEnd(): void;
  /** The socket is closed. */
  wsClosed(): void;
  wsDrain(): void;
  wsTimeout(): void;
  /** The server is stopping and its graceful time is over: close with 1001. */
  wsGoingAway(): void;
}

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

// After oryx sent its Close frame, how long the client has to answer with its own before the socket is closed.
const CLOSE_WAIT_MS = 2_000;

/**
 * The protocol side of one server WebSocket, whichever API the app sees (Bun's ServerWebSocket, Deno's
 * WebSocket): the frame parser, pings answered, the closing handshake, the idle timeout and backpressure.
 * Subclasses turn its events into their API's.
 */
export abstract class WsEndpoint implements Upgraded, FrameSink {
  protected readonly host: UpgradeHost;
  protected readonly ctx: WsContext;
  /** Made when the first byte arrives: a socket that never sends (most of 10,000 idle ones) holds none. */
  #parser: FrameParser | null = null;
  #state: 0 | 1 | 2 | 3 = CONNECTING;
  /** Bytes that came before the app's `open` ran (sent right behind the handshake). */
  #early: Buffer[] | null = [];
  #needDrain = false;
  #pinged = false;
  #closeSent = false;
  /** The close reported to the app (who closed first decides): set once. */
  #closeCode: number = CLOSE.ABNORMAL;
  #closeReason = "";
  #reported = false;

  /** permessage-deflate was negotiated (see deflate.ts). */
  readonly deflate: boolean;

  constructor(host: UpgradeHost, ctx: WsContext, deflate = false) {
    this.host = host;
    this.ctx = ctx;
    this.deflate = deflate;
    // Made once the 101 is written: the app's `open` runs after the current handler returns (as Bun's does),
    // and bytes that came behind the handshake wait for it.
    queueMicrotask(() => this.open());
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.#state;
  }

  // ─── for subclasses: the app's side ──────────────────────────────────────────────────────────────────────

  protected abstract onOpen(): void;
  protected abstract onMessage(message: string | Buffer): void;
  protected abstract onClose(code: number, reason: string): void;
  protected abstract onDrain(): void;
  protected abstract onPing(data: Buffer): void;
  protected abstract onPong(data: Buffer): void;

  /** Runs an app callback: a throw or a rejection is logged, never the worker's end. */
  protected guard(what: string, fn: () => unknown): void {
    try {
      this.watch(what, fn());
    } catch (err) {
      this.handlerFailed(what, err);
    }
  }

  /** An app callback's result: a rejection is logged (the socket and the worker go on). */
  protected watch(what: string, r: unknown): void {
    if (r !== null && typeof r === "object" && typeof (r as PromiseLike<unknown>).then === "function") {
      (r as Promise<unknown>).then(undefined, (err: unknown) => this.handlerFailed(what, err));
    }
  }

  protected handlerFailed(what: string, err: unknown): void {
    this.ctx.log.error(`the app's WebSocket ${what} handler failed`, err);
  }

  private open(): void {
    if (this.#state !== CONNECTING) return;
    this.#state = OPEN;
    this.host.armWsTimer(this.ctx.idleTimeoutMs);
    this.onOpen();
    const early = this.#early;
    this.#early = null;
    if (early !== null) for (const chunk of early) this.wsData(chunk);
  }

  // ─── sending ─────────────────────────────────────────────────────────────────────────────────────────────

  /** Sends a whole message: Bun's numbers (payload bytes sent, -1 sent under backpressure, 0 dropped). */
  sendMessage(data: string | Uint8Array, binary: boolean, compress = false): number {
    if (this.#state !== OPEN) return 0;
    if (compress && this.deflate) {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      return this.sendFrame(encodeFrame(binary ? OP.BINARY : OP.TEXT, deflateMessage(bytes), true, null, true), bytes.length);
    }
    const frame = encodeFrame(binary ? OP.BINARY : OP.TEXT, data);
    return this.sendFrame(frame, frame.length - headerLength(frame));
  }

  sendFrame(frame: Buffer, payloadLength: number): number {
    if (this.#state !== OPEN) return 0;
    const socket = this.host.socket;
    if (socket.writableLength > this.ctx.backpressureLimit) {
      // A client that does not read must not make the server hold its messages without bound.
      if (this.ctx.closeOnBackpressureLimit) this.closeWith(CLOSE.POLICY, "backpressure limit reached");
      return 0;
    }
    if (socket.write(frame)) return payloadLength;
    this.#needDrain = true;
    return -1;
  }

  sendControl(opcode: number, payload: Uint8Array | string): boolean {
    if (this.#state !== OPEN) return false;
    const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
    if (bytes.length > 125) throw Object.assign(new RangeError("a ping or pong payload is at most 125 bytes (RFC 6455 §5.5)"), { code: "WS_CONTROL_TOO_LONG" });
    this.host.socket.write(encodeFrame(opcode, bytes));
    return true;
  }

  /** Bytes queued for the client, not yet taken by the network. */
  get bufferedAmount(): number {
    return this.host.socket.writableLength;
  }

  /** Starts the closing handshake (RFC 6455 §7.1.2): our Close frame, then the client's, then the socket closes. */
  closeWith(code: number, reason: string): void {
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    this.#state = CLOSING;
    this.#early = null;
    this.report(code, reason);
    this.writeClose(code, reason);
    this.host.armWsTimer(CLOSE_WAIT_MS);
  }

  terminate(): void {
    this.#state = CLOSED;
    this.#parser?.stop();
    this.host.socket.destroy();
  }

  private writeClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const socket = this.host.socket;
    if (!socket.destroyed) socket.write(encodeFrame(OP.CLOSE, closePayload(code, reason)));
  }

  private report(code: number, reason: string): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#closeCode = code;
    this.#closeReason = reason;
  }

  // ─── Upgraded: what the connection tells us ───────────────────────────────────────────────────────────────

  wsData(chunk: Buffer): void {
    if (this.#early !== null) {
      // A copy: the connection's reads may be views of a buffer it reuses (server/connection.ts).
      this.#early.push(Buffer.from(chunk));
      return;
    }
    if (this.#state === CLOSED) return;
    const parser = (this.#parser ??= new FrameParser({ maxMessage: this.ctx.maxMessage, requireMask: true, deflate: this.deflate }, this));
    if (parser.done) return;
    if (this.#state === OPEN) {
      this.#pinged = false;
      this.host.armWsTimer(this.ctx.idleTimeoutMs);
    }
    try {
      parser.push(chunk);
    } catch (err) {
      if (!(err instanceof WsProtocolError)) throw err;
      this.ctx.log.debug(`closing a WebSocket: ${err.closeCode} ${err.code}: ${err.message}`);
      // A violation ends the conversation: our Close frame, then the socket (RFC 6455 §7.1.7).
      if (this.#state === OPEN || this.#state === CONNECTING) this.#state = CLOSING;
      this.report(err.closeCode, err.message);
      this.writeClose(err.closeCode, err.message);
      this.host.socket.end();
      this.host.armWsTimer(CLOSE_WAIT_MS);
    }
  }

  wsEnd(): void {
    // The client half-closed without a Close frame (or after it): nothing more will come.
    this.host.socket.end();
  }

  wsClosed(): void {
    const wasOpen = this.#state !== CONNECTING || this.#early === null;
    this.#state = CLOSED;
    this.#early = null;
    this.#parser?.stop();
    this.host.armWsTimer(0);
    if (wasOpen) this.onClose(this.#closeCode, this.#closeReason);
  }

  wsDrain(): void {
    if (!this.#needDrain || this.#state !== OPEN) return;
    this.#needDrain = false;
    this.onDrain();
  }

  wsTimeout(): void {
    if (this.#state === OPEN) {
      if (this.ctx.sendPings && !this.#pinged) {
        // Quiet for the idle timeout: ask. An answer (a pong, any byte) re-arms the timeout.
        this.#pinged = true;
        this.sendControl(OP.PING, "");
        this.host.armWsTimer(this.ctx.idleTimeoutMs);
        return;
      }
      this.ctx.log.debug("closing a WebSocket: idle for longer than its idle timeout");
      this.closeWith(CLOSE.GOING_AWAY, "idle timeout");
      return;
    }
    // Our Close frame had no answer in time.
    this.host.socket.destroy();
  }

  wsGoingAway(): void {
    if (this.#state === OPEN || this.#state === CONNECTING) this.closeWith(CLOSE.GOING_AWAY, "server shutting down");
    else if (this.#state === CLOSING) this.host.socket.destroy();
  }

  // ─── FrameSink: what the client sent ─────────────────────────────────────────────────────────────────────

  frameText(message: string): void {
    if (this.#state === OPEN) this.onMessage(message);
  }

  frameBinary(message: Buffer): void {
    if (this.#state === OPEN) this.onMessage(message);
  }

  framePing(payload: Buffer): void {
    if (this.#state !== OPEN) return;
    this.sendControl(OP.PONG, payload);
    this.onPing(payload);
  }

  framePong(payload: Buffer): void {
    if (this.#state === OPEN) this.onPong(payload);
  }

  frameClose(code: number, reason: string): void {
    // The client's Close: answer with the same code and reason (none for 1005), then close the socket (the
    // server closes TCP first, RFC 6455 §7.1.1).
    this.report(code, reason);
    if (this.#state === OPEN) this.#state = CLOSING;
    this.writeClose(code, reason);
    this.host.socket.end();
    this.host.armWsTimer(CLOSE_WAIT_MS);
  }
}

function headerLength(frame: Buffer): number {
  const len7 = frame[1]! & 0x7f;
  return len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
}
