import { httpDate } from "./date.ts";
import { STATUS_TEXT, statusLine } from "./status.ts";

/** How a response body is delimited on the wire. */
export type ResponseFraming =
  | "length" // Content-Length
  | "chunked" // Transfer-Encoding: chunked (HTTP/1.1 only)
  | "close" // the body ends when the connection closes (HTTP/1.0 clients of a stream)
  | "none"; // no body and no length (1xx, 204, or a HEAD/304 whose length is unknown)

export interface ResponseHeadInit {
  status: number;
  reason: string;
  /** Flat list: name, value, name, value, … Must not hold framing or connection fields; those are added here. */
  headers: string[];
  framing: ResponseFraming;
  contentLength: number;
  /** Write `Connection: close` (true) or, for an HTTP/1.0 client kept alive, `Connection: keep-alive`. */
  close: boolean;
  keepAlive10: boolean;
  /** The configured Server header, or "" for none. */
  server: string;
  /** Whether the app gave its own Date. */
  hasDate: boolean;
}

/** Serializes a response head; the result is written as latin1 so every char is exactly one byte. */
export function serializeHead(h: ResponseHeadInit): string {
  let s = statusLine(h.status, h.reason);
  const headers = h.headers;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (!h.hasDate) s += `date: ${httpDate()}\r\n`;
  if (h.server !== "") s += `server: ${h.server}\r\n`;
  if (h.framing === "length") s += `content-length: ${h.contentLength}\r\n`;
  else if (h.framing === "chunked") s += "transfer-encoding: chunked\r\n";
  if (h.close) s += "connection: close\r\n";
  else if (h.keepAlive10) s += "connection: keep-alive\r\n";
  return s + "\r\n";
}

/**
 * A complete response oryx writes itself (a refusal or a 500): short plain text, no app involved. The body
 * is the reason phrase only: no client bytes are echoed and no stack trace leaves the server.
 */
export function simpleResponse(status: number, close: boolean, server: string, extraHeaders: string[] = []): string {
  const body = `${STATUS_TEXT[status] ?? "Error"}\n`;
  return (
    serializeHead({
      status,
      reason: "",
      headers: ["content-type", "text/plain; charset=utf-8", ...extraHeaders],
      framing: "length",
      contentLength: body.length,
      close,
      keepAlive10: false,
      server,
      hasDate: false,
    }) + body
  );
}

export const CONTINUE_100 = "HTTP/1.1 100 Continue\r\n\r\n";
export const LAST_CHUNK = "0\r\n\r\n";

/** The size line that starts a chunk of `n` bytes (n > 0: a zero-size chunk would end the body). */
export function chunkHeader(n: number): string {
  return `${n.toString(16)}\r\n`;
}
