/**
 * A WebSocket protocol failure (RFC 6455 §7.4): the close code the peer is told, a stable code for logs and
 * tests, and a sentence. The connection sends a Close frame with `closeCode` and closes.
 */
export class WsProtocolError extends Error {
  readonly code: string;
  readonly closeCode: number;
  constructor(closeCode: number, code: string, message: string) {
    super(message);
    this.name = "WsProtocolError";
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** Close codes (RFC 6455 §7.4.1). */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_DATA: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const;

/**
 * Whether a peer may send `code` in a Close frame: 1000–1003 and 1007–1014 of the IANA registry (1004 is
 * reserved; 1005, 1006 and 1015 must never be on the wire), and 3000–4999 (registered and private use).
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
