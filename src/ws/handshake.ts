import { createRequire } from "node:module";
import type { RequestHead } from "../http/index.ts";
import { listElements } from "../http/fields.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// 16 bytes in base64: 22 chars and "==" (RFC 6455 §4.1: "a nonce consisting of a randomly selected 16-byte value").
const KEY_RE = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

// node:crypto (OpenSSL's set-up, about 1 MiB) is loaded by the first handshake, not by every worker.
let crypto: typeof import("node:crypto") | null = null;

/** Sec-WebSocket-Accept for a client's key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  crypto ??= createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
  return crypto.createHash("sha1").update(key + GUID).digest("base64");
}

/** The request's one value of `name`, or null when absent; the values joined with commas when repeated. */
export function field(head: RequestHead, name: string): string | null {
  let v: string | null = null;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) v = v === null ? h[i + 1]! : `${v},${h[i + 1]!}`;
  return v;
}

export type HandshakeCheck =
  | { ok: true; key: string; protocols: string[]; extensions: string | null }
  /** Why the request is no WebSocket opening handshake; `status` is what a server answering it itself would send. */
  | { ok: false; status: 400 | 426; reason: string };

/**
 * Checks a request as a WebSocket opening handshake (RFC 6455 §4.2.1): GET, HTTP/1.1, `Upgrade: websocket`,
 * `Connection: upgrade`, `Sec-WebSocket-Version: 13` (another version: 426, the answer then names 13) and a key
 * that is 16 bytes in base64; no request body.
 */
export function checkHandshake(head: RequestHead): HandshakeCheck {
  if (head.method !== "GET") return { ok: false, status: 400, reason: "a WebSocket handshake must be a GET" };
  if (head.versionMinor !== 1) return { ok: false, status: 400, reason: "a WebSocket handshake must be HTTP/1.1" };
  if (!head.upgrade) return { ok: false, status: 400, reason: "the Connection field does not list upgrade" };
  const upgrade = field(head, "upgrade");
  if (upgrade === null || !listElements(upgrade).includes("websocket")) return { ok: false, status: 400, reason: "the Upgrade field does not name websocket" };
  if (head.framing !== "none") return { ok: false, status: 400, reason: "a WebSocket handshake may not carry a body" };
  const version = field(head, "sec-websocket-version");
  if (version === null || version.trim() !== "13") return { ok: false, status: 426, reason: "Sec-WebSocket-Version is not 13" };
  const key = field(head, "sec-websocket-key");
  if (key === null || !KEY_RE.test(key.trim())) return { ok: false, status: 400, reason: "Sec-WebSocket-Key is not 16 bytes in base64" };
  const proto = field(head, "sec-websocket-protocol");
  return { ok: true, key: key.trim(), protocols: proto === null ? [] : proto.split(",").map((p) => p.trim()).filter((p) => p !== ""), extensions: field(head, "sec-websocket-extensions") };
}

/** The 101 response head: oryx's fields, then the app's (flat name, value list, already checked), then CRLF. */
export function switchingProtocols(key: string, extra: string[]): string {
  let s = `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${acceptKey(key)}\r\n`;
  for (let i = 0; i < extra.length; i += 2) s += `${extra[i]!}: ${extra[i + 1]!}\r\n`;
  return `${s}\r\n`;
}
