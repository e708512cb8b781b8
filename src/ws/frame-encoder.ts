/**
 * Encodes WebSocket frames (RFC 6455 §5.2). A server's frames are unmasked; `mask` is for clients (the tests
 * speak as one). Each frame is one Buffer, header and payload together: one write per message.
 */
export function encodeFrame(opcode: number, payload: Uint8Array | string, fin = true, mask: Uint8Array | null = null, rsv1 = false): Buffer {
  const isText = typeof payload === "string";
  const len = isText ? Buffer.byteLength(payload, "utf8") : payload.length;
  const headerLen = (len < 126 ? 2 : len < 65536 ? 4 : 10) + (mask !== null ? 4 : 0);
  const out = Buffer.allocUnsafe(headerLen + len);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask !== null ? 0x80 : 0;
  let p: number;
  if (len < 126) {
    out[1] = maskBit | len;
    p = 2;
  } else if (len < 65536) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(len, 2);
    p = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    out.writeUInt32BE(len >>> 0, 6);
    p = 10;
  }
  if (mask !== null) {
    out.set(mask.subarray(0, 4), p);
    p += 4;
  }
  if (isText) out.write(payload, p, "utf8");
  else out.set(payload, p);
  if (mask !== null) for (let i = 0; i < len; i++) out[p + i]! ^= mask[i & 3]!;
  return out;
}

/** A Close frame's payload: the code and a reason cut to fit the 125-byte control frame limit (on a char boundary). */
export function closePayload(code: number, reason: string): Buffer {
  if (code === 1005) return Buffer.alloc(0);
  let r = Buffer.from(reason, "utf8");
  if (r.length > 123) {
    let end = 123;
    // Back off to the start of a UTF-8 character: continuation bytes are 10xxxxxx.
    while (end > 0 && (r[end]! & 0xc0) === 0x80) end--;
    r = r.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  out.set(r, 2);
  return out;
}
