import type { Exchange } from "../gateway/exchange.ts";
import { CLOSE } from "./errors.ts";
import { OP } from "./frame-parser.ts";
import { encodeFrame } from "./frame-encoder.ts";
import { checkHandshake, switchingProtocols } from "./handshake.ts";
import { negotiateDeflate } from "./deflate.ts";
import { ServerWebSocket, bytesOf, type WsMessage } from "./server-websocket.ts";
import { processTopics } from "./topics.ts";

/**
 * The requests that may become WebSockets (their Connection field lists `upgrade`), and their exchanges: how
 * `server.upgrade(req)` and `upgradeWebSocket(req)` find the connection behind a Request. Only such requests are
 * entered, so a plain request costs one boolean test.
 */
const EMPTY = new Uint8Array(0);

// Kept on globalThis under a registered symbol: an app's `import { upgradeWebSocket } from "oryx"` may load
// another copy of oryx than the one serving it (its own node_modules), and both must see the same requests.
const REGISTRY = Symbol.for("oryx.ws.upgradable");
const upgradable: WeakMap<Request, Exchange> = ((globalThis as Record<symbol, unknown>)[REGISTRY] ??= new WeakMap()) as WeakMap<Request, Exchange>;

export function markUpgradable(request: Request, ex: Exchange): void {
  upgradable.set(request, ex);
}

export function exchangeOf(request: Request): Exchange | undefined {
  return upgradable.get(request);
}

/** Bun's `server.upgrade(req, { data, headers })` options. */
export interface UpgradeOptions<T> {
  data?: T;
  headers?: ConstructorParameters<typeof Headers>[0];
}

/**
 * Bun's `server.upgrade(req, options)`: true when `req` is a valid WebSocket handshake and the 101 went out (the
 * app's fetch return value is then ignored); false otherwise, and the app answers as it likes.
 */
export function bunUpgrade<T>(request: Request, options?: UpgradeOptions<T>): boolean {
  const ex = request !== null && typeof request === "object" ? upgradable.get(request) : undefined;
  if (ex === undefined || ex.upgrade === undefined || ex.closed) return false;
  const ctx = ex.websocket ?? null;
  if (ctx === null || ctx.handlers === null) {
    throw Object.assign(new TypeError('server.upgrade() needs WebSocket handlers: export them beside fetch, as in Bun: export default { fetch, websocket: { message(ws, msg) {} } }'), { code: "WS_NO_HANDLERS" });
  }
  const check = checkHandshake(ex.head);
  if (!check.ok) {
    ctx.log.debug(`not a WebSocket handshake: ${check.reason}`);
    // Another protocol version: oryx answers 426 naming the one it speaks (RFC 6455 §4.4), and the app's answer
    // is ignored, as Bun does (its upgrade() returns false and it sends this same 426).
    if (check.status === 426) ex.respond(426, "", ["sec-websocket-version", "13", "connection", "close"], EMPTY);
    return false;
  }
  const extra = extraHeaders(options?.headers, check.protocols);
  // permessage-deflate only when the app asks for it (Bun's perMessageDeflate, off by default) and the client offers it.
  const deflate = ctx.handlers.perMessageDeflate !== undefined && ctx.handlers.perMessageDeflate !== false ? negotiateDeflate(check.extensions) : null;
  if (deflate !== null) extra.push("sec-websocket-extensions", deflate);
  const info = ex.info;
  const ws = ex.upgrade(switchingProtocols(check.key, extra), (host) => new ServerWebSocket<T>(host, ctx, options?.data as T, info, deflate !== null));
  if (ws === null) return false;
  upgradable.delete(request);
  return true;
}

/**
 * The app's extra response fields, checked (a Headers object refuses bad names and values). If the client asked
 * for subprotocols and the app chose none, the first one asked for is chosen (what Hono's `hono/bun` assumes in
 * `ws.protocol`; a client such as `ws` fails a handshake that ignores its protocols).
 */
export function extraHeaders(init: ConstructorParameters<typeof Headers>[0] | undefined, protocols: string[]): string[] {
  const out: string[] = [];
  let chose = false;
  if (init !== undefined) {
    for (const [name, value] of new Headers(init)) {
      if (name === "sec-websocket-protocol") chose = true;
      // oryx writes these itself; and it negotiates no extension, so an app cannot claim one the parser would refuse.
      if (name === "upgrade" || name === "connection" || name === "sec-websocket-accept" || name === "sec-websocket-extensions" || name === "content-length" || name === "transfer-encoding") continue;
      out.push(name, value);
    }
  }
  if (!chose && protocols.length > 0) out.push("sec-websocket-protocol", protocols[0]!);
  return out;
}

/** Bun's `server.publish(topic, data)`: to every subscriber of `topic` in this worker. */
export function publish(topic: string, data: WsMessage, _compress?: boolean): number {
  const frame = typeof data === "string" ? encodeFrame(OP.TEXT, data) : encodeFrame(OP.BINARY, bytesOf(data));
  const len7 = frame[1]! & 0x7f;
  return processTopics.publish(topic, frame, frame.length - (len7 < 126 ? 2 : len7 === 126 ? 4 : 10), null);
}

export function subscriberCount(topic: string): number {
  return processTopics.count(topic);
}

export { CLOSE };
