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
/**
 * A chunk-size line's extensions after its first ";" (RFC 9112 §7.1.1): `name[=value]` pairs separated by ";",
 * with optional whitespace (BWS) around ";" and "="; a name is a token, a value a token or a quoted string.
 * An empty name (`5;`) or one that is no token (`5;bad[=x`) is refused (400).
 */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t\\x20\\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t\\x20-\\x7e\\x80-\\xff])*"';
const EXTENSION = `[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?[ \\t]*`;
const CHUNK_EXTENSIONS = new RegExp(`^${EXTENSION}(?:;${EXTENSION})*$`);
// Chunk sizes beyond this cannot be added up exactly; no body limit comes close to it.
const MAX_CHUNK_SIZE = Math.floor(Number.MAX_SAFE_INTEGER / 16) - 16;

// Chunk data of one `execute` (one socket read) in runs shorter than this is gathered into one buffer before it
// reaches `onData`; longer runs go as views. Handing out a Buffer per chunk made a body of 1-byte chunks cost
// about 125 bytes of memory per body byte in an app gathering it (issue 18: 3 × 8 MiB → 3 GiB of RSS).
const GATHER_BELOW = 4096;
// Where gathered pieces are copied (shared: it is always emptied before `onData` is called and before `execute`
// returns), and how much it holds.
const GATHER_SIZE = 64 * 1024;
let gatherBuf: Buffer | null = null;

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
  /** The extensions of the chunk-size line being read (after its first ";"), checked whole at its CR. */
  private ext = "";
  private line: Buffer | null = null;
  /** The trailer fields once the body is complete: name (lowercased), value, name, value, … */
  readonly trailers: string[] = [];
  /** The same, names as the client spelled them (for a Node app's `req.rawTrailers`), when asked for. */
  readonly rawTrailers: string[] | null;
  /** The first short run of chunk data of this `execute`, not copied yet (a second one starts the gathering). */
  private firstAt = 0;
  private firstLen = 0;
  /** Bytes gathered in `gatherBuf` during this `execute`. */
  private gathered = 0;
  /** Decoded body bytes so far. */
  received = 0;

  /** `rawNames`: also keep the trailers as sent (rawTrailers). */
  constructor(limits: Limits, rawNames = false) {
    this.limits = limits;
    this.rawTrailers = rawNames ? [] : null;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /**
   * Decodes `buf` from `start`, passing its body bytes to `onData`: a run of chunk data of at least 4 KiB as a
   * view of `buf`; shorter runs gathered into one new buffer per call (a lone short run as a view). Returns the
   * offset just past the body's end once it is complete, or -1 when all of `buf` was consumed.
   */
  execute(buf: Buffer, start: number, onData: (chunk: Buffer) => void): number {
    const end = this.decode(buf, start, onData);
    if (this.firstLen !== 0 || this.gathered !== 0) this.flush(buf, onData);
    return end;
  }

  private decode(buf: Buffer, start: number, onData: (chunk: Buffer) => void): number {
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
            this.ext = "";
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
          if (c === CR) {
            if (!CHUNK_EXTENSIONS.test(this.ext)) throw badChunk("a chunk extension is malformed (its name must be a token, its value a token or a quoted string)");
            this.ext = "";
            this.state = State.SizeLf;
          } else if (CHUNK_EXT[c] !== 1) throw badChunk("a chunk extension holds a control character");
          else if (++this.extBytes > MAX_EXT_BYTES) throw badChunk("a chunk extension is too long");
          else this.ext += String.fromCharCode(c);
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
          if (n >= GATHER_BELOW) {
            if (this.firstLen !== 0 || this.gathered !== 0) this.flush(buf, onData);
            onData(buf.subarray(i, i + n));
          } else {
            this.gather(buf, i, n, onData);
          }
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

  /** Keeps a short run of chunk data for the next `flush`: the first as a position in `buf`, the rest copied. */
  private gather(buf: Buffer, at: number, n: number, onData: (chunk: Buffer) => void): void {
    let g = this.gathered;
    if (g === 0) {
      if (this.firstLen === 0) {
        this.firstAt = at;
        this.firstLen = n;
        return;
      }
      // A second run: from now on the runs are copied, the first one included.
      g = this.firstLen;
      buf.copy((gatherBuf ??= Buffer.allocUnsafeSlow(GATHER_SIZE)), 0, this.firstAt, this.firstAt + g);
      this.firstLen = 0;
    }
    const to = gatherBuf!;
    if (g + n > GATHER_SIZE) {
      this.gathered = g;
      this.flush(buf, onData);
      g = 0;
    }
    if (n <= 16) for (let k = 0; k < n; k++) to[g + k] = buf[at + k]!;
    else buf.copy(to, g, at, at + n);
    this.gathered = g + n;
  }

  /** Passes on what `gather` kept: a lone run as a view of `buf`, gathered runs as one buffer of their own. */
  private flush(buf: Buffer, onData: (chunk: Buffer) => void): void {
    if (this.firstLen !== 0) {
      const n = this.firstLen;
      this.firstLen = 0;
      onData(buf.subarray(this.firstAt, this.firstAt + n));
      return;
    }
    const n = this.gathered;
    this.gathered = 0;
    const out = Buffer.allocUnsafe(n);
    gatherBuf!.copy(out, 0, 0, n);
    onData(out);
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
    parseFieldLine(line, ls, le, this.trailers, "BAD_TRAILER", false, this.rawTrailers);
    return lf + 1;
  }
}

function badChunk(message: string): HttpError {
  return badRequest("BAD_CHUNK", message);
}

function badTrailer(message: string): HttpError {
  return badRequest("BAD_TRAILER", message);
}
