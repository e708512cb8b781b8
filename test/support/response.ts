/**
 * The tests' HTTP/1.1 response parser: cuts what a server sent into responses and hands each one's status,
 * fields and body to assertions. The framing (where a response ends: Content-Length, chunked, or the close) is
 * followed by the load generator's own parser, src/bench/parser.ts, which is strict and tested; this file only
 * reads the fields and the body out of the bytes that parser delimited, so there is one framing reader to trust.
 */
import { ResponseParser } from "../../src/bench/parser.ts";

export interface ParsedResponse {
  status: number;
  statusLine: string;
  reason: string;
  /** Field values by lower-case name, in the order sent. */
  headers: Record<string, string[]>;
  /** [name as sent, value] in the order sent. */
  fields: Array<[string, string]>;
  /** The body, decoded from chunked framing if it was chunked; latin1. */
  body: string;
  /** A chunked body's trailer fields, [name as sent, value]. */
  trailers: Array<[string, string]>;
}

/**
 * Parses every response in `text` (latin1) and throws, saying where, if the stream is malformed or ends inside
 * a response. The first `headRequests` final responses answer HEAD requests: they have no body. Interim (1xx)
 * responses are listed too, each before the final response it preceded.
 */
export function parseResponses(text: string | Buffer, headRequests = 0): ParsedResponse[] {
  const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  const { responses, end } = read(bytes, headRequests, true);
  if (end < bytes.length) throw new Error(`incomplete response at byte ${end}: ${excerpt(bytes, end)}`);
  return responses;
}

/**
 * The complete responses at the start of `text`: an incomplete last one is left out, and so is one framed by the
 * close (it is never complete while the connection is open). Throws if the bytes are malformed.
 */
export function completeResponses(text: string | Buffer, headRequests = 0): ParsedResponse[] {
  return read(typeof text === "string" ? Buffer.from(text, "latin1") : text, headRequests, false).responses;
}

/** Responses from the start of `b` for as long as they are complete; where the first incomplete one begins. */
function read(b: Buffer, headRequests: number, eof: boolean): { responses: ParsedResponse[]; end: number } {
  const responses: ParsedResponse[] = [];
  let heads = headRequests;
  let pos = 0;
  for (;;) {
    const next = parseNext(b, pos, { head: heads > 0, eof });
    if (next === null) return { responses, end: pos };
    responses.push(...next.responses);
    if (heads > 0 && next.responses.at(-1)!.status >= 200) heads--;
    pos = next.end;
  }
}

/**
 * The next final response in b[pos…) with the interim (1xx) ones before it, and where it ends; or the interim
 * responses alone if no final one has begun; null if nothing complete is there yet. `head`: it answers a HEAD request. `eof`: the connection has closed, so a response framed by the
 * close is complete (and interim responses alone are all there is). Throws if the bytes are malformed.
 */
export function parseNext(b: Buffer, pos: number, opts: { head?: boolean; eof?: boolean } = {}): { responses: ParsedResponse[]; end: number } | null {
  if (pos >= b.length) return null;
  let done = false;
  const parser = new ResponseParser(() => {
    done = true;
    parser.halt();
  });
  parser.headRequests = opts.head === true;
  if (!parser.feed(b, pos, b.length)) throw new Error(`malformed response at byte ${pos} (${parser.error}): ${excerpt(b, pos)}`);
  if (done) return { responses: split(b, pos, parser.stoppedAt, opts.head === true), end: parser.stoppedAt };
  // Between responses after all the bytes: what came were interim responses, each complete.
  if (!parser.inResponse) return { responses: split(b, pos, b.length, false), end: b.length };
  if (opts.eof !== true || parser.finish() === "truncated") return null;
  return { responses: split(b, pos, b.length, false), end: b.length };
}

/** The bytes [start, end) the framing parser found to be one final response, after any interim ones. */
function split(b: Buffer, start: number, end: number, head: boolean): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = start;
  for (;;) {
    const headEnd = b.indexOf("\r\n\r\n", pos, "latin1");
    const lines = b.toString("latin1", pos, headEnd).split("\r\n");
    const statusLine = lines[0]!;
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine)!;
    const fields = lines.slice(1).map(field);
    const headers: Record<string, string[]> = {};
    for (const [k, v] of fields) (headers[k.toLowerCase()] ??= []).push(v);
    const status = Number(m[1]);
    const r: ParsedResponse = { status, statusLine, reason: m[2]!, headers, fields, body: "", trailers: [] };
    out.push(r);
    pos = headEnd + 4;
    if (status < 200 && pos < end) continue;
    if (head || status < 200 || status === 204 || status === 304) return out;
    if (/(^|[\s,])chunked$/i.test(headers["transfer-encoding"]?.at(-1) ?? "")) dechunk(b, pos, r);
    else r.body = b.toString("latin1", pos, end);
    return out;
  }
}

/** Decodes the chunked body that starts at `pos` (already checked well-framed by the framing parser) into `r`. */
function dechunk(b: Buffer, pos: number, r: ParsedResponse): void {
  for (;;) {
    const le = b.indexOf("\r\n", pos, "latin1");
    const size = parseInt(b.toString("latin1", pos, le), 16);
    pos = le + 2;
    if (size === 0) break;
    r.body += b.toString("latin1", pos, pos + size);
    pos += size + 2;
  }
  for (;;) {
    const le = b.indexOf("\r\n", pos, "latin1");
    if (le === pos) return;
    r.trailers.push(field(b.toString("latin1", pos, le)));
    pos = le + 2;
  }
}

function field(line: string): [string, string] {
  const i = line.indexOf(":");
  return [line.slice(0, i), line.slice(i + 1).trim()];
}

function excerpt(b: Buffer, pos: number): string {
  return JSON.stringify(b.toString("latin1", pos, pos + 200));
}
