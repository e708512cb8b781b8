/**
 * The head parser takes most lines in one pass straight from a read (requestLineAt, parseFieldAt) and the rest
 * line by line. Fed one byte at a time it never takes the one-pass path; fed whole, it takes it wherever it can.
 * These properties check that both give the same heads and the same refusals (code and all) on runs of heads
 * built to sit on every edge the one-pass path decides on: line ends (CRLF, LF, a CR before CRLF, a lone CR),
 * optional whitespace, bytes a value or target may not hold, a version one byte off, a value or target equal or
 * nearly equal to the last one, and lines exactly at, one under and one over small limits.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { HeadParser, type Limits } from "../../src/http/index.ts";

type Outcome = { head: unknown } | { err: string };

/** Parses a run of heads (no bodies), chunk by chunk; stops at the first refusal. */
function outcomes(chunks: Buffer[], limits: Limits): Outcome[] {
  const p = new HeadParser(limits);
  const out: Outcome[] = [];
  try {
    for (const chunk of chunks) {
      let pos = 0;
      while (pos < chunk.length) {
        const end = p.execute(chunk, pos);
        if (end === -1) break;
        const h = p.finish(limits.body);
        out.push({ head: { ...h, headers: [...h.headers] } });
        p.reset();
        pos = end;
      }
    }
  } catch (err) {
    out.push({ err: (err as { code?: string }).code ?? String(err) });
  }
  return out;
}

const ROOMY: Limits = { requestLine: 8192, fields: 100, fieldSize: 8192, body: 1_000_000 };

const bytewise = (buf: Buffer): Buffer[] => Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));

const EOL = fc.constantFrom("\r\n", "\r\n", "\n", "\r\r\n", "\r", " \r\n");
const OWS = fc.constantFrom("", "", " ", "\t", "  ");
const METHOD = fc.constantFrom("GET", "GET", "POST", "OPTIONS", "PURGE", "G T", "", "GE\x00");
const TARGET = fc.constantFrom("/", "/", "/a", "/b", "/ab", "/a?x", "*", "/\x7f", "/é", "/a b", "", "/abcdefghijklmnopqrstuvwxyz");
const VERSION = fc.constantFrom("HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.", "HTTP/1.1x", "HTTP/2.0", "HTTP/1.2", "http/1.1", "HTTP/1.1 ");
const NAME = fc.constantFrom("Host", "host", "HOST", "User-Agent", "accept", "X-Custom", "cookie", "x", "Bad Name", "", " host", "Host ");
const VALUE = fc.constantFrom("a", "b", "a:1", "a:2", "x/1", "x/2", "", "é", "a\tb", "a b", "a\x00b", "a\x7fb", "a\rb", "abcdefghijklmnopqrstuvwxyz0123456789");

const line = (parts: fc.Arbitrary<string>[]): fc.Arbitrary<string> => fc.tuple(...parts).map((p) => p.join(""));
const requestLine = line([METHOD, fc.constant(" "), TARGET, fc.constant(" "), VERSION, EOL]);
const fieldLine = line([NAME, fc.constant(":"), OWS, VALUE, OWS, EOL]);
const head = fc.tuple(fc.array(fc.constantFrom("\r\n", "\n"), { maxLength: 2 }), requestLine, fc.array(fieldLine, { maxLength: 5 }), EOL).map(
  ([empties, rl, fields, end]) => empties.join("") + rl + fields.join("") + end,
);
// Mostly roomy limits, sometimes small enough that the generated lines sit on them.
const limits: fc.Arbitrary<Limits> = fc.record({
  requestLine: fc.oneof(fc.constant(8192), fc.integer({ min: 8, max: 24 })),
  fields: fc.oneof(fc.constant(100), fc.integer({ min: 1, max: 4 })),
  fieldSize: fc.oneof(fc.constant(8192), fc.integer({ min: 4, max: 14 })),
  body: fc.constant(1_000_000),
});

describe("one-pass parsing agrees with line-by-line parsing", () => {
  test("runs of heads (valid or not) parse to the same heads and refusals, whole or byte by byte", () => {
    fc.assert(
      fc.property(fc.array(head, { minLength: 1, maxLength: 6 }), limits, (heads, lim) => {
        const all = Buffer.from(heads.join(""), "latin1");
        // Seen once under roomy limits first, so the values parsers share are this run's own (then a line over a
        // small limit may hold a value the one-pass path would otherwise reuse unchecked).
        outcomes([all], ROOMY);
        assert.deepEqual(outcomes([all], lim), outcomes(bytewise(all), lim));
      }),
      { numRuns: 3000 },
    );
  });

  test("the same request over and over, then one that differs by a byte, whole or byte by byte", () => {
    const base = "GET /abc HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x/1\r\nAccept: */*\r\n\r\n";
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 4 }), (at, byte, repeats) => {
        const changed = Buffer.from(base, "latin1");
        changed[at] = byte;
        const all = Buffer.concat([...Array.from({ length: repeats }, () => Buffer.from(base, "latin1")), changed, Buffer.from(base, "latin1")]);
        assert.deepEqual(outcomes([all], ROOMY), outcomes(bytewise(all), ROOMY));
      }),
      { numRuns: 2000 },
    );
  });

  test("the generators reach both outcomes (so the properties above compare something)", () => {
    const ok = outcomes([Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n")], ROOMY);
    assert.equal(ok.length, 1);
    assert.ok("head" in ok[0]!);
    const bad = outcomes([Buffer.from("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n")], ROOMY);
    assert.deepEqual(bad, [{ err: "BAD_FIELD_VALUE" }]);
  });
});
