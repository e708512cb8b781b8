import { httpDate } from "./date.ts";
import { STATUS_TEXT, statusLine } from "./status.ts";
import type { ResponseFraming } from "./framing.ts";

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
  /** The Date value to write (from a clock the caller already read), else the current one. */
  date?: string;
}

// The last head serialized and what it was made of. Consecutive responses alike (one route answering the same
// way, within the same second) are common enough under load that checking costs far less than it saves. The
// headers list is compared field by field: an app that writes `headers: { "content-type": … }` makes a new list
// each time, of the same literal strings, which compare in a pointer check each.
let memoHead = "";
let memoHeaders: string[] | null = null;
let memoStatus = 0;
let memoReason = "";
let memoFraming: ResponseFraming = "none";
let memoLength = -1;
let memoClose = false;
let memoKeepAlive10 = false;
let memoServer = "";
let memoDate = "";
// Where the memo's flattening read lands (kept so the read is not optimised away).
let memoFirstChar = 0;

function sameFields(a: string[], b: string[] | null): boolean {
  if (a === b) return true;
  if (b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Serializes a response head; the result is written as latin1 so every char is exactly one byte. A `headers`
 * list must not be changed once passed here (the memo above keeps it to compare the next one with).
 */
export function serializeHead(h: ResponseHeadInit): string {
  const date = h.hasDate ? "" : (h.date ?? httpDate());
  const headers = h.headers;
  if (
    sameFields(headers, memoHeaders) && h.status === memoStatus && h.reason === memoReason && h.framing === memoFraming &&
    h.contentLength === memoLength && h.close === memoClose && h.keepAlive10 === memoKeepAlive10 &&
    h.server === memoServer && date === memoDate
  ) {
    return memoHead;
  }
  let s = statusLine(h.status, h.reason);
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (!h.hasDate) s += `date: ${date}\r\n`;
  if (h.server !== "") s += `server: ${h.server}\r\n`;
  if (h.framing === "length") s += `content-length: ${h.contentLength}\r\n`;
  else if (h.framing === "chunked") s += "transfer-encoding: chunked\r\n";
  if (h.close) s += "connection: close\r\n";
  else if (h.keepAlive10) s += "connection: keep-alive\r\n";
  s += "\r\n";
  // Built by `+=`, the head is a tree of a dozen pieces that every write of it would walk again; reading one char
  // makes V8 flatten it in place, once, and later writes of the memo copy one run of bytes (~50 ns less each).
  memoFirstChar = s.charCodeAt(0);
  memoHead = s;
  memoHeaders = headers;
  memoStatus = h.status;
  memoReason = h.reason;
  memoFraming = h.framing;
  memoLength = h.contentLength;
  memoClose = h.close;
  memoKeepAlive10 = h.keepAlive10;
  memoServer = h.server;
  memoDate = date;
  return s;
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
