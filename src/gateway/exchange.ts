import type { RequestHead } from "../http/index.ts";
import type { WsContext } from "../ws/context.ts";
import type { UpgradeHost, Upgraded } from "../ws/endpoint.ts";

/**
 * The narrow boundary between a connection (src/server) and an app interface (src/gateway): one request and
 * its response. A gateway turns it into what the app speaks; the connection owns the socket, the framing,
 * keep-alive, limits and timeouts.
 */

export { ConnectionInfo } from "./info.ts";
import type { ConnectionInfo } from "./info.ts";

/** Where the connection pushes request body bytes once the app reads. */
export interface BodySink {
  /** A run of body bytes (a view the sink may keep). Return false to stop the flow until `resume()`. */
  data(chunk: Buffer): boolean;
  end(): void;
  error(err: Error): void;
}

export interface RequestBody {
  /** Declared length (Content-Length), or null for a chunked body. */
  readonly length: number | null;
  /** Starts the flow of body bytes into `sink`; sends `100 Continue` first when the client expects it. */
  start(sink: BodySink): void;
  /** Continues a flow stopped by `sink.data` returning false. */
  resume(): void;
  /** The app will read no more; what is left is drained (bounded) or the connection closed after the response. */
  discard(): void;
}

/**
 * A body given as text whose every char is ASCII (so its UTF-8 bytes are its chars), checked by the gateway:
 * it is written with its head as one string, with no bytes made for it first.
 */
export type AsciiText = string & { readonly __ascii: true };

/** The text as AsciiText when every char is ASCII (and it is small enough to go out with its head); else null. */
export function asciiText(text: string): AsciiText | null {
  if (text === lastAscii) return text as AsciiText;
  if (text.length > 16 * 1024 || !ASCII.test(text)) return null;
  lastAscii = text;
  return text as AsciiText;
}
// The last text found ASCII: an app answering with the same string again is not checked again.
let lastAscii = "";
const ASCII = /^[\x00-\x7f]*$/;

export interface Exchange {
  readonly head: RequestHead;
  /** The connection's facts; the client's address is the one a trusted proxy names, when one does. */
  readonly info: ConnectionInfo;
  /** "https" on a TLS connection or when a trusted proxy says the client used it; else "http". */
  readonly scheme: "http" | "https";
  /** The host a trusted proxy says the client asked for (it wins over Host in the request's URL), or null. */
  readonly forwardedHost: string | null;
  /** null when the request has no body. */
  readonly body: RequestBody | null;
  /** Set by the gateway: called once if the client goes away before the response is complete. */
  onAbort: ((reason: Error) => void) | null;
  /** True once the client went away before the response was complete (when `onAbort` is called). */
  readonly aborted: boolean;
  /** True once the connection is gone or this exchange is over: further calls do nothing. */
  readonly closed: boolean;
  /**
   * A whole response in one write. `headers` is flat (name, value, …), lowercase names, without framing
   * fields. A null body with `length` ≥ 0 (a HEAD answer, or a 304) declares that Content-Length.
   */
  respond(status: number, reason: string, headers: string[], body: Uint8Array | AsciiText | null, length?: number): void;
  /** Starts a streamed response; `length` is a declared Content-Length, or -1 for unknown. */
  begin(status: number, reason: string, headers: string[], length: number): void;
  /** Writes a chunk of a streamed response; false means wait for `drained()` before the next. */
  write(chunk: Uint8Array): boolean;
  drained(): Promise<void>;
  end(): void;
  /** Abandons a response mid-way (the app's stream failed): the client must not take it as complete. */
  destroy(err: Error): void;
  /** Answers with a response of oryx's own (500 for a failed app, 501, 400 …), closing if `close`. */
  fail(status: number, close?: boolean): void;
  /** What the server's WebSockets share; null (or absent) when the server takes none. */
  readonly websocket?: WsContext | null;
  /**
   * Switches the connection to WebSocket: writes `head` (the 101) and hands every later byte to the endpoint
   * `make` returns; the exchange is then over. Null when it cannot (answered already, a body on its way, stopping).
   */
  upgrade?<E extends Upgraded>(head: string, make: (host: UpgradeHost) => E): E | null;
}

/** What a gateway gives the server: a function called once per request head. */
export type RequestHandler = (exchange: Exchange) => void;

/** One line of the access log: what was asked, what was answered. */
export interface AccessRecord {
  info: ConnectionInfo;
  head: RequestHead;
  /** The status sent, or 0 if none was. */
  status: number;
  bytes: number;
  startedAt: number;
  durationMs: number;
}
