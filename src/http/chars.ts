/**
 * Byte classes of RFC 9110 / 9112, as 256-entry lookup tables: one array read per byte on the hot path.
 */
function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const TCHAR_EXTRA = "!#$%&'*+-.^_`|~";

/** tchar (RFC 9110 §5.6.2): the characters of a token, e.g. a method or a field name. */
export const TCHAR = table(
  (c) =>
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || TCHAR_EXTRA.includes(String.fromCharCode(c)),
);

/** field-vchar, SP and HTAB (RFC 9110 §5.5): what a field value may hold. obs-text (0x80-0xFF) is kept. */
export const FIELD_VALUE = table((c) => c === 0x09 || (c >= 0x20 && c <= 0x7e) || c >= 0x80);

/**
 * What a request-target may hold: visible ASCII only (no spaces, no controls, no raw non-ASCII), and neither
 * "#" nor "\\": a fragment is never sent (RFC 9112 §3.2; RFC 3986 §3.5), and a backslash is no URI character
 * (RFC 3986 §2) that the WHATWG URL parser would read as "/" in an http URL, so the app's `new URL()` and a proxy
 * or access rule before it would see different paths.
 */
export const TARGET = table((c) => c >= 0x21 && c <= 0x7e && c !== 0x23 && c !== 0x5c);

/** What a chunk extension may hold (names, values, quoted strings, BWS): no controls but HTAB. */
export const CHUNK_EXT = FIELD_VALUE;

/** Hex digit values, or -1. */
export const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
