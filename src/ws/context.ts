import type { Logger } from "../log.ts";
import { installCloseEvent } from "./close-event.ts";
import { processTopics, type Topics } from "./topics.ts";
import type { ServerWebSocket } from "./server-websocket.ts";

/** Bun's `websocket` handlers and options, as an app exports them beside `fetch`. */
export interface WebSocketHandler<T = unknown> {
  open?(ws: ServerWebSocket<T>): unknown;
  message?(ws: ServerWebSocket<T>, message: string | Buffer): unknown;
  close?(ws: ServerWebSocket<T>, code: number, reason: string): unknown;
  drain?(ws: ServerWebSocket<T>): unknown;
  ping?(ws: ServerWebSocket<T>, data: Buffer): unknown;
  pong?(ws: ServerWebSocket<T>, data: Buffer): unknown;
  /** Largest message in bytes (over it: close 1009). Default: --ws-max-message. */
  maxPayloadLength?: number;
  /** Seconds without a byte from the client before it is pinged, then closed. 0: never. Default: --ws-idle-timeout. */
  idleTimeout?: number;
  /** Bytes queued for a client over which `send` drops messages (returns 0). Default: --ws-backpressure-limit. */
  backpressureLimit?: number;
  /** Close the connection (1008) instead of dropping a message when over backpressureLimit. */
  closeOnBackpressureLimit?: boolean;
  /** Ping a client that has been quiet for idleTimeout before closing it. Default true. */
  sendPings?: boolean;
  /** Whether `ws.publish` also sends to the publishing socket. Default false. */
  publishToSelf?: boolean;
  /**
   * Negotiate permessage-deflate with clients that offer it (without context takeover: see deflate.ts); then
   * compressed messages are inflated (bounded by maxPayloadLength) and `send(data, true)` compresses. Default off.
   */
  perMessageDeflate?: boolean | object;
}

/** The limits from the settings (the app's `websocket` options override them). */
export interface WsLimits {
  maxMessage: number;
  idleTimeoutMs: number;
  backpressureLimit: number;
}

/** Everything one server's WebSockets share: the app's handlers, the limits, the topics, the log. */
export class WsContext {
  readonly handlers: WebSocketHandler<unknown> | null;
  readonly maxMessage: number;
  readonly idleTimeoutMs: number;
  readonly backpressureLimit: number;
  readonly closeOnBackpressureLimit: boolean;
  readonly sendPings: boolean;
  readonly publishToSelf: boolean;
  readonly topics: Topics = processTopics;
  readonly log: Logger;

  constructor(limits: WsLimits, handlers: WebSocketHandler<unknown> | null, log: Logger) {
    this.handlers = handlers;
    this.log = log;
    const h = handlers ?? {};
    this.maxMessage = positive(h.maxPayloadLength) ?? limits.maxMessage;
    this.idleTimeoutMs = h.idleTimeout !== undefined && Number.isFinite(h.idleTimeout) && h.idleTimeout >= 0 ? Math.round(h.idleTimeout * 1000) : limits.idleTimeoutMs;
    this.backpressureLimit = positive(h.backpressureLimit) ?? limits.backpressureLimit;
    this.closeOnBackpressureLimit = h.closeOnBackpressureLimit === true;
    this.sendPings = h.sendPings !== false;
    this.publishToSelf = h.publishToSelf === true;
    if (handlers !== null) installCloseEvent();
  }
}

function positive(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;
}
