import { CHUNK_EXT, CR, HEX, LF } from "./chars.ts";
import { HttpError, badRequest } from "./errors.ts";
import { parseFieldLine } from "./fields.ts";
import type { Limits } from "./limits.ts";

const enum State {
  Size,
  SizeDigits,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

// A chunk-size line's extensions are capped: unbounded extensions were CVE-2024-22019 in Node.
const MAX_EXT_BYTES = 4096;
// Chunk sizes beyond this cannot be added up exactly; no body limit comes close to it.
const MAX_CHUNK_SIZE = Math.floor(Number.MAX_SAFE_INTEGER / 16) - 16;

/**
 * Incremental decoder of the chunked transfer coding (RFC 9112 §7.1), strict.
 *
 * Inside the body every line end must be CRLF: chunk-size lines, the CRLF after chunk data, trailer lines
 * and the final empty line. (Bare LF is accepted in the request head only; body framing is where request
 * smuggling lives, so it gets no leniency.) Chunk sizes are hex digits with nothing between them and `;`
 * or CR; extensions hold no controls and are capped; trailers are validated like header fields and dropped.
 */
export class ChunkedDecoder {
  private readonly limits: Limits;
  private state = State.Size;
  private size = 0;
  private remaining = 0;
  private extBytes = 0;
  private line: Buffer | null = null;
  private trailers: string[] = [];
  /** Decoded body bytes so far. */
  received = 0;

  constructor(limits: Limits) {
    this.limits = limits;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Decodes `buf` from `start`, passing each run of body bytes to `onData` (a view of `buf`, not a copy).
   * Returns the offset just past the body's end once it is complete, or -1 when all of `buf` was consumed.
   */
  execute(buf: Buffer, start: number, onData: (chunk: Buffer) => void): number {
    let i = start;
    const len = buf.length;
    while (i < len) {
      switch (this.state) {
        case State.Size: {
          const d = HEX[buf[i]!]!;
          if (d < 0) throw badChunk("a chunk size is not a hex number");
          this.size = d;
          this.state = State.SizeDigits;
          i++;
          break;
        }
        case State.SizeDigits: {
          const c = buf[i]!;
          const d = HEX[c]!;
          if (d >= 0) {
            if (this.size > MAX_CHUNK_SIZE) throw badChunk("a chunk size overflows");
            this.size = this.size * 16 + d;
          } else if (c === 0x3b /* ; */) {
            this.extBytes = 0;
            this.state = State.Ext;
          } else if (c === CR) {
            this.state = State.SizeLf;
          } else {
            throw badChunk("a chunk size line holds an unexpected character");
          }
          i++;
          break;
        }
        case State.Ext: {
          const c = buf[i]!;
          if (c === CR) this.state = State.SizeLf;
          else if (CHUNK_EXT[c] !== 1) throw badChunk("a chunk extension holds a control character");
          else if (++this.extBytes > MAX_EXT_BYTES) throw badChunk("a chunk extension is too long");
          i++;
          break;
        }
        case State.SizeLf: {
          if (buf[i] !== LF) throw badChunk("a chunk size line does not end with CRLF");
          i++;
          if (this.size === 0) {
            this.state = State.Trailer;
          } else {
            if (this.received + this.size > this.limits.body) {
              throw new HttpError(413, "BODY_TOO_LARGE", "the request body is larger than this server accepts");
            }
            this.remaining = this.size;
            this.state = State.Data;
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, len - i);
          this.remaining -= n;
          this.received += n;
          if (this.remaining === 0) this.state = State.DataCr;
          onData(buf.subarray(i, i + n));
          i += n;
          break;
        }
        case State.DataCr:
          if (buf[i] !== CR) throw badChunk("chunk data is not followed by CRLF");
          this.state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (buf[i] !== LF) throw badChunk("chunk data is not followed by CRLF");
          this.state = State.Size;
          i++;
          break;
        case State.Trailer: {
          const end = this.trailerLine(buf, i);
          if (end < 0) return -1;
          i = end;
          break;
        }
        case State.Done:
          return i;
      }
    }
    return this.state === State.Done ? i : -1;
  }

  /** Collects one trailer line; returns the offset after it, or -1 when it is still incomplete. */
  private trailerLine(buf: Buffer, start: number): number {
    const lf = buf.indexOf(LF, start);
    const max = this.limits.fieldSize + 2;
    if (lf === -1) {
      const kept = this.line === null ? Buffer.from(buf.subarray(start)) : Buffer.concat([this.line, buf.subarray(start)]);
      if (kept.length > max) throw badTrailer("a trailer field is too large");
      this.line = kept;
      return -1;
    }
    let line = buf;
    let ls = start;
    let le = lf;
    if (this.line !== null) {
      line = Buffer.concat([this.line, buf.subarray(start, lf)]);
      this.line = null;
      ls = 0;
      le = line.length;
    }
    if (le === ls || line[le - 1] !== CR) throw badTrailer("a trailer line does not end with CRLF");
    le--;
    if (le - ls > this.limits.fieldSize) throw badTrailer("a trailer field is too large");
    if (le === ls) {
      this.state = State.Done;
      return lf + 1;
    }
    if (this.trailers.length >= this.limits.fields * 2) throw badTrailer("too many trailer fields");
    parseFieldLine(line, ls, le, this.trailers, "BAD_TRAILER");
    return lf + 1;
  }
}

function badChunk(message: string): HttpError {
  return badRequest("BAD_CHUNK", message);
}

function badTrailer(message: string): HttpError {
  return badRequest("BAD_TRAILER", message);
}
