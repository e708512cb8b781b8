import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TCHAR } from "./chars.ts";
import { HttpError, type HttpErrorCode } from "./errors.ts";
import { latin1Slice } from "../node-internals.ts";

/**
 * Parses one field line (RFC 9112 §5) held in `buf[start, end)`, line terminator already removed, and appends
 * the lowercased name and the trimmed value to `out`. Used for the header section and for chunked trailers.
 *
 * Refused: a line starting with whitespace (obs-fold), an empty or non-token name, whitespace before the colon,
 * and a value holding a control character other than HTAB (which includes a bare CR).
 *
 * With `raw`, the field is also appended there as sent: the name as the client spelled it (a Node app's
 * `req.rawHeaders`), and the same value.
 *
 * With `reuse`, the value of a common field that is byte for byte the last one seen (a site's clients all send
 * its Host, and each client the same User-Agent, Accept… on every request) reuses that string, unchecked and
 * undecoded. Only fields whose values are no secret take part: the last value is shared by every connection,
 * and how fast a comparison fails must tell nobody anything about another client's request.
 */
export function parseFieldLine(buf: Uint8Array, start: number, end: number, out: string[], badCode: HttpErrorCode, reuse = false, raw: string[] | null = null): void {
  const first = buf[start]!;
  if (first === SP || first === HTAB) {
    throw new HttpError(400, badCode === "BAD_TRAILER" ? badCode : "OBS_FOLD", "obsolete line folding is not accepted");
  }
  let i = start;
  while (i < end && TCHAR[buf[i]!] === 1) i++;
  if (i === start || i === end || buf[i] !== COLON) {
    throw new HttpError(400, badCode === "BAD_TRAILER" ? badCode : "BAD_FIELD_NAME", "a field name is empty or not a token, or whitespace precedes its colon");
  }
  const known = knownName(buf, start, i);
  let name: string;
  if (known !== null) {
    name = known.name;
    if (raw !== null) raw.push(spelling(known, buf, start, i));
  } else {
    const sent = latin1(buf, start, i);
    name = sent.toLowerCase();
    if (raw !== null) raw.push(sent);
  }
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  if (reuse && known !== null && known.id >= 0 && ve - vs <= MAX_RECENT_VALUE) {
    const last = recent[known.id];
    // The same bytes as a value checked before: nothing to check or decode.
    if (last !== undefined && last.length === ve - vs && sameAsRecent(known.id, buf, vs, ve)) {
      out.push(name, last);
      if (raw !== null) raw.push(last);
      return;
    }
    checkValue(buf, vs, ve, badCode);
    const value = latin1(buf, vs, ve);
    remember(known.id, value, buf, vs, ve);
    out.push(name, value);
    if (raw !== null) raw.push(value);
    return;
  }
  checkValue(buf, vs, ve, badCode);
  const value = latin1(buf, vs, ve);
  out.push(name, value);
  if (raw !== null) raw.push(value);
}

/**
 * One header field line in one pass, for the common case: from `pos`, a token name, a colon, a valid value and
 * the line's end (CRLF or LF), all before `len` and within `maxLine` bytes. Appends the field as parseFieldLine
 * (with reuse) would and returns the offset past the line end. For anything else (a line going on past `len`, a
 * byte not allowed, a line too long, the empty line that ends the head) it appends nothing and returns -1: the
 * caller then takes the line whole to parseFieldLine, so every refusal and its reason stay exactly as there.
 *
 * Scanning the value for valid bytes finds its end too, so no separate search for LF; a value equal to the last
 * one seen of a shared field is matched byte for byte in place, then its line end, and never scanned again.
 */
export function parseFieldAt(buf: Uint8Array, pos: number, len: number, maxLine: number, out: string[], raw: string[] | null = null): number {
  let i = pos;
  while (i < len && TCHAR[buf[i]!] === 1) i++;
  if (i === pos || i >= len || buf[i] !== COLON) return -1;
  const known = knownName(buf, pos, i);
  let vs = i + 1;
  while (vs < len && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  if (known !== null && known.id >= 0) {
    const last = recent[known.id];
    if (last !== undefined && vs + last.length < len && sameAsRecent(known.id, buf, vs, vs + last.length)) {
      let k = vs + last.length;
      while (k < len && (buf[k] === SP || buf[k] === HTAB)) k++;
      const next = lineEnd(buf, k, len);
      if (next !== -1 && k - pos <= maxLine) {
        out.push(known.name, last);
        if (raw !== null) raw.push(spelling(known, buf, pos, i), last);
        return next;
      }
    }
  }
  let k = vs;
  while (k < len && FIELD_VALUE[buf[k]!] === 1) k++;
  const next = lineEnd(buf, k, len);
  if (next === -1 || k - pos > maxLine) return -1;
  let ve = k;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  const value = latin1(buf, vs, ve);
  if (known !== null) {
    if (known.id >= 0 && ve - vs <= MAX_RECENT_VALUE) remember(known.id, value, buf, vs, ve);
    out.push(known.name, value);
    if (raw !== null) raw.push(spelling(known, buf, pos, i), value);
  } else {
    const sent = latin1(buf, pos, i);
    out.push(sent.toLowerCase(), value);
    if (raw !== null) raw.push(sent, value);
  }
  return next;
}

/** When `buf[k]` starts a line end (LF, or CR LF) within `len`: the offset past it; else -1. */
export function lineEnd(buf: Uint8Array, k: number, len: number): number {
  if (k >= len) return -1;
  const b = buf[k];
  if (b === LF) return k + 1;
  if (b === CR && k + 1 < len && buf[k + 1] === LF) return k + 2;
  return -1;
}

function checkValue(buf: Uint8Array, vs: number, ve: number, badCode: HttpErrorCode): void {
  for (let j = vs; j < ve; j++) {
    if (FIELD_VALUE[buf[j]!] !== 1) {
      throw new HttpError(400, badCode === "BAD_TRAILER" ? badCode : "BAD_FIELD_VALUE", "a field value holds a control character");
    }
  }
}

// Longer values are decoded anew each time: comparing them byte by byte would cost more than decoding.
const MAX_RECENT_VALUE = 128;
/** The last value seen of each shared field (by KnownName id). */
const recent: string[] = [];
// Its bytes too, at id × MAX_RECENT_VALUE: comparing bytes with bytes is about twice as fast as with a string's
// chars, and a value is copied here only when it changes.
const MAX_SHARED_NAMES = 32;
const recentBytes = new Uint8Array(MAX_SHARED_NAMES * MAX_RECENT_VALUE);

function remember(id: number, value: string, buf: Uint8Array, vs: number, ve: number): void {
  recent[id] = value;
  const at = id * MAX_RECENT_VALUE;
  for (let k = vs; k < ve; k++) recentBytes[at + k - vs] = buf[k]!;
}

/** Whether `buf[start, end)` is the recent value of field `id` (whose length the caller has checked). */
function sameAsRecent(id: number, buf: Uint8Array, start: number, end: number): boolean {
  const at = id * MAX_RECENT_VALUE - start;
  for (let k = start; k < end; k++) if (buf[k] !== recentBytes[at + k]) return false;
  return true;
}

/** Whether `buf[start, end)` holds exactly the chars of `text` (each a byte: latin1). */
export function sameText(buf: Uint8Array, start: number, end: number, text: string): boolean {
  if (text.length !== end - start) return false;
  for (let k = 0; k < text.length; k++) {
    if (buf[start + k] !== text.charCodeAt(k)) return false;
  }
  return true;
}

// Field names most requests carry, by length: found by comparing bytes, they cost no string of their own.
interface KnownName {
  name: string;
  /** The name as most clients spell it ("Content-Type"), and as Node's clients do (`name`): no string to make. */
  title: string;
  /** Index into `recent` for a field whose value is no secret, else -1. */
  id: number;
  codes: number[];
}
const KNOWN_NAMES: Array<Array<KnownName>> = [];
let sharedCount = 0;
const addKnown = (names: string[], shared: boolean): void => {
  for (const name of names) {
    const title = name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    (KNOWN_NAMES[name.length] ??= []).push({ name, title, id: shared ? sharedCount++ : -1, codes: [...name].map((c) => c.charCodeAt(0)) });
  }
};
addKnown([
  "host", "accept", "accept-encoding", "accept-language", "user-agent", "connection", "content-length", "content-type",
  "cache-control", "pragma", "upgrade", "x-forwarded-proto", "te", "transfer-encoding", "expect", "sec-fetch-mode",
  "sec-fetch-site", "sec-fetch-dest", "dnt", "priority",
], true);
// Values that may carry credentials, a client's identity or where it has been: never shared.
addKnown([
  "cookie", "referer", "origin", "authorization", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "forwarded",
  "if-none-match", "if-modified-since",
], false);
if (sharedCount > MAX_SHARED_NAMES) throw new Error("fields.ts: more shared field names than MAX_SHARED_NAMES");

/**
 * The lowercase name of `buf[start, end)` (already checked to be a token) when it is a common one, else null.
 * Every char of a known name is a lowercase letter or `-`; a token byte matches it ignoring ASCII case exactly
 * when `byte | 0x20` equals it (no other token byte maps onto a letter or onto `-`).
 */
function knownName(buf: Uint8Array, start: number, end: number): KnownName | null {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates === undefined) return null;
  outer: for (const known of candidates) {
    const codes = known.codes;
    for (let k = 0; k < codes.length; k++) {
      if ((buf[start + k]! | 0x20) !== codes[k]) continue outer;
    }
    return known;
  }
  return null;
}

/** A known field name as `buf[start, end)` spells it: its usual spellings cost no string. */
function spelling(known: KnownName, buf: Uint8Array, start: number, end: number): string {
  if (sameText(buf, start, end, known.title)) return known.title;
  if (sameText(buf, start, end, known.name)) return known.name;
  return latin1(buf, start, end);
}

/** Latin-1 decoding keeps every byte as one char, so obs-text survives and lengths stay byte lengths. */
export const latin1: (buf: Uint8Array, start: number, end: number) => string = latin1Slice;

const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

/** Splits a comma-separated list value (RFC 9110 §5.6.1) into trimmed, lowercased elements, dropping empty ones. */
export function listElements(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    // Only SP and HTAB are optional whitespace; String.prototype.trim would also eat U+00A0 (obs-text).
    const t = part.replace(OWS_EDGES, "");
    if (t !== "") out.push(t.toLowerCase());
  }
  return out;
}
