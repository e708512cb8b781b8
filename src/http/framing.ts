/**
 * Response framing, decided once: whether a response carries a body on the wire, how that body is delimited
 * (Content-Length, chunked, the connection's close, or nothing), which Content-Length is written, and which of
 * the app's header fields are oryx's to write instead (RFC 9112 §6, RFC 9110 §6.4.1). Pure functions of the
 * request (method, version), the status, what the app declared and what it hands over; the connection asks here
 * and only carries the answer out.
 */
import { statusForbidsBody } from "./status.ts";

/** How a response body is delimited on the wire. */
export type ResponseFraming =
  | "length" // Content-Length
  | "chunked" // Transfer-Encoding: chunked (HTTP/1.1 only)
  | "close" // the body ends when the connection closes (HTTP/1.0 clients of a stream)
  | "none"; // no body and no length (1xx, 204, or a HEAD/304 whose length is unknown)

/** `body` argument: a whole response without a body (null). Non-negative values are a whole body's length. */
export const NO_BODY = -1;
/** `body` argument: the body is streamed; its length is unknown when the head is written. */
export const STREAMED = -2;

/**
 * How the response's body is delimited. `declared` is the Content-Length the app gave (-1: none); `body` is the
 * length of a whole body handed over, NO_BODY, or STREAMED.
 * - 1xx, 204, 304: no body; a 304 keeps a declared Content-Length (it describes the representation, §15.4.5).
 * - A whole body, or a declared length: Content-Length (a whole body's own length wins over the declared one).
 * - A whole response without a body: Content-Length: 0, except to HEAD, where nothing is known of the body.
 * - A stream of unknown length: chunked to HTTP/1.1 (also to HEAD: the head is the one a GET would get),
 *   close-delimited to HTTP/1.0 (none to a HEAD: no body follows and the connection need not close).
 */
export function responseFraming(isHead: boolean, versionMinor: number, status: number, declared: number, body: number): ResponseFraming {
  if (statusForbidsBody(status)) return status === 304 && declared >= 0 ? "length" : "none";
  if (body >= 0 || declared >= 0) return "length";
  if (body === NO_BODY) return isHead ? "none" : "length";
  if (versionMinor === 1) return "chunked";
  return isHead ? "none" : "close";
}

/** The Content-Length written when `responseFraming` answers "length" (same arguments). */
export function framedLength(isHead: boolean, status: number, declared: number, body: number): number {
  if (statusForbidsBody(status)) return declared;
  if (body >= 0) return body;
  if (body === NO_BODY && !isHead) return 0;
  return declared;
}

/** Whether body bytes go on the wire at all: never in answer to HEAD, never with 1xx, 204 or 304. */
export function bodyOnWire(isHead: boolean, status: number): boolean {
  return !isHead && !statusForbidsBody(status);
}

/** Whether the connection must close after this response, as far as the exchange itself says. */
export function closesAfter(requestKeepAlive: boolean, framing: ResponseFraming, appSaysClose: boolean): boolean {
  return !requestKeepAlive || framing === "close" || appSaysClose;
}

/** The app's framing-related header fields, read and taken out of its list (they are oryx's to write). */
export interface AppFraming {
  /** The app's list without content-length, transfer-encoding, connection and keep-alive. */
  headers: string[];
  /** The app's Content-Length when it is a plain decimal, else -1. */
  length: number;
  /** The app said `Connection: close`. */
  close: boolean;
  /** The app gave its own Date (kept in `headers`). */
  date: boolean;
}

/**
 * Reads a flat (name, value, …) list of lowercase names. Null when it holds none of those fields (nearly every
 * list): the list is then sent as it is, and nothing was allocated or stored.
 */
export function takeAppFraming(headers: string[]): AppFraming | null {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name === "content-length" || name === "transfer-encoding" || name === "connection" || name === "date" || name === "keep-alive") {
      return takeFrom(headers);
    }
  }
  return null;
}

function takeFrom(headers: string[]): AppFraming {
  const clean: string[] = [];
  let length = -1;
  let close = false;
  let date = false;
  for (let j = 0; j < headers.length; j += 2) {
    const n = headers[j]!;
    const v = headers[j + 1]!;
    if (n === "content-length") {
      if (/^[0-9]{1,15}$/.test(v)) length = Number(v);
    } else if (n === "connection") {
      if (/(^|,)\s*close\s*(,|$)/i.test(v)) close = true;
    } else if (n === "date") {
      date = true;
      clean.push(n, v);
    } else if (n !== "transfer-encoding" && n !== "keep-alive") {
      clean.push(n, v);
    }
  }
  return { headers: clean, length, close, date };
}
