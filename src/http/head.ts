import { CR, LF, SP, TARGET, TCHAR } from "./chars.ts";
import { HttpError, badRequest } from "./errors.ts";
import { latin1, lineEnd, listElements, parseFieldAt, parseFieldLine, sameText } from "./fields.ts";
import type { Limits } from "./limits.ts";

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyFraming = "none" | "length" | "chunked";

/** A parsed, validated request head. Field names are lowercased; values are as sent, minus surrounding OWS. */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1: no other version gets this far. */
  versionMinor: 0 | 1;
  /** Flat list, in arrival order: name, value, name, value, … */
  headers: string[];
  /** The Host field's value, or "" when absent (HTTP/1.0 only). */
  host: string;
  framing: BodyFraming;
  /** Body length for framing "length"; 0 otherwise. */
  contentLength: number;
  /** Whether the client allows the connection to stay open after this exchange. */
  keepAlive: boolean;
  /** `Expect: 100-continue` on HTTP/1.1. */
  expectContinue: boolean;
  /** The Connection field lists `upgrade` (a WebSocket handshake, if Upgrade says so too). */
  upgrade: boolean;
}

// Leading empty lines before a request line are tolerated (RFC 9112 §2.2), up to this many.
const MAX_LEADING_EMPTY_LINES = 8;

// A Host value: a reg-name or IPv4 address, or a bracketed IPv6/IPvFuture literal, and an optional port. Never an
// empty host: oryx serves http and https, whose URIs may not have one (RFC 9110 §4.2.1: a recipient must reject
// such a URI), and "http:///" is what a target with an empty Host would make.
const HOST_RE = /^(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|[0-9A-Za-z._~!$&'()*+,;=%-]+)(?::[0-9]*)?$/;

/**
 * Incremental parser of a request head (request line and field section), RFC 9112 strict.
 *
 * Bytes may arrive split anywhere: `execute` is fed each read in turn and keeps at most one partial line, so the
 * result never depends on how the bytes were split, and no byte is scanned twice except a partial line's.
 *
 * Line ends: CRLF, or a bare LF (RFC 9112 §2.2 allows a recipient to accept it; oryx does, in the request line
 * and every header field line alike). A CR anywhere but right before LF is refused.
 */
export class HeadParser {
  private readonly limits: Limits;
  private partial: Buffer | null = null;
  private seenRequestLine = false;
  private emptyLines = 0;
  private bytes = 0;
  private method = "";
  private target = "";
  private versionMinor: 0 | 1 = 1;
  private headers: string[] = NO_FIELDS;
  // The target this connection's client sent last: clients repeat theirs, and reusing the string saves decoding
  // it. (Kept per connection: a target may hold a secret, so no other client's request is compared with it.)
  private lastTarget = "";
  /** With raw names kept: the fields as sent (name as spelled, value), for a Node app's `req.rawHeaders`. */
  private readonly keepRaw: boolean;
  private raw: string[] | null = null;

  /** `rawNames`: also keep the fields as the client spelled their names (see rawHeaders). */
  constructor(limits: Limits, rawNames = false) {
    this.limits = limits;
    this.keepRaw = rawNames;
  }

  /**
   * The head's fields as sent, names as the client spelled them (flat: name, value, …), once it is complete; a
   * new list for each head. Only for a parser made with `rawNames`.
   */
  rawHeaders(): string[] {
    const raw = this.raw ?? [];
    this.raw = null;
    return raw;
  }

  /** True once any byte of this head has been received (a timeout then earns a 408, not a silent close). */
  get started(): boolean {
    return this.bytes > 0;
  }

  reset(): void {
    this.partial = null;
    this.seenRequestLine = false;
    this.emptyLines = 0;
    this.bytes = 0;
    this.method = "";
    this.target = "";
    this.versionMinor = 1;
    // An idle connection holds no list of its own until the next head's first field arrives.
    this.headers = NO_FIELDS;
    this.raw = null;
  }

  /**
   * Consumes bytes of `buf` from `start`. Returns the offset just past the head once it is complete (then call
   * `finish`), or -1 when every byte was consumed and more are needed. Throws HttpError on a refusal.
   */
  execute(buf: Buffer, start: number): number {
    let pos = start;
    const len = buf.length;
    this.bytes += len - start;
    while (pos < len) {
      if (this.partial === null) {
        // Most lines: one pass, straight from the read (see requestLineAt and parseFieldAt); the rest below.
        const next = this.seenRequestLine ? this.fieldAt(buf, pos, len) : this.requestLineAt(buf, pos, len);
        if (next !== -1) {
          pos = next;
          continue;
        }
      }
      const lf = findLF(buf, pos, len);
      if (lf === -1) {
        this.keepPartial(buf, pos, len);
        return -1;
      }
      let line: Buffer = buf;
      let ls = pos;
      let le = lf;
      if (this.partial !== null) {
        line = Buffer.concat([this.partial, buf.subarray(pos, lf)]);
        this.partial = null;
        ls = 0;
        le = line.length;
      }
      pos = lf + 1;
      if (le > ls && line[le - 1] === CR) le--;
      if (this.onLine(line, ls, le)) {
        this.bytes -= len - pos;
        return pos;
      }
    }
    return -1;
  }

  /** Keeps an unterminated line for the next read, refusing it as soon as it is longer than any line may be. */
  private keepPartial(buf: Buffer, from: number, to: number): void {
    const tail = buf.subarray(from, to);
    const kept = this.partial === null ? Buffer.from(tail) : Buffer.concat([this.partial, tail]);
    // +1: the line's CR may already be here while its LF is not.
    if (!this.seenRequestLine) {
      if (kept.length > this.limits.requestLine + 1) throw tooLongLine(kept, 0, this.limits.requestLine);
    } else if (kept.length > this.limits.fieldSize + 1) {
      throw tooLargeField();
    }
    this.partial = kept;
  }

  /** Handles one complete line; returns true when it was the empty line that ends the head. */
  private onLine(buf: Buffer, start: number, end: number): boolean {
    if (!this.seenRequestLine) {
      if (start === end) {
        if (++this.emptyLines > MAX_LEADING_EMPTY_LINES) throw badRequest("BAD_REQUEST_LINE", "too many empty lines before the request line");
        return false;
      }
      if (end - start > this.limits.requestLine) throw tooLongLine(buf, start, this.limits.requestLine);
      this.parseRequestLine(buf, start, end);
      this.seenRequestLine = true;
      return false;
    }
    if (start === end) return true;
    if (end - start > this.limits.fieldSize) throw tooLargeField();
    if (this.headers.length >= this.limits.fields * 2) {
      throw new HttpError(431, "TOO_MANY_FIELDS", "the request has too many header fields");
    }
    if (this.headers === NO_FIELDS) this.headers = [];
    if (this.keepRaw) this.raw ??= [];
    parseFieldLine(buf, start, end, this.headers, "BAD_FIELD_NAME", true, this.raw);
    return false;
  }

  /**
   * The request line in one pass, for the common case: a token method, a target (the last one again is matched
   * in place), "HTTP/x.y" and the line end, all within this read and the line limit. Returns the offset past the
   * line, or -1 having changed nothing, and the line is then found and parsed whole as before (so a refusal and
   * its reason are the same whichever way the bytes were split).
   */
  private requestLineAt(buf: Buffer, pos: number, len: number): number {
    let i = pos;
    while (i < len && TCHAR[buf[i]!] === 1) i++;
    if (i === pos || i >= len || buf[i] !== SP) return -1;
    const methodEnd = i;
    const targetStart = ++i;
    const last = this.lastTarget;
    let targetEnd = targetStart + last.length;
    const again = last !== "" && targetEnd < len && buf[targetEnd] === SP && sameText(buf, targetStart, targetEnd, last);
    if (!again) {
      while (i < len && TARGET[buf[i]!] === 1) i++;
      if (i === targetStart || i >= len || buf[i] !== SP) return -1;
      targetEnd = i;
    }
    const versionStart = targetEnd + 1;
    const end = versionStart + 8;
    // A bare LF right after a CR would make the CR look like part of the version: the line-by-line path decides.
    if (end >= len || (buf[end] === LF && buf[end - 1] === CR)) return -1;
    const next = lineEnd(buf, end, len);
    if (next === -1 || end - pos > this.limits.requestLine) return -1;
    this.acceptRequestLine(buf, pos, methodEnd, targetStart, targetEnd, end, again);
    this.seenRequestLine = true;
    return next;
  }

  /** A header field line in one pass (parseFieldAt), unless this head already has as many fields as allowed. */
  private fieldAt(buf: Buffer, pos: number, len: number): number {
    const first = buf[pos];
    if (first === CR || first === LF || this.headers.length >= this.limits.fields * 2) return -1;
    if (this.headers === NO_FIELDS) this.headers = [];
    if (this.keepRaw) this.raw ??= [];
    return parseFieldAt(buf, pos, len, this.limits.fieldSize, this.headers, this.raw);
  }

  private parseRequestLine(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && TCHAR[buf[i]!] === 1) i++;
    if (i === start || i === end || buf[i] !== SP) throw badRequest("BAD_METHOD", "the request method is missing or not a token");
    const methodEnd = i;
    const targetStart = ++i;
    while (i < end && TARGET[buf[i]!] === 1) i++;
    if (i === targetStart || i === end || buf[i] !== SP) {
      throw badRequest("BAD_TARGET", "the request target is missing or holds a character it may not");
    }
    this.acceptRequestLine(buf, start, methodEnd, targetStart, i, end, false);
  }

  /**
   * A request line whose method and target are already scanned: its version, method and target, checked.
   * `again`: the target is already known to be the last one.
   */
  private acceptRequestLine(buf: Buffer, start: number, methodEnd: number, targetStart: number, targetEnd: number, end: number, again: boolean): void {
    this.versionMinor = parseVersion(buf, targetEnd + 1, end);
    this.method = knownMethod(buf, start, methodEnd) ?? latin1(buf, start, methodEnd);
    if (again || sameText(buf, targetStart, targetEnd, this.lastTarget)) {
      this.target = this.lastTarget;
    } else {
      this.target = latin1(buf, targetStart, targetEnd);
      if (targetEnd - targetStart <= 256) this.lastTarget = this.target;
    }
    checkTargetForm(this.method, this.target);
  }

  /** Validates the whole head once its field section has ended, and works out the body's framing. */
  finish(bodyLimit: number): RequestHead {
    const headers = this.headers === NO_FIELDS ? [] : this.headers;
    const v1 = this.versionMinor;
    let host: string | undefined;
    let hostCount = 0;
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let expect: string | undefined;
    for (let k = 0; k < headers.length; k += 2) {
      const name = headers[k]!;
      const value = headers[k + 1]!;
      switch (name) {
        case "host":
          hostCount++;
          host = value;
          break;
        case "content-length":
          if (!isDigits(value)) throw badRequest("BAD_CONTENT_LENGTH", "Content-Length is not a plain number");
          if (contentLength !== undefined && contentLength !== value) {
            throw badRequest("BAD_CONTENT_LENGTH", "Content-Length differs between its copies");
          }
          contentLength = value;
          break;
        case "transfer-encoding":
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
          break;
        case "connection":
          connection = connection === undefined ? value : `${connection},${value}`;
          break;
        case "expect":
          expect = expect === undefined ? value : `${expect},${value}`;
          break;
      }
    }
    if (v1 === 1 && hostCount !== 1) {
      throw badRequest("BAD_HOST", hostCount === 0 ? "an HTTP/1.1 request must carry a Host field" : "the Host field is repeated");
    }
    if (hostCount > 1) throw badRequest("BAD_HOST", "the Host field is repeated");
    if (host !== undefined && host !== validHost) {
      if (!HOST_RE.test(host)) throw badRequest("BAD_HOST", "the Host field is not a valid host[:port]");
      validHost = host;
    }

    let framing: BodyFraming = "none";
    let length = 0;
    if (transferEncoding !== undefined) {
      if (contentLength !== undefined) {
        throw badRequest("CONTENT_LENGTH_WITH_TRANSFER_ENCODING", "a request may not carry both Content-Length and Transfer-Encoding");
      }
      if (v1 === 0) throw badRequest("TRANSFER_ENCODING_ON_HTTP10", "Transfer-Encoding is not allowed on HTTP/1.0");
      checkTransferCodings(transferEncoding);
      framing = "chunked";
    } else if (contentLength !== undefined) {
      // Leading zeros say nothing. A value past exact integer arithmetic cannot be a length at all (400); one
      // it can represent but over the limit is a body too large (413).
      let first = 0;
      while (first < contentLength.length - 1 && contentLength.charCodeAt(first) === 0x30 /* 0 */) first++;
      const digits = contentLength.length - first;
      if (digits > 16 || Number(contentLength) > Number.MAX_SAFE_INTEGER) {
        throw badRequest("BAD_CONTENT_LENGTH", "the Content-Length is too large to be a length");
      }
      if (Number(contentLength) > bodyLimit) {
        throw new HttpError(413, "BODY_TOO_LARGE", "the request body is larger than this server accepts");
      }
      length = Number(contentLength);
      if (length > 0) framing = "length";
    }

    let keepAlive = v1 === 1;
    let upgrade = false;
    if (connection !== undefined) {
      for (const token of listElements(connection)) {
        if (token === "upgrade") upgrade = true;
        if (token === "close") {
          keepAlive = false;
          break;
        }
        if (token === "keep-alive" && v1 === 0) keepAlive = true;
      }
    }

    let expectContinue = false;
    if (expect !== undefined && v1 === 1) {
      for (const e of listElements(expect)) {
        if (e !== "100-continue") throw new HttpError(417, "EXPECTATION_FAILED", "the only expectation this server meets is 100-continue");
        expectContinue = true;
      }
    }

    return {
      method: this.method,
      target: this.target,
      versionMinor: v1,
      headers,
      host: host ?? "",
      framing,
      contentLength: length,
      keepAlive,
      expectContinue: expectContinue && framing !== "none",
      upgrade,
    };
  }
}

/** The field list of a head without fields yet: shared, never written (replaced before the first field). */
const NO_FIELDS: string[] = Object.freeze([]) as unknown as string[];

/** The last Host value found valid (shared: a site's clients all send its Host). */
let validHost = "";

const METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];

/** The method's string without decoding it, when it is a common one (case-sensitive: methods are). */
function knownMethod(buf: Uint8Array, start: number, end: number): string | undefined {
  if (end - start === 3 && buf[start] === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return "GET";
  for (const m of METHODS) if (sameText(buf, start, end, m)) return m;
  return undefined;
}

/**
 * The index of the next LF in `buf[from, to)`, or -1. Most head lines are short: a plain loop finds their end
 * sooner than a call into Buffer.indexOf; a long line (a cookie, say) goes to indexOf after the first 64 bytes.
 */
function findLF(buf: Buffer, from: number, to: number): number {
  const stop = Math.min(to, from + 64);
  for (let i = from; i < stop; i++) if (buf[i] === LF) return i;
  return stop === to ? -1 : buf.indexOf(LF, stop);
}

function parseVersion(buf: Buffer, start: number, end: number): 0 | 1 {
  // "HTTP/" DIGIT "." DIGIT, exactly (RFC 9112 §2.3).
  if (
    end - start !== 8 ||
    buf[start] !== 0x48 || buf[start + 1] !== 0x54 || buf[start + 2] !== 0x54 || buf[start + 3] !== 0x50 ||
    buf[start + 4] !== 0x2f || buf[start + 6] !== 0x2e
  ) {
    throw badRequest("BAD_VERSION", "the HTTP version is malformed");
  }
  const major = buf[start + 5]! - 0x30;
  const minor = buf[start + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw badRequest("BAD_VERSION", "the HTTP version is malformed");
  if (major === 1 && (minor === 0 || minor === 1)) return minor;
  throw new HttpError(505, "UNSUPPORTED_VERSION", "only HTTP/1.0 and HTTP/1.1 are supported");
}

/** The four request-target forms (RFC 9112 §3.2), each allowed only where the RFC allows it. */
function checkTargetForm(method: string, target: string): void {
  if (method === "CONNECT") {
    // authority-form, and only it (RFC 9112 §3.2.3).
    if (/^[^/?#@]+:[0-9]+$/.test(target)) return;
    throw badRequest("BAD_TARGET", "CONNECT needs a host:port target");
  }
  if (target.charCodeAt(0) === 0x2f /* / */) return;
  if (target === "*") {
    if (method === "OPTIONS") return;
    throw badRequest("BAD_TARGET", "the asterisk form is only for OPTIONS");
  }
  if (/^https?:\/\/[^/?#]/i.test(target)) return;
  throw badRequest("BAD_TARGET", "the request target is not in a form this server accepts");
}

/**
 * Transfer-Encoding must end in chunked, name chunked once, and name nothing else oryx can decode
 * (RFC 9112 §6.1). Which error comes first matters: a last coding that is not chunked leaves the body's end
 * unknowable (400); a valid chain with an unknown coding is a feature oryx lacks (501).
 */
function checkTransferCodings(value: string): void {
  const codings = listElements(value);
  if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
    throw badRequest("BAD_TRANSFER_ENCODING", "Transfer-Encoding must end with chunked");
  }
  let chunked = 0;
  for (const coding of codings) {
    for (let i = 0; i < coding.length; i++) {
      if (TCHAR[coding.charCodeAt(i)] !== 1) throw badRequest("BAD_TRANSFER_ENCODING", "a transfer coding is not a token");
    }
    if (coding === "chunked") chunked++;
  }
  if (chunked > 1) throw badRequest("BAD_TRANSFER_ENCODING", "Transfer-Encoding names chunked more than once");
  if (codings.length > 1) throw new HttpError(501, "UNKNOWN_TRANSFER_CODING", "the only transfer coding this server decodes is chunked");
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * A request line over the limit: 414 for a long target; but a line whose method alone is as long as a request
 * line may be is no request line at all (garbage, not a long URI), and gets 400.
 */
function tooLongLine(buf: Buffer, start: number, limit: number): HttpError {
  // Only the line's first `limit` bytes are looked at, so the answer is the same however the line arrives.
  const sp = buf.subarray(start, start + limit).indexOf(SP);
  if (sp === -1) return badRequest("BAD_METHOD", "the request method is longer than a request line may be");
  return new HttpError(414, "REQUEST_LINE_TOO_LONG", "the request line is longer than this server accepts");
}

function tooLargeField(): HttpError {
  return new HttpError(431, "FIELD_TOO_LARGE", "a header field is larger than this server accepts");
}

