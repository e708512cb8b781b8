import type { Exchange } from "../gateway/exchange.ts";
import { CloseEventClass, installCloseEvent } from "./close-event.ts";
import type { WsContext } from "./context.ts";
import { CLOSE } from "./errors.ts";

import { WsEndpoint, type UpgradeHost } from "./endpoint.ts";
import { checkHandshake, switchingProtocols } from "./handshake.ts";
import { bytesOf } from "./server-websocket.ts";
import { exchangeOf, extraHeaders } from "./upgrade.ts";

/** Deno's `upgradeWebSocket` options. */
export interface UpgradeWebSocketOptions {
  /** The subprotocol to answer with (it should be one the client asked for). */
  protocol?: string;
  /** Seconds without a byte from the client before it is pinged, then closed; 0: never. */
  idleTimeout?: number;
}

type BinaryType = "blob" | "arraybuffer";
type Listener = ((this: OryxWebSocket, ev: Event) => unknown) | null;
type AnyListener = Parameters<EventTarget["addEventListener"]>[1];

/**
 * The server's side of a WebSocket as a standard `WebSocket` (HTML's WebSockets section), as Deno hands one out:
 * events (`open`, `message`, `close`, `error`) and their `on…` attributes, `send`, `close`, `readyState`,
 * `binaryType` ("blob" by default, as the standard says, or "arraybuffer"), `bufferedAmount`, `protocol`, `url`.
 */
export class OryxWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly url: string;
  readonly extensions = "";
  protocol = "";
  binaryType: BinaryType = "blob";
  /** Set once the handshake is answered. */
  endpoint: DenoEndpoint | null = null;
  #closedBeforeOpen = false;
  #handlers: Record<string, Listener> = {};

  constructor(url: string) {
    super();
    this.url = url;
  }

  get readyState(): number {
    if (this.endpoint === null) return this.#closedBeforeOpen ? 3 : 0;
    return this.endpoint.readyState;
  }

  get bufferedAmount(): number {
    return this.endpoint?.bufferedAmount ?? 0;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    const ep = this.endpoint;
    if (ep === null || ep.readyState === 0) throw new DOMException("the WebSocket is not open yet", "InvalidStateError");
    if (typeof data === "string") ep.sendMessage(data, false);
    else if (typeof Blob !== "undefined" && data instanceof Blob) {
      // A Blob's bytes come asynchronously: later sends may overtake it (documented in the README).
      void data.arrayBuffer().then((b) => ep.sendMessage(new Uint8Array(b), true));
    } else ep.sendMessage(bytesOf(data as ArrayBufferLike | ArrayBufferView), true);
  }

  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== CLOSE.NORMAL && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`the close code must be 1000 or in 3000–4999, not ${code}`, "InvalidAccessError");
    }
    const text = reason ?? "";
    if (Buffer.byteLength(text, "utf8") > 123) throw new DOMException("the close reason is longer than 123 bytes", "SyntaxError");
    const ep = this.endpoint;
    if (ep === null) {
      this.#closedBeforeOpen = true;
      return;
    }
    ep.closeWith(code ?? (reason === undefined ? CLOSE.NO_STATUS : CLOSE.NORMAL), text);
  }

  get onopen(): Listener {
    return this.#handlers.open ?? null;
  }
  set onopen(fn: Listener) {
    this.#setHandler("open", fn);
  }
  get onmessage(): Listener {
    return this.#handlers.message ?? null;
  }
  set onmessage(fn: Listener) {
    this.#setHandler("message", fn);
  }
  get onclose(): Listener {
    return this.#handlers.close ?? null;
  }
  set onclose(fn: Listener) {
    this.#setHandler("close", fn);
  }
  get onerror(): Listener {
    return this.#handlers.error ?? null;
  }
  set onerror(fn: Listener) {
    this.#setHandler("error", fn);
  }

  #setHandler(type: string, fn: Listener): void {
    const old = this.#handlers[type];
    if (old !== undefined && old !== null) this.removeEventListener(type, old as AnyListener);
    this.#handlers[type] = typeof fn === "function" ? fn : null;
    if (typeof fn === "function") this.addEventListener(type, fn as AnyListener);
  }
}

/** The protocol side of an OryxWebSocket: its events become the socket's. */
class DenoEndpoint extends WsEndpoint {
  readonly #socket: OryxWebSocket;

  constructor(host: UpgradeHost, ctx: WsContext, socket: OryxWebSocket) {
    super(host, ctx);
    this.#socket = socket;
  }

  #dispatch(ev: Event): void {
    // A listener's throw is reported by EventTarget (as an uncaught error on Node): catch it here instead, so a
    // bad listener is a log line, not a worker's crash.
    this.guard(ev.type, () => this.#socket.dispatchEvent(ev));
  }

  protected onOpen(): void {
    this.#dispatch(new Event("open"));
  }

  protected onMessage(message: string | Buffer): void {
    let data: string | ArrayBuffer | Blob;
    if (typeof message === "string") data = message;
    else if (this.#socket.binaryType === "arraybuffer") data = message.buffer as ArrayBuffer;
    else data = new Blob([message]);
    this.#dispatch(new MessageEvent("message", { data }));
  }

  protected onClose(code: number, reason: string): void {
    this.#dispatch(new CloseEventClass("close", { code, reason, wasClean: code !== CLOSE.ABNORMAL }));
  }

  protected onDrain(): void {}
  protected onPing(_data: Buffer): void {}
  protected onPong(_data: Buffer): void {}
}

// Registered, so the copy of oryx serving the app knows the response another copy (the app's import) made.
const PENDING = Symbol.for("oryx.pendingUpgrade");

/** The `response` of `upgradeWebSocket`: returned by the fetch handler, it tells oryx to answer the handshake. */
interface UpgradeResponse {
  readonly status: 101;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: null;
  readonly ok: false;
  [PENDING]: { ex: Exchange; socket: OryxWebSocket; key: string; protocols: string[]; idleTimeoutMs: number | null };
}

/**
 * Deno's `upgradeWebSocket(request)`: `{ socket, response }`. The fetch handler returns `response` (headers may
 * be added to it), and oryx answers the handshake with it; `socket` opens then. Throws a TypeError when the
 * request is no WebSocket handshake (as Deno does).
 */
export function upgradeWebSocket(request: Request, options: UpgradeWebSocketOptions = {}): { socket: OryxWebSocket; response: Response } {
  const ex = exchangeOf(request);
  if (ex === undefined || ex.upgrade === undefined || ex.closed) {
    throw Object.assign(new TypeError("upgradeWebSocket: the request is not a WebSocket handshake that oryx is serving (its Connection field must list upgrade)"), { code: "WS_NOT_UPGRADABLE" });
  }
  const check = checkHandshake(ex.head);
  if (!check.ok) throw Object.assign(new TypeError(`upgradeWebSocket: ${check.reason}`), { code: "WS_BAD_HANDSHAKE" });
  installCloseEvent();
  const socket = new OryxWebSocket(request.url.replace(/^http/, "ws"));
  const headers = new Headers();
  if (options.protocol !== undefined) {
    headers.set("sec-websocket-protocol", options.protocol);
    socket.protocol = options.protocol;
  } else if (check.protocols.length > 0) {
    socket.protocol = check.protocols[0]!;
  }
  const idle = options.idleTimeout;
  const response: UpgradeResponse = {
    status: 101,
    statusText: "Switching Protocols",
    headers,
    body: null,
    ok: false,
    [PENDING]: { ex, socket, key: check.key, protocols: check.protocols, idleTimeoutMs: typeof idle === "number" && idle >= 0 ? Math.round(idle * 1000) : null },
  };
  return { socket, response: response as unknown as Response };
}

/**
 * Called by the fetch gateway for a response with status 101: if it is `upgradeWebSocket`'s for this exchange,
 * the handshake is answered and true returned.
 */
export function completeUpgrade(ex: Exchange, res: unknown): boolean {
  const pending = (res as Partial<UpgradeResponse> | null)?.[PENDING];
  if (pending === undefined || pending.ex !== ex || ex.upgrade === undefined) return false;
  const base = ex.websocket ?? null;
  if (base === null) return false;
  const ctx: WsContext = pending.idleTimeoutMs === null ? base : Object.assign(Object.create(base) as WsContext, { idleTimeoutMs: pending.idleTimeoutMs });
  const extra = extraHeaders((res as UpgradeResponse).headers, pending.protocols);
  const socket = pending.socket;
  const ep = ex.upgrade(switchingProtocols(pending.key, extra), (host) => new DenoEndpoint(host, ctx, socket));
  if (ep === null) return false;
  socket.endpoint = ep;
  return true;
}


