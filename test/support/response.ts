/**
 * The tests' HTTP/1.1 response parser: cuts what a server sent into responses and hands each one's status,
 * headers and body to assertions. The framing (where a response ends: Content-Length, chunked, or the close) is
 * followed by the load generator's own parser, src/bench/parser.ts, which is strict and tested; this file only
 * reads the fields and the body out of the bytes that parser delimited, so there is one framing reader to trust.
 */
import { ResponseParser } from "../../src/bench/parser.ts";

export interface ParsedResponse {
  status: number;
  reason: string;
  /** Field values by lower-case name, in the order sent. */
  headers: Record<string, string[]>;
  /** The body, decoded from chunked framing if it was chunked; latin1. */
  body: string;
}

/**
 * Parses every response in `text` (latin1) and throws, saying where, if the stream is malformed or ends inside
 * a response. The first `headRequests` final responses answer HEAD requests: they have no body. Interim (1xx)
 * responses are listed too, each before the final response it preceded.
 */
export function parseResponses(text: string | Buffer, headRequests = 0): ParsedResponse[] {
  const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  const out: ParsedResponse[] = [];
  let heads = headRequests;
  let done = false;
  const parser = new ResponseParser(() => {
    done = true;
    parser.halt();
  });
  let pos = 0;
  while (pos < bytes.length) {
    done = false;
    parser.headRequests = heads > 0;
    if (!parser.feed(bytes, pos, bytes.length)) throw new Error(`malformed response at byte ${pos} (${parser.error}): ${excerpt(bytes, pos)}`);
    if (!done) {
      // The rest of the stream is one response read to the close, interim responses only, or a response cut short.
      if (parser.finish() === "truncated") throw new Error(`incomplete response at byte ${pos}: ${excerpt(bytes, pos)}`);
      out.push(...split(bytes, pos, bytes.length, false));
      break;
    }
    out.push(...split(bytes, pos, parser.stoppedAt, heads > 0));
    if (heads > 0) heads--;
    pos = parser.stoppedAt;
  }
  return out;
}

/** The bytes [start, end) the framing parser found to be one final response, after any interim ones. */
function split(b: Buffer, start: number, end: number, head: boolean): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = start;
  for (;;) {
    const headEnd = b.indexOf("\r\n\r\n", pos, "latin1");
    const lines = b.toString("latin1", pos, headEnd).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!)!;
    const headers: Record<string, string[]> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      (headers[l.slice(0, i).toLowerCase()] ??= []).push(l.slice(i + 1).trim());
    }
    const status = Number(m[1]);
    pos = headEnd + 4;
    if (status >= 200 || pos >= end) {
      const noBody = head || status < 200 || status === 204 || status === 304;
      const chunked = /(^|[\s,])chunked$/i.test(headers["transfer-encoding"]?.at(-1) ?? "");
      const body = noBody ? "" : chunked ? dechunk(b, pos) : b.toString("latin1", pos, end);
      out.push({ status, reason: m[2]!, headers, body });
      return out;
    }
    out.push({ status, reason: m[2]!, headers, body: "" });
  }
}

/** The data of a chunked body that starts at `pos` (already checked well-framed by the framing parser). */
function dechunk(b: Buffer, pos: number): string {
  let body = "";
  for (;;) {
    const le = b.indexOf("\r\n", pos, "latin1");
    const size = parseInt(b.toString("latin1", pos, le), 16);
    if (size === 0) return body;
    body += b.toString("latin1", le + 2, le + 2 + size);
    pos = le + 2 + size + 2;
  }
}

function excerpt(b: Buffer, pos: number): string {
  return JSON.stringify(b.toString("latin1", pos, pos + 200));
}
