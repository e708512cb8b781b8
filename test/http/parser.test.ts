/**
 * Unit tests of the request-head parser and the chunked decoder, fed bytes directly (whole, split anywhere, and
 * one byte at a time), without a socket.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChunkedDecoder, HeadParser, HttpError, type HttpErrorCode, type Limits, type RequestHead } from "../../src/http/index.ts";

const LIMITS: Limits = { requestLine: 8192, fields: 100, fieldSize: 8192, body: 1_000_000 };

const bytes = (s: string | Buffer): Buffer => (typeof s === "string" ? Buffer.from(s, "latin1") : s);

/** Parses a complete head given in one buffer; asserts the parser consumed exactly the head. */
function parse(s: string, limits: Limits = LIMITS): RequestHead {
  const buf = bytes(s);
  const p = new HeadParser(limits);
  const end = p.execute(buf, 0);
  assert.equal(end, buf.length, "the whole input is one head");
  return p.finish(limits.body);
}

/** Feeds `s` one byte per `execute`; returns the head and the index of the byte that completed it. */
function parseBytewise(s: string, limits: Limits = LIMITS): { head: RequestHead; at: number } {
  const buf = bytes(s);
  const p = new HeadParser(limits);
  for (let i = 0; i < buf.length; i++) {
    const end = p.execute(buf.subarray(i, i + 1), 0);
    if (end >= 0) {
      assert.equal(end, 1);
      return { head: p.finish(limits.body), at: i };
    }
  }
  assert.fail("the head never completed");
}

/** The HttpError thrown while parsing (execute and finish), whole and byte by byte; both must agree. */
function headError(s: string, limits: Limits = LIMITS): HttpError {
  const run = (feed: (p: HeadParser, buf: Buffer) => void): HttpError => {
    const p = new HeadParser(limits);
    try {
      feed(p, bytes(s));
    } catch (err) {
      assert.ok(err instanceof HttpError, `expected an HttpError, got ${String(err)}`);
      return err;
    }
    assert.fail(`no error for ${JSON.stringify(s)}`);
  };
  const whole = run((p, buf) => {
    if (p.execute(buf, 0) >= 0) p.finish(limits.body);
  });
  const split = run((p, buf) => {
    for (let i = 0; i < buf.length; i++) {
      if (p.execute(buf.subarray(i, i + 1), 0) >= 0) {
        p.finish(limits.body);
        return;
      }
    }
  });
  assert.equal(split.status, whole.status, "split input gives the same status");
  assert.equal(split.code, whole.code, "split input gives the same code");
  return whole;
}

function expectHeadError(s: string, status: number, code?: HttpErrorCode, limits: Limits = LIMITS): void {
  const err = headError(s, limits);
  assert.equal(err.status, status, `status for ${JSON.stringify(s)} (${err.code}: ${err.message})`);
  if (code !== undefined) assert.equal(err.code, code, `code for ${JSON.stringify(s)}`);
}

describe("HeadParser: good heads", () => {
  test("a simple GET", () => {
    const h = parse("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert.equal(h.method, "GET");
    assert.equal(h.target, "/a?b=c");
    assert.equal(h.versionMinor, 1);
    assert.deepEqual(h.headers, ["host", "example.com"]);
    assert.equal(h.host, "example.com");
    assert.equal(h.framing, "none");
    assert.equal(h.contentLength, 0);
    assert.equal(h.keepAlive, true);
    assert.equal(h.expectContinue, false);
  });

  test("field names are lowercased, values trimmed of OWS, order and duplicates kept", () => {
    const h = parse("GET / HTTP/1.1\r\nHOST: a\r\nX-Multi:  one \t\r\nx-multi:two\r\nAccept-Encoding:\tgzip, br\r\nX-Empty:\r\n\r\n");
    assert.deepEqual(h.headers, ["host", "a", "x-multi", "one", "x-multi", "two", "accept-encoding", "gzip, br", "x-empty", ""]);
  });

  test("inner whitespace, HTAB and obs-text in values are kept as sent", () => {
    const h = parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b \t c\r\nX-B: caf\xe9\r\n\r\n");
    assert.equal(h.headers[3], "b \t c");
    assert.equal(h.headers[5], "caf\xe9");
    assert.equal(h.headers[5]!.length, 4, "one char per byte");
  });

  test("method is case-sensitive and any token", () => {
    assert.equal(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n").method, "get");
    assert.equal(parse("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method, "M-SEARCH");
    assert.equal(parse("PURGE! / HTTP/1.1\r\nHost: a\r\n\r\n").method, "PURGE!");
  });

  test("the four target forms, each where it belongs", () => {
    assert.equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").target, "*");
    assert.equal(parse("GET http://b.example/x HTTP/1.1\r\nHost: a\r\n\r\n").target, "http://b.example/x");
    assert.equal(parse("GET HTTPS://b.example HTTP/1.1\r\nHost: a\r\n\r\n").target, "HTTPS://b.example");
    assert.equal(parse("CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n").target, "b.example:443");
  });

  test("HTTP/1.0: versionMinor 0, Host optional, not kept alive by default", () => {
    const h = parse("GET / HTTP/1.0\r\n\r\n");
    assert.equal(h.versionMinor, 0);
    assert.equal(h.host, "");
    assert.deepEqual(h.headers, []);
    assert.equal(h.keepAlive, false);
  });

  test("HTTP/1.0 with a Host keeps it", () => {
    assert.equal(parse("GET / HTTP/1.0\r\nHost: a:81\r\n\r\n").host, "a:81");
  });

  test("Host values: reg-name, port, IPv4, IPv6 literal; never an empty host", () => {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a.b-c_d~e:8080\r\n\r\n").host, "a.b-c_d~e:8080");
    assert.equal(parse("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").host, "127.0.0.1");
    assert.equal(parse("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n").host, "[::1]:80");
    for (const empty of ["Host:", "Host: ", "Host: \t ", "Host: :80", "Host: :"]) {
      assert.throws(() => parse(`GET / HTTP/1.1\r\n${empty}\r\n\r\n`), (e: unknown) => e instanceof HttpError && e.status === 400 && e.code === "BAD_HOST", empty);
    }
    assert.throws(() => parse("GET / HTTP/1.0\r\nHost:\r\n\r\n"), (e: unknown) => e instanceof HttpError && e.code === "BAD_HOST", "HTTP/1.0 with an empty Host");
    assert.equal(parse("GET / HTTP/1.0\r\n\r\n").host, "", "HTTP/1.0 may send none");
  });

  test("keepAlive per version and Connection", () => {
    const ka = (v: string, conn: string | null): boolean =>
      parse(`GET / HTTP/${v}\r\nHost: a\r\n${conn === null ? "" : `Connection: ${conn}\r\n`}\r\n`).keepAlive;
    assert.equal(ka("1.1", null), true);
    assert.equal(ka("1.1", "close"), false);
    assert.equal(ka("1.1", "Close"), false);
    assert.equal(ka("1.1", "keep-alive, close"), false);
    assert.equal(ka("1.1", "upgrade ,  CLOSE "), false);
    assert.equal(ka("1.1", "keep-alive"), true);
    assert.equal(ka("1.1", "closed"), true);
    assert.equal(ka("1.0", null), false);
    assert.equal(ka("1.0", "keep-alive"), true);
    assert.equal(ka("1.0", "Keep-Alive"), true);
    assert.equal(ka("1.0", "keep-alive, close"), false);
    assert.equal(ka("1.0", "close, keep-alive"), false);
    assert.equal(ka("1.0", "keep-alives"), false);
  });

  test("Connection close in a second Connection field counts", () => {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").keepAlive, false);
    assert.equal(parse("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
  });

  test("framing: Content-Length", () => {
    const h = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
    assert.equal(h.framing, "length");
    assert.equal(h.contentLength, 42);
  });

  test("framing: Content-Length 0 (and 000) is no body", () => {
    for (const v of ["0", "000"]) {
      const h = parse(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\n`);
      assert.equal(h.framing, "none");
      assert.equal(h.contentLength, 0);
    }
  });

  test("framing: leading zeros and OWS around Content-Length", () => {
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n").contentLength, 7);
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t7 \r\n\r\n").contentLength, 7);
  });

  test("framing: two identical Content-Length fields", () => {
    const h = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    assert.equal(h.framing, "length");
    assert.equal(h.contentLength, 5);
  });

  test("framing: Content-Length exactly at the body limit", () => {
    const h = new HeadParser(LIMITS);
    h.execute(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"), 0);
    assert.equal(h.finish(1000).contentLength, 1000);
  });

  test("framing: chunked, any case, with OWS and empty list elements", () => {
    for (const te of ["chunked", "Chunked", "CHUNKED", " chunked ", ", chunked", "chunked ,"]) {
      const h = parse(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}\r\n\r\n`);
      assert.equal(h.framing, "chunked", te);
      assert.equal(h.contentLength, 0);
    }
  });

  test("expectContinue: 100-continue on HTTP/1.1 with a body", () => {
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").expectContinue, true);
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n").expectContinue, true);
  });

  test("expectContinue: false without a body, and ignored on HTTP/1.0", () => {
    assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").expectContinue, false);
    assert.equal(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n").expectContinue, false);
    assert.equal(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").expectContinue, false);
  });

  test("bare LF line ends, and mixed with CRLF", () => {
    const h = parse("GET /x HTTP/1.1\nHost: a\nX-A: b\r\n\n");
    assert.equal(h.target, "/x");
    assert.deepEqual(h.headers, ["host", "a", "x-a", "b"]);
  });

  test("up to 8 leading empty lines are skipped", () => {
    assert.equal(parse(`${"\r\n".repeat(4)}${"\n".repeat(4)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`).method, "GET");
  });

  test("the result does not depend on how the bytes were split", () => {
    const s = "\r\nPOST /p?q HTTP/1.1\r\nHost: h:1\r\nContent-Length: 12\r\nX-Long: " + "v".repeat(300) + "\r\nConnection: close\r\n\r\n";
    const whole = parse(s);
    const { head, at } = parseBytewise(s);
    assert.equal(at, s.length - 1);
    assert.deepEqual(head, whole);
    // every two-way split too
    const buf = bytes(s);
    for (let cut = 1; cut < buf.length; cut++) {
      const p = new HeadParser(LIMITS);
      assert.equal(p.execute(buf.subarray(0, cut), 0), -1, `cut ${cut}`);
      assert.equal(p.execute(buf.subarray(cut), 0), buf.length - cut, `cut ${cut}`);
      assert.deepEqual(p.finish(LIMITS.body), whole, `cut ${cut}`);
    }
  });
});

describe("HeadParser: execute offsets, started, reset", () => {
  test("execute returns the offset just past the head, leaving pipelined bytes", () => {
    const first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const buf = bytes(first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    const p = new HeadParser(LIMITS);
    const end = p.execute(buf, 0);
    assert.equal(end, first.length);
    assert.equal(p.finish(LIMITS.body).target, "/1");
    p.reset();
    assert.equal(p.execute(buf, end), buf.length);
    assert.equal(p.finish(LIMITS.body).target, "/2");
  });

  test("body bytes after the head are left for the body", () => {
    const head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    const buf = bytes(`${head}hello`);
    const p = new HeadParser(LIMITS);
    assert.equal(p.execute(buf, 0), head.length);
    assert.equal(buf.subarray(head.length).toString(), "hello");
  });

  test("execute honours its start offset", () => {
    const buf = bytes("JUNKGET /s HTTP/1.1\r\nHost: a\r\n\r\nrest");
    const p = new HeadParser(LIMITS);
    assert.equal(p.execute(buf, 4), buf.length - 4);
    assert.equal(p.finish(LIMITS.body).target, "/s");
  });

  test("with the head split across reads, the offset is into the last read", () => {
    const p = new HeadParser(LIMITS);
    assert.equal(p.execute(bytes("GET / HTTP/1.1\r\nHo"), 0), -1);
    assert.equal(p.execute(bytes("st: a\r\n\r"), 0), -1);
    assert.equal(p.execute(bytes("\nNEXT"), 0), 1);
    assert.equal(p.finish(LIMITS.body).host, "a");
  });

  test("with bare-LF line ends, the offset is past the final LF", () => {
    const p = new HeadParser(LIMITS);
    const first = "GET / HTTP/1.1\nHost: a\n\n";
    assert.equal(p.execute(bytes(`${first}GET`), 0), first.length);
  });

  test("started is false until a byte arrives, and false again after reset", () => {
    const p = new HeadParser(LIMITS);
    assert.equal(p.started, false);
    assert.equal(p.execute(Buffer.alloc(0), 0), -1);
    assert.equal(p.started, false);
    assert.equal(p.execute(bytes("G"), 0), -1);
    assert.equal(p.started, true);
    p.reset();
    assert.equal(p.started, false);
  });

  test("a leading empty line alone counts as started", () => {
    const p = new HeadParser(LIMITS);
    assert.equal(p.execute(bytes("\r\n"), 0), -1);
    assert.equal(p.started, true);
  });

  test("bytes before the start offset do not count as started", () => {
    const p = new HeadParser(LIMITS);
    const buf = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.equal(p.execute(buf, buf.length), -1);
    assert.equal(p.started, false);
  });

  test("reset forgets a partial line and the parsed fields", () => {
    const p = new HeadParser(LIMITS);
    assert.equal(p.execute(bytes("GET /old HTTP/1.1\r\nX-Old: 1\r\nHo"), 0), -1);
    p.reset();
    const buf = bytes("GET /new HTTP/1.1\r\nHost: b\r\n\r\n");
    assert.equal(p.execute(buf, 0), buf.length);
    const h = p.finish(LIMITS.body);
    assert.equal(h.target, "/new");
    assert.deepEqual(h.headers, ["host", "b"]);
  });

  test("reset starts a fresh field list: an earlier Host does not carry over", () => {
    const p = new HeadParser(LIMITS);
    p.execute(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    const first = p.finish(LIMITS.body);
    p.reset();
    p.execute(bytes("GET / HTTP/1.1\r\n\r\n"), 0);
    assert.throws(
      () => p.finish(LIMITS.body),
      (e: unknown) => e instanceof HttpError && e.code === "BAD_HOST",
    );
    assert.deepEqual(first.headers, ["host", "a"], "an earlier result is not mutated by later parsing");
  });
});

describe("HeadParser: refusals", () => {
  const H = "Host: a\r\n";

  test("request line", () => {
    expectHeadError("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET /\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET / \r\nHost: a\r\n\r\n", 400, "BAD_VERSION");
    expectHeadError("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "BAD_VERSION");
    expectHeadError("GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_METHOD");
    expectHeadError("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_METHOD");
    expectHeadError(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_METHOD");
    expectHeadError("GET\r\nHost: a\r\n\r\n", 400, "BAD_METHOD");
    expectHeadError("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_VERSION");
    expectHeadError("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "BAD_VERSION");
  });

  test("bare CR in the request line or as a line end", () => {
    expectHeadError("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    expectHeadError("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expectHeadError("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400);
    expectHeadError("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);
    expectHeadError("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400);
  });

  test("target forms used where they may not be", () => {
    expectHeadError("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
    expectHeadError("CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
  });

  test("CONNECT with an origin-form target is refused (RFC 9112 §3.2.3: CONNECT takes authority-form only)", () => {
    expectHeadError("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "BAD_TARGET");
  });

  test("versions", () => {
    for (const v of ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9", "HTTP/9.9"]) {
      expectHeadError(`GET / ${v}\r\nHost: a\r\n\r\n`, 505, "UNSUPPORTED_VERSION");
    }
    for (const v of ["HTTP/1.10", "HTTP/1", "HTTP/1.", "HTTP/1.x", "HTTP/x.1", "HTTPS/1.1", "HTTP/1,1", "http/1.1", "HTTP/1.1\t"]) {
      expectHeadError(`GET / ${v}\r\nHost: a\r\n\r\n`, 400, "BAD_VERSION");
    }
  });

  test("too many leading empty lines", () => {
    expectHeadError(`${"\r\n".repeat(9)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`, 400, "BAD_REQUEST_LINE");
  });

  test("field lines", () => {
    expectHeadError(`GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 400, "OBS_FOLD");
    expectHeadError(`GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, 400, "OBS_FOLD");
    expectHeadError("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "OBS_FOLD");
    expectHeadError("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "BAD_FIELD_NAME");
    expectHeadError("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "BAD_FIELD_NAME");
    expectHeadError(`GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, 400, "BAD_FIELD_NAME");
    expectHeadError("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400, "BAD_FIELD_NAME");
    expectHeadError(`GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, 400, "BAD_FIELD_NAME");
    expectHeadError(`GET / HTTP/1.1\r\n${H}X\xe9: a\r\n\r\n`, 400, "BAD_FIELD_NAME");
  });

  test("control chars in a value", () => {
    for (const c of ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\r"]) {
      expectHeadError(`GET / HTTP/1.1\r\n${H}X: a${c}b\r\n\r\n`, 400, "BAD_FIELD_VALUE");
    }
  });

  test("Host", () => {
    expectHeadError("GET / HTTP/1.1\r\nX: a\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "BAD_HOST");
    expectHeadError("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400, "BAD_HOST");
  });

  test("Content-Length", () => {
    for (const v of ["+5", " 0x5", "5,5", "5, 5", "-1", "", "5 5", "1e3", "5.0", "\xa05"]) {
      expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: ${v}\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
    }
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 05\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: x\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
  });

  test("Content-Length over the body limit → 413", () => {
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 1000001\r\n\r\n`, 413, "BODY_TOO_LARGE");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740991\r\n\r\n`, 413, "BODY_TOO_LARGE");
  });

  test("a Content-Length too large to be a length → 400; leading zeros say nothing", () => {
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999999\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740993\r\n\r\n`, 400, "BAD_CONTENT_LENGTH");
    assert.equal(parse(`POST / HTTP/1.1\r\n${H}Content-Length: 0000000000000000000005\r\n\r\n`).contentLength, 5);
  });

  test("a request line over the limit: 414 for a long target, 400 when the method alone fills it", () => {
    expectHeadError(`GET /${"a".repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414, "REQUEST_LINE_TOO_LONG");
    expectHeadError(`${"G".repeat(9000)} / HTTP/1.1\r\n${H}\r\n`, 400, "BAD_METHOD");
  });

  test("Transfer-Encoding", () => {
    const te = (v: string, v10 = false): string => `POST / HTTP/1.${v10 ? 0 : 1}\r\n${H}Transfer-Encoding: ${v}\r\n\r\n`;
    expectHeadError(`POST / HTTP/1.1\r\n${H}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, "CONTENT_LENGTH_WITH_TRANSFER_ENCODING");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`, 400, "CONTENT_LENGTH_WITH_TRANSFER_ENCODING");
    for (const v of ["gzip", "chunked, gzip", "", ",", "chunked\xa0", "\xa0chunked", "chunked;x=1", "identity"]) {
      expectHeadError(te(v), 400, "BAD_TRANSFER_ENCODING");
    }
    expectHeadError(te("chunked, chunked"), 400, "BAD_TRANSFER_ENCODING");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, "BAD_TRANSFER_ENCODING");
    expectHeadError(te("gz(ip, chunked"), 400, "BAD_TRANSFER_ENCODING");
    expectHeadError(te("foo, chunked"), 501, "UNKNOWN_TRANSFER_CODING");
    expectHeadError(te("gzip, chunked"), 501, "UNKNOWN_TRANSFER_CODING");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`, 501, "UNKNOWN_TRANSFER_CODING");
    expectHeadError(te("chunked", true), 400, "TRANSFER_ENCODING_ON_HTTP10");
  });

  test("Expect other than 100-continue → 417", () => {
    expectHeadError(`GET / HTTP/1.1\r\n${H}Expect: foo\r\n\r\n`, 417, "EXPECTATION_FAILED");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Expect: 100-continue, foo\r\nContent-Length: 1\r\n\r\n`, 417, "EXPECTATION_FAILED");
    expectHeadError(`POST / HTTP/1.1\r\n${H}Expect: 100-continue\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n`, 417, "EXPECTATION_FAILED");
  });

  test("request line limit → 414, at the limit accepted", () => {
    const limits = { ...LIMITS, requestLine: 100 };
    const line = (n: number): string => `GET /${"a".repeat(n - 14)} HTTP/1.1`;
    assert.equal(line(100).length, 100);
    assert.equal(parse(`${line(100)}\r\nHost: a\r\n\r\n`, limits).target.length, 87);
    assert.equal(parse(`${line(100)}\nHost: a\n\n`, limits).target.length, 87);
    expectHeadError(`${line(101)}\r\nHost: a\r\n\r\n`, 414, "REQUEST_LINE_TOO_LONG", limits);
  });

  test("an unterminated request line is refused as soon as it is too long", () => {
    const p = new HeadParser({ ...LIMITS, requestLine: 100 });
    assert.equal(p.execute(bytes(`GET /${"a".repeat(90)}`), 0), -1);
    assert.throws(
      () => p.execute(bytes("a".repeat(20)), 0),
      (e: unknown) => e instanceof HttpError && e.status === 414 && e.code === "REQUEST_LINE_TOO_LONG",
    );
  });

  test("header field size limit → 431, at the limit accepted", () => {
    const limits = { ...LIMITS, fieldSize: 200 };
    const field = (n: number): string => `X-A: ${"b".repeat(n - 5)}`;
    assert.equal(parse(`GET / HTTP/1.1\r\n${H}${field(200)}\r\n\r\n`, limits).headers[3]!.length, 195);
    expectHeadError(`GET / HTTP/1.1\r\n${H}${field(201)}\r\n\r\n`, 431, "FIELD_TOO_LARGE", limits);
    const p = new HeadParser(limits);
    assert.equal(p.execute(bytes(`GET / HTTP/1.1\r\n${H}X-A: `), 0), -1);
    assert.throws(
      () => p.execute(bytes("b".repeat(300)), 0),
      (e: unknown) => e instanceof HttpError && e.status === 431 && e.code === "FIELD_TOO_LARGE",
    );
  });

  test("field count limit → 431, at the limit accepted", () => {
    const limits = { ...LIMITS, fields: 5 };
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join("");
    assert.equal(parse(`GET / HTTP/1.1\r\n${H}${fields(4)}\r\n`, limits).headers.length, 10);
    expectHeadError(`GET / HTTP/1.1\r\n${H}${fields(5)}\r\n`, 431, "TOO_MANY_FIELDS", limits);
  });
});

// ─── ChunkedDecoder ───────────────────────────────────────────────────────────────────────────────────────────

interface Decoded {
  data: string;
  end: number;
  done: boolean;
  received: number;
}

/** Decodes `s` in one execute call. */
function decode(s: string, limits: Limits = LIMITS): Decoded {
  const d = new ChunkedDecoder(limits);
  const parts: Buffer[] = [];
  const end = d.execute(bytes(s), 0, (c) => parts.push(Buffer.from(c)));
  return { data: Buffer.concat(parts).toString("latin1"), end, done: d.done, received: d.received };
}

/** Decodes `s` one byte per execute call; `end` is the index of the byte that completed the body, or -1. */
function decodeBytewise(s: string, limits: Limits = LIMITS): Decoded {
  const d = new ChunkedDecoder(limits);
  const parts: Buffer[] = [];
  const buf = bytes(s);
  for (let i = 0; i < buf.length; i++) {
    const r = d.execute(buf.subarray(i, i + 1), 0, (c) => parts.push(Buffer.from(c)));
    if (r >= 0) {
      assert.equal(r, 1);
      return { data: Buffer.concat(parts).toString("latin1"), end: i, done: d.done, received: d.received };
    }
  }
  return { data: Buffer.concat(parts).toString("latin1"), end: -1, done: d.done, received: d.received };
}

function chunkError(s: string, limits: Limits = LIMITS): HttpError {
  const run = (bytewise: boolean): HttpError => {
    try {
      if (bytewise) decodeBytewise(s, limits);
      else decode(s, limits);
    } catch (err) {
      assert.ok(err instanceof HttpError, `expected an HttpError, got ${String(err)}`);
      return err;
    }
    assert.fail(`no error for ${JSON.stringify(s)}`);
  };
  const whole = run(false);
  const split = run(true);
  assert.equal(split.status, whole.status);
  assert.equal(split.code, whole.code);
  return whole;
}

function expectChunkError(s: string, status: number, code: HttpErrorCode, limits: Limits = LIMITS): void {
  const err = chunkError(s, limits);
  assert.equal(err.status, status, `status for ${JSON.stringify(s)} (${err.message})`);
  assert.equal(err.code, code, `code for ${JSON.stringify(s)}`);
}

describe("ChunkedDecoder: good bodies", () => {
  test("one chunk", () => {
    const s = "5\r\nhello\r\n0\r\n\r\n";
    assert.deepEqual(decode(s), { data: "hello", end: s.length, done: true, received: 5 });
  });

  test("several chunks, hex sizes in either case, leading zeros", () => {
    const s = `3\r\nabc\r\nA\r\n${"0123456789"}\r\nb\r\n${"x".repeat(11)}\r\n0010\r\n${"y".repeat(16)}\r\n000\r\n\r\n`;
    const r = decode(s);
    assert.equal(r.data, `abc0123456789${"x".repeat(11)}${"y".repeat(16)}`);
    assert.equal(r.received, 3 + 10 + 11 + 16);
    assert.equal(r.end, s.length);
    assert.equal(r.done, true);
  });

  test("an empty body (last chunk only)", () => {
    assert.deepEqual(decode("0\r\n\r\n"), { data: "", end: 5, done: true, received: 0 });
  });

  test("chunk data may hold CR, LF and any byte", () => {
    const r = decode("7\r\n\r\n0\r\n\xff\x00\r\n0\r\n\r\n");
    assert.equal(r.data, "\r\n0\r\n\xff\x00");
    assert.equal(r.received, 7);
    assert.equal(r.done, true);
  });

  test("extensions, with and without values, quoted strings and HTAB", () => {
    const s = '5;a\r\nhello\r\n1;name=value;q="x y;z"\r\n!\r\n2;\tb=1\r\nok\r\n0;last=1\r\n\r\n';
    const r = decode(s);
    assert.equal(r.data, "hello!ok");
    assert.equal(r.end, s.length);
    assert.equal(r.done, true);
  });

  test("trailers are validated and consumed", () => {
    const s = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\tv w \r\nEmpty:\r\n\r\n";
    const r = decode(s);
    assert.equal(r.data, "hello");
    assert.equal(r.end, s.length);
    assert.equal(r.done, true);
  });

  test("execute returns the offset past the body, leaving pipelined bytes", () => {
    const body = "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
    const r = decode(`${body}GET / HTTP/1.1\r\n`);
    assert.equal(r.end, body.length);
    assert.equal(r.data, "hello");
  });

  test("execute honours its start offset", () => {
    const d = new ChunkedDecoder(LIMITS);
    const parts: string[] = [];
    const buf = bytes("HEAD3\r\nabc\r\n0\r\n\r\nNEXT");
    assert.equal(
      d.execute(buf, 4, (c) => parts.push(c.toString())),
      buf.length - 4,
    );
    assert.deepEqual(parts, ["abc"]);
  });

  test("execute returns -1 until the body is complete", () => {
    const d = new ChunkedDecoder(LIMITS);
    const parts: string[] = [];
    const on = (c: Buffer): void => void parts.push(c.toString());
    assert.equal(d.execute(bytes("5\r\nhel"), 0, on), -1);
    assert.equal(d.done, false);
    assert.equal(d.execute(bytes("lo\r\n0\r\n"), 0, on), -1);
    assert.equal(d.done, false);
    assert.equal(d.execute(bytes("X-T: 1\r"), 0, on), -1);
    assert.equal(d.execute(bytes("\n\r"), 0, on), -1);
    assert.equal(d.done, false);
    assert.equal(d.execute(bytes("\nrest"), 0, on), 1);
    assert.equal(d.done, true);
    assert.deepEqual(parts, ["hel", "lo"]);
  });

  test("onData gets views of the input, not copies", () => {
    const d = new ChunkedDecoder(LIMITS);
    const buf = bytes("3\r\nabc\r\n0\r\n\r\n");
    let view: Buffer | null = null;
    d.execute(buf, 0, (c) => (view = c));
    assert.ok(view !== null);
    assert.equal((view as Buffer).buffer, buf.buffer);
    assert.equal((view as Buffer).byteOffset, buf.byteOffset + 3);
  });

  test("byte-by-byte decoding gives the same body and ends on the last byte", () => {
    const s = '5;a="b"\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n';
    const whole = decode(s);
    const split = decodeBytewise(s);
    assert.equal(split.data, whole.data);
    assert.equal(split.end, s.length - 1);
    assert.equal(split.done, true);
    assert.equal(split.received, 11);
  });

  test("a body exactly at the limit", () => {
    const r = decode(`a\r\n${"z".repeat(10)}\r\n0\r\n\r\n`, { ...LIMITS, body: 10 });
    assert.equal(r.received, 10);
    assert.equal(r.done, true);
  });

  test("a chunk extension of 4096 bytes after its ';' is accepted", () => {
    assert.equal(decode(`1;${"e".repeat(4096)}\r\nx\r\n0\r\n\r\n`).done, true);
  });
});

describe("ChunkedDecoder: refusals", () => {
  test("malformed chunk sizes", () => {
    for (const size of ["zz", "", " 5", "5 ", "-5", "0x5", "+5", "5\t", "g"]) {
      expectChunkError(`${size}\r\nhello\r\n0\r\n\r\n`, 400, "BAD_CHUNK");
    }
  });

  test("an overflowing chunk size is refused as malformed, not as too large", () => {
    expectChunkError("ffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError(`1${"0".repeat(40)}\r\nx\r\n0\r\n\r\n`, 400, "BAD_CHUNK");
  });

  test("chunk data not followed by CRLF", () => {
    expectChunkError("5\r\nhelloX\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("3\r\nhello\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5\r\nhello\rX0\r\n\r\n", 400, "BAD_CHUNK");
  });

  test("bare LF or bare CR in chunk framing", () => {
    expectChunkError("5\nhello\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5;a\nhello\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5\r\nhello\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5\r\nhello\r\n0\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5\rhello\r\n0\r\n\r\n", 400, "BAD_CHUNK");
    expectChunkError("5\r\r\nhello\r\n0\r\n\r\n", 400, "BAD_CHUNK");
  });

  test("bare LF in the trailer section", () => {
    expectChunkError("0\r\n\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\nX-T: 1\n\r\n", 400, "BAD_TRAILER");
  });

  test("control chars in a chunk extension", () => {
    for (const c of ["\x00", "\x01", "\x1f", "\x7f", "\n"]) {
      expectChunkError(`5;a=b${c}c\r\nhello\r\n0\r\n\r\n`, 400, "BAD_CHUNK");
    }
  });

  test("a chunk extension over 4096 bytes", () => {
    expectChunkError(`1;${"e".repeat(5000)}\r\nx\r\n0\r\n\r\n`, 400, "BAD_CHUNK");
  });

  test("bad trailers", () => {
    expectChunkError("0\r\nX-T: 1\r\n 2\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\n\tX-T: 1\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\nXT\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\nX-T : 1\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\n: 1\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\nX-T: a\x00b\r\n\r\n", 400, "BAD_TRAILER");
    expectChunkError("0\r\nX-T: a\rb\r\n\r\n", 400, "BAD_TRAILER");
  });

  test("too many or too large trailers", () => {
    const limits = { ...LIMITS, fields: 3, fieldSize: 100 };
    const trailers = (n: number): string => Array.from({ length: n }, (_, i) => `T-${i}: v\r\n`).join("");
    assert.equal(decode(`0\r\n${trailers(3)}\r\n`, limits).done, true);
    expectChunkError(`0\r\n${trailers(4)}\r\n`, 400, "BAD_TRAILER", limits);
    assert.equal(decode(`0\r\nT: ${"v".repeat(97)}\r\n\r\n`, limits).done, true);
    expectChunkError(`0\r\nT: ${"v".repeat(98)}\r\n\r\n`, 400, "BAD_TRAILER", limits);
    expectChunkError(`0\r\nT: ${"v".repeat(500)}`, 400, "BAD_TRAILER", limits);
  });

  test("a chunk larger than the body limit → 413, before its data arrives", () => {
    const d = new ChunkedDecoder({ ...LIMITS, body: 10 });
    assert.throws(
      () => d.execute(bytes("b\r\n"), 0, () => assert.fail("no data may be delivered")),
      (e: unknown) => e instanceof HttpError && e.status === 413 && e.code === "BODY_TOO_LARGE",
    );
  });

  test("chunks adding up past the body limit → 413", () => {
    expectChunkError(`6\r\n${"a".repeat(6)}\r\n5\r\n${"b".repeat(5)}\r\n0\r\n\r\n`, 413, "BODY_TOO_LARGE", { ...LIMITS, body: 10 });
  });
});

describe("field names", () => {
  test("are lowercased whatever their case, common ones and others alike, and near misses stay themselves", () => {
    const names = ["Host", "HOST", "hOsT", "User-Agent", "ACCEPT-ENCODING", "Content-Length", "X-Forwarded-For", "TE", "Dnt",
      "Hosts", "Hos", "Hosu", "User_Agent", "Accept-Encodinh", "X-Custom", "~host", "Cookie2", "content^type"];
    for (const n of names) {
      const value = n.toLowerCase() === "content-length" ? "0" : n.toLowerCase() === "te" ? "trailers" : "v";
      const isHost = n.toLowerCase() === "host";
      const head = parse(`GET / HTTP/1.1\r\n${isHost ? `${n}: a` : `Host: a\r\n${n}: ${value}`}\r\n\r\n`);
      if (isHost) assert.equal(head.host, "a", `${n} is the Host field`);
      const seen = head.headers.filter((_, i) => i % 2 === 0);
      assert.ok(seen.includes(n.toLowerCase()), `${n} → ${seen.join(",")}`);
      for (const s of seen) assert.equal(s, s.toLowerCase());
    }
    // "~" | 0x20 is "~" and "^" | 0x20 is "~": a name with either must not pass for another.
    const tricky = parse("GET / HTTP/1.1\r\nHost: a\r\nhos^: 1\r\n\r\n");
    assert.ok(tricky.headers.includes("hos^"));
  });
});
