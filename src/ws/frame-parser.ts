import { isUtf8 } from "node:buffer";
import { inflateMessage } from "./deflate.ts";
import { CLOSE, WsProtocolError, isValidCloseCode } from "./errors.ts";

/** Frame opcodes (RFC 6455 §5.2). */
export const OP = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** What the parser reports, in the order the peer sent it. */
export interface FrameSink {
  /** A complete message: text as a string (valid UTF-8), binary as a Buffer over its own ArrayBuffer. */
  frameText(message: string): void;
  frameBinary(message: Buffer): void;
  framePing(payload: Buffer): void;
  framePong(payload: Buffer): void;
  /** A Close frame: its code (1005 when it had none) and reason. The parser reads nothing after it. */
  frameClose(code: number, reason: string): void;
}

export interface ParserOptions {
  /** Largest message (all its fragments together), in bytes; a larger one fails with 1009. */
  maxMessage: number;
  /** Whether frames must be masked (a server reading a client's frames: RFC 6455 §5.1 says they must). */
  requireMask: boolean;
  /** permessage-deflate was negotiated: RSV1 on a message's first frame marks it compressed. */
  deflate?: boolean;
}

const enum State {
  Header,
  Payload,
  Done,
}

const EMPTY = Buffer.alloc(0);

/**
 * An incremental parser of a peer's WebSocket frames, strict RFC 6455. Bytes may arrive split anywhere: `push`
 * is fed each read in turn, keeps at most a partial header (≤ 14 bytes) and the unmasked payload received so far,
 * and reports the same messages however the bytes were split. A violation throws WsProtocolError (with the close
 * code to send) and the parser reads nothing more; so does a Close frame.
 *
 * Text is checked as UTF-8 once its message is complete, so a character split across fragments is fine (the
 * price: a bad message is found at its end, not at its first bad byte; the message size limit bounds it).
 */
export class FrameParser {
  private readonly opts: ParserOptions;
  private readonly sink: FrameSink;
  private state = State.Header;
  /**
   * The header being read, and the frame's masking key: made at the first frame, so a socket that never sends
   * holds neither (an idle WebSocket's memory is mostly what it keeps).
   */
  private hdr: Buffer | null = null;
  private mask: Uint8Array | null = null;
  private hdrHave = 0;
  /** Whether the first two bytes of the header being read were checked already (they may come in separate reads). */
  private hdrChecked = false;
  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  private maskPos = 0;
  private remaining = 0;
  /** The unmasked payload pieces of the current control frame, or of the current data message. */
  private ctrlParts: Buffer[] | null = null;
  // The data message being read (fragments so far).
  private msgOpcode = 0;
  private msgParts: Buffer[] | null = null;
  private msgLen = 0;
  private msgCompressed = false;

  constructor(opts: ParserOptions, sink: FrameSink) {
    this.opts = opts;
    this.sink = sink;
  }

  /** True once a Close frame or a violation ended the stream: further bytes are ignored. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Reads nothing more (the connection is closing). */
  stop(): void {
    this.state = State.Done;
    this.msgParts = null;
    this.ctrlParts = null;
  }

  push(buf: Buffer): void {
    let off = 0;
    const len = buf.length;
    try {
      while (off < len && this.state !== State.Done) {
        if (this.state === State.Header) off = this.readHeader(buf, off);
        else off = this.readPayload(buf, off);
      }
    } catch (err) {
      this.state = State.Done;
      this.msgParts = null;
      this.ctrlParts = null;
      throw err;
    }
  }

  /** Reads header bytes from `off`; returns where it stopped. Moves to Payload once the header is whole. */
  private readHeader(buf: Buffer, off: number): number {
    const hdr = (this.hdr ??= Buffer.allocUnsafe(14));
    while (this.hdrHave < 2 && off < buf.length) hdr[this.hdrHave++] = buf[off++]!;
    if (this.hdrHave < 2) return off;
    const b1 = hdr[1]!;
    const len7 = b1 & 0x7f;
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
    if (!this.hdrChecked) {
      this.checkFirstBytes(hdr[0]!, b1);
      this.hdrChecked = true;
    }
    while (this.hdrHave < need && off < buf.length) hdr[this.hdrHave++] = buf[off++]!;
    if (this.hdrHave < need) return off;
    let p = 2;
    let length = len7;
    if (len7 === 126) {
      length = hdr.readUInt16BE(2);
      p = 4;
    } else if (len7 === 127) {
      const high = hdr.readUInt32BE(2);
      // RFC 6455 §5.2: the most significant bit must be 0. Past 2^53 no limit could allow it anyway.
      if (high > 0x1fffff) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_BAD_LENGTH", "a frame's 64-bit length has its top bit set");
      length = high * 2 ** 32 + hdr.readUInt32BE(6);
      p = 10;
    }
    if (this.masked) {
      const mask = (this.mask ??= new Uint8Array(4));
      mask[0] = hdr[p]!;
      mask[1] = hdr[p + 1]!;
      mask[2] = hdr[p + 2]!;
      mask[3] = hdr[p + 3]!;
    }
    this.hdrHave = 0;
    this.hdrChecked = false;
    this.maskPos = 0;
    this.remaining = length;
    if (this.opcode >= 8) {
      this.ctrlParts = [];
    } else if (this.msgLen + length > this.opts.maxMessage) {
      // Refused on the header, before any of its payload is kept.
      throw new WsProtocolError(CLOSE.TOO_BIG, "WS_MESSAGE_TOO_BIG", `a message is larger than ${this.opts.maxMessage} bytes (the maximum)`);
    }
    this.state = State.Payload;
    if (length === 0) this.frameDone();
    return off;
  }

  /** The first two bytes, checked as soon as they are here (so a bad frame is refused before its length arrives). */
  private checkFirstBytes(b0: number, b1: number): void {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const rsv = b0 & 0x70;
    // RSV1 marks a compressed message, only on its first frame and only if permessage-deflate was negotiated.
    const rsv1Ok = rsv === 0x40 && this.opts.deflate === true && (opcode === OP.TEXT || opcode === OP.BINARY);
    if (rsv !== 0 && !rsv1Ok) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_RSV_SET", "a frame has an RSV bit set that no negotiated extension defines");
    const masked = (b1 & 0x80) !== 0;
    if (this.opts.requireMask && !masked) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_UNMASKED", "a client's frame is not masked (RFC 6455 §5.1)");
    const len7 = b1 & 0x7f;
    if (opcode >= 8) {
      if (opcode > 10) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_BAD_OPCODE", `a frame has the reserved opcode ${opcode}`);
      if (!fin) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_FRAGMENTED_CONTROL", "a control frame is fragmented");
      if (len7 > 125) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_CONTROL_TOO_LONG", "a control frame's payload is longer than 125 bytes");
    } else if (opcode === OP.CONTINUATION) {
      if (this.msgOpcode === 0) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_UNEXPECTED_CONTINUATION", "a continuation frame with no message to continue");
    } else if (opcode === OP.TEXT || opcode === OP.BINARY) {
      if (this.msgOpcode !== 0) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_EXPECTED_CONTINUATION", "a new message began before the fragmented one before it ended");
      this.msgOpcode = opcode;
      this.msgCompressed = rsv !== 0;
    } else {
      throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_BAD_OPCODE", `a frame has the reserved opcode ${opcode}`);
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
  }

  private readPayload(buf: Buffer, off: number): number {
    const n = Math.min(this.remaining, buf.length - off);
    if (n > 0) {
      // A copy, unmasked: the app may keep a message, and the socket's buffer is not ours to keep. A whole binary
      // message in one piece gets a buffer of its own at once (see ownBuffer), not a second copy later.
      const whole = this.fin && this.opcode === OP.BINARY && n === this.remaining && this.msgParts === null;
      const dest = whole ? Buffer.from(new ArrayBuffer(n)) : Buffer.allocUnsafe(n);
      if (this.masked) {
        const mask = this.mask!;
        let pos = this.maskPos;
        for (let i = 0; i < n; i++) dest[i] = buf[off + i]! ^ mask[(pos + i) & 3]!;
        this.maskPos = (pos + n) & 3;
      } else {
        buf.copy(dest, 0, off, off + n);
      }
      this.remaining -= n;
      if (this.opcode >= 8) this.ctrlParts!.push(dest);
      else {
        (this.msgParts ??= []).push(dest);
        this.msgLen += n;
      }
    }
    if (this.remaining === 0) this.frameDone();
    return off + n;
  }

  private frameDone(): void {
    this.state = State.Header;
    const opcode = this.opcode;
    if (opcode >= 8) {
      const parts = this.ctrlParts!;
      this.ctrlParts = null;
      const payload = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (opcode === OP.PING) this.sink.framePing(payload);
      else if (opcode === OP.PONG) this.sink.framePong(payload);
      else this.closeFrame(payload);
      return;
    }
    if (!this.fin) return;
    let parts = this.msgParts ?? [];
    let total = this.msgLen;
    const msgOpcode = this.msgOpcode;
    this.msgParts = null;
    this.msgLen = 0;
    this.msgOpcode = 0;
    if (this.msgCompressed) {
      this.msgCompressed = false;
      const inflated = inflateMessage(parts, this.opts.maxMessage);
      parts = [inflated];
      total = inflated.length;
    }
    if (msgOpcode === OP.TEXT) {
      const bytes = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
      if (!isUtf8(bytes)) throw new WsProtocolError(CLOSE.INVALID_DATA, "WS_BAD_UTF8", "a text message is not valid UTF-8");
      this.sink.frameText(bytes.toString("utf8"));
    } else {
      this.sink.frameBinary(ownBuffer(parts, total));
    }
  }

  private closeFrame(payload: Buffer): void {
    this.state = State.Done;
    if (payload.length === 0) {
      this.sink.frameClose(CLOSE.NO_STATUS, "");
      return;
    }
    if (payload.length === 1) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_BAD_CLOSE", "a Close frame's payload is 1 byte (a code takes 2)");
    const code = payload.readUInt16BE(0);
    if (!isValidCloseCode(code)) throw new WsProtocolError(CLOSE.PROTOCOL_ERROR, "WS_BAD_CLOSE_CODE", `a Close frame carries the code ${code}, which may not be sent`);
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) throw new WsProtocolError(CLOSE.INVALID_DATA, "WS_BAD_UTF8", "a Close frame's reason is not valid UTF-8");
    this.sink.frameClose(code, reason.toString("utf8"));
  }
}

/**
 * The message as a Buffer that owns its ArrayBuffer (offset 0, exact length), as Bun hands it over: apps and
 * adapters read `message.buffer` (Hono's does), which for a slice of Node's pool would be 8 KiB of others' bytes.
 */
function ownBuffer(parts: Buffer[], total: number): Buffer {
  const only = parts.length === 1 ? parts[0]! : null;
  if (only !== null && only.byteOffset === 0 && only.buffer.byteLength === only.length) return only;
  const out = Buffer.from(new ArrayBuffer(total));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
