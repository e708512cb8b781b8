/**
 * The bench's response parser on its own: framing (Content-Length, chunked, close-delimited, no body),
 * interim responses, bytes split at every position, and every kind of malformed response it must catch.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ResponseParser } from "../../src/bench/parser.ts";

interface Outcome {
  responses: Array<[number, boolean]>;
  ok: boolean;
  error: string | null;
  end?: string;
}

/** Feeds `text` split into pieces of `step` bytes (0: whole), optionally followed by EOF. */
function parse(text: string, opts: { step?: number; eof?: boolean; head?: boolean } = {}): Outcome {
  const responses: Array<[number, boolean]> = [];
  const p = new ResponseParser((s, c) => responses.push([s, c]));
  p.headRequests = opts.head ?? false;
  const bytes = Buffer.from(text, "latin1");
  const step = opts.step || bytes.length || 1;
  let ok = true;
  for (let i = 0; i < bytes.length && ok; i += step) {
    // Pieces live inside a larger dirty buffer, as with the shared read buffer: bytes past `end` are junk.
    const junk = Buffer.alloc(step + 16, "\r\n\r\nHTTP/1.1 200 OK\r\n");
    const n = bytes.copy(junk, 3, i, Math.min(i + step, bytes.length));
    ok = p.feed(junk, 3, 3 + n);
  }
  const out: Outcome = { responses, ok, error: p.error };
  if (opts.eof && ok) out.end = p.finish();
  return out;
}

const CL = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: x\r\n\r\nhello";
const CHUNKED = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n";
const EMPTY = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

describe("bench response parser: valid streams", () => {
  test("Content-Length, chunked (with extension and trailer) and empty bodies, pipelined, split at every size", () => {
    const stream = CL + CHUNKED + EMPTY + CL;
    for (const step of [0, 1, 2, 3, 5, 7, 13, 64]) {
      const r = parse(stream, { step });
      assert.equal(r.ok, true, `step ${step}: ${r.error}`);
      assert.deepEqual(r.responses, [[200, false], [201, false], [404, false], [200, false]], `step ${step}`);
    }
  });

  test("a close-delimited body completes at EOF and says close; a cut one is truncated", () => {
    const r = parse("HTTP/1.1 200 OK\r\n\r\nuntil the end", { eof: true });
    assert.deepEqual(r.responses, [[200, true]]);
    assert.equal(r.end, "complete");
    const cut = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", { eof: true });
    assert.deepEqual(cut.responses, []);
    assert.equal(cut.end, "truncated");
    const idle = parse(CL, { eof: true });
    assert.equal(idle.end, "idle");
    const midHead = parse("HTTP/1.1 200 OK\r\nContent-Le", { eof: true });
    assert.equal(midHead.end, "truncated");
  });

  test("Connection: close, HTTP/1.0 without keep-alive, and HTTP/1.0 with it", () => {
    assert.deepEqual(parse("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 0\r\n\r\n").responses, [[200, true]]);
    assert.deepEqual(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").responses, [[200, true]]);
    assert.deepEqual(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").responses, [[200, false]]);
  });

  test("no body for HEAD, 204 and 304 whatever Content-Length says; 1xx is skipped", () => {
    assert.deepEqual(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + CL, { head: true }).responses.length, 2);
    assert.deepEqual(parse("HTTP/1.1 204 No Content\r\n\r\n" + "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n" + CL).responses, [[204, false], [304, false], [200, false]]);
    assert.deepEqual(parse("HTTP/1.1 100 Continue\r\n\r\n" + CL, { step: 4 }).responses, [[200, false]]);
  });

  test("a status line without a reason phrase, and obs-text in one", () => {
    assert.deepEqual(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").responses, [[200, false]]);
    assert.deepEqual(parse("HTTP/1.1 200 \xe9t\xe9\r\nContent-Length: 0\r\n\r\n").responses, [[200, false]]);
  });

  test("a head longer than one read is carried over", () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(20000)}\r\nContent-Length: 2\r\n\r\nhi`;
    for (const step of [1000, 4096, 19999]) assert.deepEqual(parse(big + CL, { step }).responses, [[200, false], [200, false]]);
  });
});

describe("bench response parser: malformed streams", () => {
  const bad: Array<[string, string]> = [
    ["not HTTP", "HTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
    ["garbage", "hello world\r\n\r\n"],
    ["HTTP/2", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"],
    ["two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"],
    ["status 600", "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n"],
    ["letters in status", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"],
    ["control in reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n"],
    ["bare LF in head", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"],
    ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"],
    ["space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"],
    ["bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"],
    ["negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
    ["conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"],
    ["Content-Length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["chunk data longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"],
    ["chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"],
    ["empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"],
    ["chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"],
    ["bare LF after chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"],
    ["bad last line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX"],
    ["101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"],
  ];
  for (const [name, text] of bad) {
    test(name, () => {
      for (const step of [0, 1, 3]) {
        const r = parse(text, { step });
        assert.equal(r.ok, false, `step ${step}: accepted ${JSON.stringify(text)}`);
        assert.ok(r.error, "a reason is given");
        assert.deepEqual(r.responses, []);
      }
    });
  }

  test("a head that never ends is refused at 64 KiB", () => {
    const r = parse(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70000)}`, { step: 8192 });
    assert.equal(r.ok, false);
    assert.match(r.error!, /too large/);
  });

  test("after reset() a fresh response parses", () => {
    const seen: number[] = [];
    const p = new ResponseParser((s) => seen.push(s));
    const partial = Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert.equal(p.feed(partial, 0, partial.length), true);
    assert.equal(p.inResponse, true);
    p.reset();
    const b = Buffer.from(EMPTY);
    assert.equal(p.feed(b, 0, b.length), true);
    assert.deepEqual(seen, [404]);
  });
});
