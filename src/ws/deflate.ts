import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { CLOSE, WsProtocolError } from "./errors.ts";

/**
 * permessage-deflate (RFC 7692), the simple way: no context takeover in either direction, so every message is
 * compressed and inflated on its own (no zlib stream held per socket: an idle WebSocket keeps no 300 KiB of
 * zlib state), and inflating stops at the message size limit (a decompression bomb gets 1009, not memory).
 */

/** The answer to a client's offers (Sec-WebSocket-Extensions), or null to decline them all. */
export function negotiateDeflate(offers: string | null): string | null {
  if (offers === null) return null;
  for (const offer of offers.split(",")) {
    const [name, ...params] = offer.split(";").map((p) => p.trim());
    if (name?.toLowerCase() !== "permessage-deflate") continue;
    let ok = true;
    const seen = new Set<string>();
    for (const p of params) {
      const [key = "", value] = p.split("=").map((x) => x.trim());
      const k = key.toLowerCase();
      // A parameter given twice makes the offer invalid (RFC 7692 §7).
      if (seen.has(k)) ok = false;
      seen.add(k);
      if (k === "server_no_context_takeover" || k === "client_no_context_takeover") {
        if (value !== undefined) ok = false;
      } else if (k === "client_max_window_bits") {
        // Any window the client uses is one oryx can inflate (it inflates with the largest).
        if (value !== undefined && !/^"?(8|9|1[0-5])"?$/.test(value)) ok = false;
      } else if (k === "server_max_window_bits") {
        // oryx compresses with zlib's 15-bit window; an offer asking for a smaller one is declined.
        if (value === undefined || !/^"?15"?$/.test(value)) ok = false;
      } else {
        ok = false;
      }
    }
    if (ok) return "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  }
  return null;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Inflates one message's payload (RFC 7692 §7.2.2), at most `max` bytes out. */
export function inflateMessage(parts: Buffer[], max: number): Buffer {
  try {
    return inflateRawSync(Buffer.concat([...parts, TAIL]), { maxOutputLength: Math.max(1, max), finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new WsProtocolError(CLOSE.TOO_BIG, "WS_MESSAGE_TOO_BIG", `a compressed message inflates to more than ${max} bytes (the maximum)`);
    }
    throw new WsProtocolError(CLOSE.INVALID_DATA, "WS_BAD_DEFLATE", `a compressed message does not inflate: ${(err as Error).message}`);
  }
}

/** Compresses one message's payload: deflate with a sync flush, its final empty block's 4 bytes taken off. */
export function deflateMessage(data: Uint8Array): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}
