import type { WebSocketHandler, WsContext } from "./context.ts";
import { CLOSE } from "./errors.ts";
import { OP } from "./frame-parser.ts";
import { encodeFrame } from "./frame-encoder.ts";
import { WsEndpoint, type UpgradeHost } from "./endpoint.ts";

type BinaryType = "nodebuffer" | "arraybuffer" | "uint8array";
export type WsMessage = string | ArrayBufferLike | ArrayBufferView;

/**
 * Bun's ServerWebSocket, on oryx: what the `websocket` handlers get. Members and numbers as Bun documents them:
 * `send` returns the bytes sent, -1 when they were queued under backpressure (`drain` follows), 0 when dropped
 * (closed, or over the backpressure limit).
 */
export class ServerWebSocket<T = undefined> extends WsEndpoint {
  /** What the app passed as `server.upgrade(req, { data })`. */
  data: T;
  /** Who the client is: its address is read when first asked (most apps never ask; Node then keeps no copy). */
  readonly #peer: { readonly remoteAddress: string };
  binaryType: BinaryType = "nodebuffer";
  #topics: Set<string> | null = null;
  readonly #handlers: WebSocketHandler<T>;

  constructor(host: UpgradeHost, ctx: WsContext, data: T, peer: { readonly remoteAddress: string }, deflate = false) {
    super(host, ctx, deflate);
    this.data = data;
    this.#peer = peer;
    this.#handlers = (ctx.handlers ?? {}) as WebSocketHandler<T>;
  }

  /** The client's address (the one a trusted proxy names, if one does). */
  get remoteAddress(): string {
    return this.#peer.remoteAddress;
  }

  /** `compress`: deflate this message, if the client negotiated permessage-deflate (the app's perMessageDeflate). */
  send(data: WsMessage, compress?: boolean): number {
    return typeof data === "string" ? this.sendMessage(data, false, compress === true) : this.sendMessage(bytesOf(data), true, compress === true);
  }

  sendText(data: string, compress?: boolean): number {
    return this.sendMessage(data, false, compress === true);
  }

  sendBinary(data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.sendMessage(bytesOf(data), true, compress === true);
  }

  ping(data?: WsMessage): number {
    const bytes = data === undefined ? Buffer.alloc(0) : typeof data === "string" ? Buffer.from(data, "utf8") : bytesOf(data);
    return this.sendControl(OP.PING, bytes) ? bytes.length : 0;
  }

  pong(data?: WsMessage): number {
    const bytes = data === undefined ? Buffer.alloc(0) : typeof data === "string" ? Buffer.from(data, "utf8") : bytesOf(data);
    return this.sendControl(OP.PONG, bytes) ? bytes.length : 0;
  }

  /** Starts the closing handshake with `code` (default 1000) and `reason`. */
  close(code: number = CLOSE.NORMAL, reason = ""): void {
    if (!Number.isInteger(code) || !(code === 1000 || (code >= 3000 && code <= 4999) || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006))) {
      throw Object.assign(new RangeError(`${code} is not a close code a server may send (1000, 1001–1014 but 1004–1006, or 3000–4999)`), { code: "WS_BAD_CLOSE_CODE" });
    }
    this.closeWith(code, String(reason));
  }

  getBufferedAmount(): number {
    return this.bufferedAmount;
  }

  /** Runs `cb` with the socket's writes collected, sent together when it returns. */
  cork<R>(cb: (ws: this) => R): R {
    const socket = this.host.socket;
    socket.cork();
    try {
      return cb(this);
    } finally {
      socket.uncork();
    }
  }

  // ─── topics (within this worker) ──────────────────────────────────────────────────────────────────────────

  subscribe(topic: string): void {
    if (this.readyState > 1) return;
    (this.#topics ??= new Set()).add(topic);
    this.ctx.topics.subscribe(topic, this);
  }

  unsubscribe(topic: string): void {
    if (this.#topics?.delete(topic) === true) this.ctx.topics.unsubscribe(topic, this);
  }

  isSubscribed(topic: string): boolean {
    return this.#topics?.has(topic) === true;
  }

  get subscriptions(): string[] {
    return this.#topics === null ? [] : [...this.#topics];
  }

  /**
   * Sends to every subscriber of `topic` in this worker but this socket (unless publishToSelf). Also from a
   * closing socket (its close handler telling the others it left), as in Bun.
   */
  publish(topic: string, data: WsMessage, _compress?: boolean): number {
    const frame = typeof data === "string" ? encodeFrame(OP.TEXT, data) : encodeFrame(OP.BINARY, bytesOf(data));
    return this.ctx.topics.publish(topic, frame, payloadLength(frame), this.ctx.publishToSelf ? null : this);
  }

  publishText(topic: string, data: string, compress?: boolean): number {
    return this.publish(topic, data, compress);
  }

  publishBinary(topic: string, data: ArrayBufferLike | ArrayBufferView, compress?: boolean): number {
    return this.publish(topic, data, compress);
  }

  // ─── events, to the app's handlers ────────────────────────────────────────────────────────────────────────

  protected onOpen(): void {
    const h = this.#handlers;
    if (h.open !== undefined) this.guard("open", () => h.open!(this));
  }

  protected onMessage(message: string | Buffer): void {
    const h = this.#handlers;
    if (h.message === undefined) return;
    let m: string | Buffer | ArrayBuffer | Uint8Array = message;
    if (typeof message !== "string" && this.binaryType !== "nodebuffer") {
      // The parser's Buffer owns its ArrayBuffer exactly (offset 0, its length).
      m = this.binaryType === "arraybuffer" ? (message.buffer as ArrayBuffer) : new Uint8Array(message.buffer, 0, message.length);
    }
    // The guard, inline: no closure per message on the hot path.
    try {
      this.watch("message", h.message(this, m as string | Buffer));
    } catch (err) {
      this.handlerFailed("message", err);
    }
  }

  protected onClose(code: number, reason: string): void {
    const h = this.#handlers;
    if (h.close !== undefined) this.guard("close", () => h.close!(this, code, reason));
    // Subscriptions end with the socket (after the handler, which may still want to know them).
    if (this.#topics !== null) {
      for (const t of this.#topics) this.ctx.topics.unsubscribe(t, this);
      this.#topics = null;
    }
  }

  protected onDrain(): void {
    const h = this.#handlers;
    if (h.drain !== undefined) this.guard("drain", () => h.drain!(this));
  }

  protected onPing(data: Buffer): void {
    const h = this.#handlers;
    if (h.ping !== undefined) this.guard("ping", () => h.ping!(this, data));
  }

  protected onPong(data: Buffer): void {
    const h = this.#handlers;
    if (h.pong !== undefined) this.guard("pong", () => h.pong!(this, data));
  }
}

export function bytesOf(data: ArrayBufferLike | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer)) return new Uint8Array(data);
  throw Object.assign(new TypeError("a WebSocket message must be a string, an ArrayBuffer or a view of one"), { code: "WS_BAD_MESSAGE" });
}

function payloadLength(frame: Buffer): number {
  const len7 = frame[1]! & 0x7f;
  return frame.length - (len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}
