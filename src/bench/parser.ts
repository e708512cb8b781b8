/**
 * Incremental HTTP/1.1 response parser for the load generator. It verifies each response's status line and
 * header syntax and follows its framing (Content-Length, chunked, or to the end of the connection) byte for
 * byte, so a response that lies about its length or breaks chunked framing is caught. It keeps nothing but
 * the status code and a few numbers: no strings, no header objects. Bytes may be split anywhere.
 *
 * Strict where framing is concerned: lines end with CRLF (a bare LF or CR in the head is malformed), a header
 * with both Content-Length and Transfer-Encoding is malformed, and so are differing Content-Lengths.
 */

import { CR, FIELD_VALUE, HEX, HTAB, LF, SP, TCHAR } from "../http/chars.ts";

/** Called for every final (non-1xx) response once its body is complete; `close` if the connection ends after it. */
export type OnResponse = (status: number, close: boolean) => void;

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_EXT = 3;
const CHUNK_SIZE_LF = 4;
const CHUNK_DATA = 5;
const CHUNK_DATA_CR = 6;
const CHUNK_DATA_LF = 7;
const TRAILER_START = 8;
const TRAILER_LINE = 9;
const TRAILER_LF = 10;
const TRAILER_END_LF = 11;
const BODY_EOF = 12;

const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const PREFIX = Buffer.from("HTTP/1.", "latin1");

/** HTAB, SP, VCHAR, obs-text: what a field value or reason phrase may hold (the engine's own table). */
function textByte(c: number): boolean {
  return FIELD_VALUE[c] === 1;
}

/** Case-insensitive match of b[start, start+word.length) against a lower-case ASCII word. */
function matchLower(b: Uint8Array, start: number, word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) if ((b[start + i]! | 0x20) !== word[i]) return false;
  return true;
}

const CONTENT_LENGTH = Buffer.from("content-length", "latin1");
const TRANSFER_ENCODING = Buffer.from("transfer-encoding", "latin1");
const CONNECTION = Buffer.from("connection", "latin1");
const CHUNKED = Buffer.from("chunked", "latin1");
const CLOSE = Buffer.from("close", "latin1");
const KEEP_ALIVE = Buffer.from("keep-alive", "latin1");

export class ResponseParser {
  /** Why the stream is malformed, once feed() has returned false. A constant string: no allocation. */
  error: string | null = null;
  /** The method was HEAD: no response has a body. */
  headRequests = false;
  /**
   * Where the last feed() stopped. After halt() in onResponse that is just past the response that completed,
   * which lets a caller cut a stream into responses (the tests' parser does; the load generator does not).
   */
  stoppedAt = 0;

  private state = HEAD;
  /** Bytes of the current response seen (true from its first byte until it completes). */
  private started = false;
  private halted = false;
  /** Head bytes carried over from earlier reads while a head is incomplete. */
  private carry: Buffer | null = null;
  private carryLen = 0;
  /** Body bytes still expected (Content-Length, or the current chunk). */
  private remaining = 0;
  private chunkDigits = 0;
  private status = 0;
  private close = false;

  // Parsed head fields (reset per head).
  private minor = 1;
  private contentLength = -1;
  private teSeen = false;
  private chunked = false;
  private connClose = false;
  private connKeepAlive = false;

  constructor(private readonly onResponse: OnResponse) {}

  /** Forgets everything (a new connection). */
  reset(): void {
    this.error = null;
    this.state = HEAD;
    this.started = false;
    this.halted = false;
    this.carryLen = 0;
  }

  /** Stops parsing the rest of the current feed (the connection is being closed). */
  halt(): void {
    this.halted = true;
  }

  /** True while a response is partly received. */
  get inResponse(): boolean {
    return this.started;
  }

  /**
   * Parses b[start, end). Calls onResponse for each response completed. Returns false if the bytes are not a
   * valid response stream (`error` says why); parsing stops there.
   */
  feed(b: Buffer, start: number, end: number): boolean {
    this.halted = false;
    let pos = start;
    while (pos < end && !this.halted) {
      switch (this.state) {
        case HEAD: {
          pos = this.head(b, pos, end);
          if (pos < 0) return false;
          break;
        }
        case BODY_LENGTH: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case BODY_EOF:
          pos = end;
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.state = CHUNK_DATA_CR;
          break;
        }
        default: {
          // Chunked framing outside chunk data, a byte at a time (size lines and trailers are short).
          if (!this.chunkByte(b[pos]!)) return false;
          pos++;
        }
      }
    }
    this.stoppedAt = pos;
    return true;
  }

  /**
   * The connection ended. Returns "idle" (between responses), "complete" (a close-delimited response ended
   * here; onResponse was called) or "truncated" (a response was cut short).
   */
  finish(): "idle" | "complete" | "truncated" {
    if (this.state === BODY_EOF) {
      this.complete();
      return "complete";
    }
    return this.started ? "truncated" : "idle";
  }

  /** Records why the stream is malformed; -1 is feed()'s "stop" position. */
  private fail(why: string): -1 {
    this.error = why;
    return -1;
  }

  private bad(why: string): false {
    this.error = why;
    return false;
  }

  private complete(): void {
    this.state = HEAD;
    this.started = false;
    this.onResponse(this.status, this.close);
  }

  /** In HEAD: finds the end of the head (possibly across reads), parses it, sets up the body. Returns the new position or -1. */
  private head(b: Buffer, pos: number, end: number): number {
    this.started = true;
    if (this.carryLen === 0) {
      // Fast path: the whole head is in this read. indexOf may look past `end` (a shared read buffer holds old
      // bytes there), so a match is only real if it ends by `end`.
      const i = b.indexOf(HEAD_END, pos);
      if (i >= 0 && i + 4 <= end) {
        if (!this.parseHead(b, pos, i + 2)) return -1;
        return this.afterHead(i + 4);
      }
      if (!this.checkPrefix(b, pos, end)) return this.fail("bad status line");
      return this.stash(b, pos, end);
    }
    // The head started in an earlier read: append and look again from just before the new bytes.
    const old = this.carryLen;
    const next = this.stash(b, pos, end);
    if (next < 0) return -1;
    const carry = this.carry!;
    const i = carry.indexOf(HEAD_END, Math.max(0, old - 3));
    if (i >= 0 && i + 4 <= this.carryLen) {
      this.carryLen = 0;
      if (!this.parseHead(carry, 0, i + 2)) return -1;
      return this.afterHead(pos + (i + 4 - old));
    }
    if (!this.checkPrefix(carry, 0, this.carryLen)) return this.fail("bad status line");
    return end;
  }

  /** The first bytes of a response must be "HTTP/1.": checked early so a garbage stream fails fast. */
  private checkPrefix(b: Buffer, pos: number, end: number): boolean {
    const n = Math.min(end - pos, PREFIX.length);
    for (let i = 0; i < n; i++) if (b[pos + i] !== PREFIX[i]) return false;
    return true;
  }

  private stash(b: Buffer, pos: number, end: number): number {
    const n = end - pos;
    if (this.carryLen + n > MAX_HEAD) return this.fail("response head too large");
    if (this.carry === null) this.carry = Buffer.allocUnsafe(MAX_HEAD);
    b.copy(this.carry, this.carryLen, pos, end);
    this.carryLen += n;
    return end;
  }

  /** Parses head bytes b[s, e) where e is just past the CRLF of the last field line. */
  private parseHead(b: Buffer, s: number, e: number): boolean {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
    if (e - s < 14 || !this.checkPrefix(b, s, e)) return this.bad("bad status line");
    const minor = b[s + 7]!;
    if ((minor !== 48 && minor !== 49) || b[s + 8] !== SP) return this.bad("bad status line");
    const d0 = b[s + 9]! - 48;
    const d1 = b[s + 10]! - 48;
    const d2 = b[s + 11]! - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.bad("bad status code");
    this.status = d0 * 100 + d1 * 10 + d2;
    this.minor = minor - 48;
    let i = s + 12;
    if (b[i] === SP) {
      i++;
      while (i < e && b[i] !== CR) {
        if (!textByte(b[i]!)) return this.bad("bad status line");
        i++;
      }
    }
    if (b[i] !== CR || b[i + 1] !== LF) return this.bad("bad status line");
    i += 2;

    this.contentLength = -1;
    this.teSeen = false;
    this.chunked = false;
    this.connClose = false;
    this.connKeepAlive = false;
    while (i < e) {
      const nameStart = i;
      while (i < e && TCHAR[b[i]!] === 1) i++;
      const nameLen = i - nameStart;
      if (nameLen === 0 || b[i] !== 58 /* : */) return this.bad("bad header field");
      i++;
      while (b[i] === SP || b[i] === HTAB) i++;
      const valueStart = i;
      while (i < e && b[i] !== CR) {
        if (!textByte(b[i]!)) return this.bad("bad header field");
        i++;
      }
      if (b[i] !== CR || b[i + 1] !== LF) return this.bad("bad header field");
      let valueEnd = i;
      while (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) valueEnd--;
      i += 2;
      if (nameLen === 14 && matchLower(b, nameStart, CONTENT_LENGTH)) {
        if (!this.lengthField(b, valueStart, valueEnd)) return false;
      } else if (nameLen === 17 && matchLower(b, nameStart, TRANSFER_ENCODING)) {
        this.teSeen = true;
        // The last coding decides: "chunked" (after a comma, whitespace or nothing) ends the value.
        const cs = valueEnd - 7;
        this.chunked = cs >= valueStart && matchLower(b, cs, CHUNKED) && (cs === valueStart || b[cs - 1] === 44 || b[cs - 1] === SP || b[cs - 1] === HTAB);
      } else if (nameLen === 10 && matchLower(b, nameStart, CONNECTION)) {
        this.connectionField(b, valueStart, valueEnd);
      }
    }
    return true;
  }

  private lengthField(b: Buffer, s: number, e: number): boolean {
    if (s === e) return this.bad("bad Content-Length");
    let n = 0;
    for (let i = s; i < e; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) return this.bad("bad Content-Length");
      n = n * 10 + d;
    }
    if (n > Number.MAX_SAFE_INTEGER) return this.bad("bad Content-Length");
    if (this.contentLength >= 0 && this.contentLength !== n) return this.bad("conflicting Content-Length");
    this.contentLength = n;
    return true;
  }

  private connectionField(b: Buffer, s: number, e: number): void {
    let i = s;
    while (i < e) {
      while (i < e && (b[i] === SP || b[i] === HTAB || b[i] === 44)) i++;
      const ts = i;
      while (i < e && b[i] !== 44) i++;
      let te = i;
      while (te > ts && (b[te - 1] === SP || b[te - 1] === HTAB)) te--;
      if (te - ts === 5 && matchLower(b, ts, CLOSE)) this.connClose = true;
      else if (te - ts === 10 && matchLower(b, ts, KEEP_ALIVE)) this.connKeepAlive = true;
    }
  }

  /** Sets up the body after a parsed head; returns `pos` or -1. */
  private afterHead(pos: number): number {
    const status = this.status;
    if (status < 200) {
      // 100 Continue and other interim responses: the final response follows. 101 would switch protocols,
      // which a benchmark never asks for.
      if (status === 101) return this.fail("unexpected 101 Switching Protocols");
      this.state = HEAD;
      this.started = false;
      return pos;
    }
    this.close = this.minor === 0 ? !this.connKeepAlive : this.connClose;
    if (this.headRequests || status === 204 || status === 304) {
      this.complete();
      return pos;
    }
    if (this.teSeen) {
      if (this.contentLength >= 0) return this.fail("both Content-Length and Transfer-Encoding");
      if (this.chunked) {
        this.state = CHUNK_SIZE;
        this.remaining = 0;
        this.chunkDigits = 0;
        return pos;
      }
      this.state = BODY_EOF;
      this.close = true;
      return pos;
    }
    if (this.contentLength > 0) {
      this.state = BODY_LENGTH;
      this.remaining = this.contentLength;
      return pos;
    }
    if (this.contentLength === 0) {
      this.complete();
      return pos;
    }
    this.state = BODY_EOF;
    this.close = true;
    return pos;
  }

  private chunkByte(c: number): boolean {
    switch (this.state) {
      case CHUNK_SIZE: {
        const h = HEX[c]!;
        if (h >= 0) {
          if (++this.chunkDigits > 13) return this.bad("chunk size too large");
          this.remaining = this.remaining * 16 + h;
          return true;
        }
        if (this.chunkDigits === 0) return this.bad("bad chunk size");
        if (c === CR) this.state = CHUNK_SIZE_LF;
        else if (c === 59 /* ; */ || c === SP || c === HTAB) this.state = CHUNK_EXT;
        else return this.bad("bad chunk size");
        return true;
      }
      case CHUNK_EXT:
        if (c === CR) this.state = CHUNK_SIZE_LF;
        else if (!textByte(c)) return this.bad("bad chunk extension");
        return true;
      case CHUNK_SIZE_LF:
        if (c !== LF) return this.bad("bad chunk size line");
        this.state = this.remaining === 0 ? TRAILER_START : CHUNK_DATA;
        this.chunkDigits = 0;
        return true;
      case CHUNK_DATA_CR:
        if (c !== CR) return this.bad("chunk data longer than its size");
        this.state = CHUNK_DATA_LF;
        return true;
      case CHUNK_DATA_LF:
        if (c !== LF) return this.bad("chunk data longer than its size");
        this.state = CHUNK_SIZE;
        return true;
      case TRAILER_START:
        if (c === CR) this.state = TRAILER_END_LF;
        else if (TCHAR[c] === 1) this.state = TRAILER_LINE;
        else return this.bad("bad trailer");
        return true;
      case TRAILER_LINE:
        if (c === CR) this.state = TRAILER_LF;
        else if (!textByte(c)) return this.bad("bad trailer");
        return true;
      case TRAILER_LF:
        if (c !== LF) return this.bad("bad trailer");
        this.state = TRAILER_START;
        return true;
      case TRAILER_END_LF:
        if (c !== LF) return this.bad("bad end of chunked body");
        this.complete();
        return true;
      default:
        return this.bad("parser state");
    }
  }
}
