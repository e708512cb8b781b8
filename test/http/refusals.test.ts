/**
 * Refusals over a real socket: every request RFC 9112 (read strictly) says must be refused gets the right status,
 * `Connection: close`, a closed connection, exactly one response (a smuggled request appended after the bad one is
 * never answered), and never reaches the app. Plus the few leniencies oryx chooses (bare LF in the head, leading
 * empty lines) and where it refuses them (chunked framing).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { BAD_REQUEST_LINES, BAD_VERSIONS, LIMITS as TABLE_LIMITS, REFUSALS } from "../support/refusal-table.ts";

/** A complete, valid request appended after each bad one: answering it would mean the refusal was smuggled past. */
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

interface BodyOutcome {
  ok: boolean;
  body: string;
}

interface Harness {
  s: TestServer;
  /** How reading each seen request's body ended, in the order the app saw them. */
  bodies: Array<Promise<BodyOutcome>>;
}

/** A server whose app reads the whole body and echoes it: a body error then surfaces to the app, not as a 200. */
async function harness(overrides: Parameters<typeof startServer>[1] = {}): Promise<Harness> {
  const bodies: Array<Promise<BodyOutcome>> = [];
  const s = await startServer(async (req) => {
    const p = req.text();
    bodies.push(p.then((body) => ({ ok: true, body }), () => ({ ok: false, body: "" })));
    const body = await p;
    return new Response(`ok ${new URL(req.url).pathname} ${body}`);
  }, overrides);
  return { s, bodies };
}

function reset(h: Harness): void {
  h.s.seen.length = 0;
  h.bodies.length = 0;
}

interface RefuseOpts {
  /** The head was valid, so the app saw the request (body-framing refusals); its body read must then fail. */
  appSees?: boolean;
  /** Send one byte per write, this many ms apart. */
  splitGapMs?: number;
}

/** Sends `bytes` + a smuggled request and asserts a clean refusal with `status`. */
async function expectRefusal(h: Harness, bytes: string, status: number, opts: RefuseOpts = {}): Promise<void> {
  reset(h);
  const all = bytes + SMUGGLED;
  const r =
    opts.splitGapMs === undefined
      ? await raw(h.s.port, all)
      : await raw(h.s.port, Array.from(all), { gapMs: opts.splitGapMs });
  const rs = parseResponses(r.text);
  assert.equal(rs.length, 1, `exactly one response expected, got ${rs.length}: ${JSON.stringify(r.text)}`);
  const res = rs[0]!;
  assert.equal(res.status, status, `status for ${JSON.stringify(bytes)}: got ${JSON.stringify(r.text)}`);
  assert.deepEqual(res.headers["connection"], ["close"], "a refusal carries Connection: close");
  assert.ok(r.closed, "the server closed the connection");
  assert.ok(!res.body.includes("smuggled"), "no client bytes are reflected");
  assert.ok(!h.s.seen.some((req) => req.url.includes("/smuggled")), "the smuggled request never reached the app");
  if (opts.appSees) {
    assert.equal(h.s.seen.length, 1, "the app saw only the request whose body was refused");
    const outcome = await h.bodies[0]!;
    assert.equal(outcome.ok, false, "the app's body read failed instead of yielding a body");
  } else {
    assert.equal(h.s.seen.length, 0, `the app saw ${h.s.seen.length} request(s)`);
  }
}

/** Sends `bytes` and asserts exactly one 200 with `Connection: close`, returning the app's body outcome. */
async function expectAccepted(h: Harness, bytes: string, splitGapMs?: number): Promise<{ body: string; req: Request }> {
  reset(h);
  const r = splitGapMs === undefined ? await raw(h.s.port, bytes) : await raw(h.s.port, Array.from(bytes), { gapMs: splitGapMs });
  const rs = parseResponses(r.text);
  assert.equal(rs.length, 1, `exactly one response expected: ${JSON.stringify(r.text)}`);
  assert.equal(rs[0]!.status, 200, `expected 200 for ${JSON.stringify(bytes)}, got ${JSON.stringify(r.text)}`);
  assert.ok(r.closed, "Connection: close was honoured");
  assert.equal(h.s.seen.length, 1);
  const outcome = await h.bodies[0]!;
  assert.ok(outcome.ok, "the app read its body");
  return { body: rs[0]!.body, req: h.s.seen[0]! };
}

const post = (headers: string, body = ""): string => `POST / HTTP/1.1\r\nHost: a\r\n${headers}\r\n${body}`;
const get = (headers: string): string => `GET / HTTP/1.1\r\n${headers}\r\n`;
const chunkedPost = (body: string): string => post("Transfer-Encoding: chunked\r\n", body);

describe("refusals (default limits)", () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.s.close();
  });

  describe("Content-Length and Transfer-Encoding", () => {
    test("Content-Length with Transfer-Encoding → 400", async () => {
      await expectRefusal(h, post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
      await expectRefusal(h, post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
    });

    for (const v of ["+5", "5 x", " 0x5", "0x5", "5,5", "-1", "", "5.0", "1e3"]) {
      test(`Content-Length ${JSON.stringify(v)} → 400`, async () => {
        await expectRefusal(h, post(`Content-Length: ${v}\r\n`, "hello"), 400);
      });
    }

    test("Content-Length with an inner space before a digit → 400", async () => {
      await expectRefusal(h, post("Content-Length: 5 5\r\n", "hello"), 400);
    });

    test("two different Content-Length fields → 400", async () => {
      await expectRefusal(h, post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400);
      await expectRefusal(h, post("Content-Length: 5\r\nContent-Length: 05\r\n", "hello"), 400);
    });

    test("two identical Content-Length fields are accepted → 200", async () => {
      const { body } = await expectAccepted(h, post("Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n", "hello"));
      assert.equal(body, "ok / hello");
    });

    for (const te of ["gzip", "chunked, gzip", "identity", "chunked;q=1"]) {
      test(`Transfer-Encoding ${JSON.stringify(te)} (last coding not chunked) → 400`, async () => {
        await expectRefusal(h, post(`Transfer-Encoding: ${te}\r\n`, "5\r\nhello\r\n0\r\n\r\n"), 400);
      });
    }

    test("chunked twice → 400", async () => {
      await expectRefusal(h, post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 400);
      await expectRefusal(h, post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400);
    });

    for (const te of ["foo, chunked", "gzip, chunked"]) {
      test(`Transfer-Encoding ${JSON.stringify(te)} (unknown coding before chunked) → 501`, async () => {
        await expectRefusal(h, post(`Transfer-Encoding: ${te}\r\n`, "5\r\nhello\r\n0\r\n\r\n"), 501);
      });
    }

    test("two TE fields, an unknown coding then chunked → 501", async () => {
      await expectRefusal(h, post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 501);
    });

    test('"chunked" followed by a U+00A0 byte is not chunked → 400', async () => {
      await expectRefusal(h, post("Transfer-Encoding: chunked\xa0\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
      await expectRefusal(h, post("Transfer-Encoding: \xa0chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
    });

    test("Transfer-Encoding on HTTP/1.0 → 400", async () => {
      await expectRefusal(h, "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400);
    });

    test("Transfer-Encoding: Chunked (any case) is chunked → 200", async () => {
      const { body } = await expectAccepted(h, post("Transfer-Encoding: Chunked\r\nConnection: close\r\n", "5\r\nhello\r\n0\r\n\r\n"));
      assert.equal(body, "ok / hello");
    });
  });

  describe("field lines", () => {
    test("obs-fold (line starting with SP) → 400", async () => {
      await expectRefusal(h, get("Host: a\r\nX-A: b\r\n  c\r\n"), 400);
    });

    test("obs-fold (line starting with HTAB) → 400", async () => {
      await expectRefusal(h, get("Host: a\r\nX-A: b\r\n\tc\r\n"), 400);
    });

    test("obs-fold on the first field line → 400", async () => {
      await expectRefusal(h, get(" Host: a\r\n"), 400);
    });

    test("whitespace between field name and colon → 400", async () => {
      await expectRefusal(h, get("Host : a\r\n"), 400);
      await expectRefusal(h, get("Host: a\r\nContent-Length\t: 0\r\n"), 400);
    });

    test("empty field name → 400", async () => {
      await expectRefusal(h, get("Host: a\r\n: x\r\n"), 400);
    });

    test("non-token field name → 400", async () => {
      await expectRefusal(h, get("Ho(st: a\r\n"), 400);
      await expectRefusal(h, get("Host: a\r\nX\x01Y: b\r\n"), 400);
    });

    test("field line without a colon → 400", async () => {
      await expectRefusal(h, get("Host: a\r\nNoColon\r\n"), 400);
    });

    for (const [name, ch] of [
      ["NUL", "\x00"],
      ["0x01", "\x01"],
      ["DEL", "\x7f"],
      ["bare CR", "\r"],
      ["0x1F", "\x1f"],
    ] as const) {
      test(`${name} inside a field value → 400`, async () => {
        await expectRefusal(h, get(`Host: a\r\nX-A: b${ch}c\r\n`), 400);
      });
    }

    test("HTAB inside a field value is accepted → 200", async () => {
      const { req } = await expectAccepted(h, get("Host: a\r\nX-A: b\tc\r\nConnection: close\r\n"));
      assert.equal(req.headers.get("x-a"), "b\tc");
    });

    test("bare CR as the line end of the request line → 400", async () => {
      await expectRefusal(h, "GET / HTTP/1.1\rHost: a\r\n\r\n", 400);
    });

    test("bare CR as the line end of a header line → 400", async () => {
      await expectRefusal(h, "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400);
      await expectRefusal(h, "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n", 400);
    });

    test("bare CR as the empty line ending the head → 400", async () => {
      await expectRefusal(h, "GET / HTTP/1.1\r\nHost: a\r\n\r", 400);
    });
  });

  describe("Host", () => {
    test("missing Host on HTTP/1.1 → 400", async () => {
      await expectRefusal(h, get("X-A: b\r\n"), 400);
    });

    test("repeated Host → 400", async () => {
      await expectRefusal(h, get("Host: a\r\nHost: a\r\n"), 400);
      await expectRefusal(h, get("Host: a\r\nHost: b\r\n"), 400);
      await expectRefusal(h, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    });

    test("invalid Host value → 400", async () => {
      await expectRefusal(h, get("Host: a/b\r\n"), 400);
      await expectRefusal(h, get("Host: a@b\r\n"), 400);
    });

    test("HTTP/1.0 without Host is accepted → 200", async () => {
      await expectAccepted(h, "GET / HTTP/1.0\r\n\r\n");
    });
  });

  describe("request line", () => {
    // The table's cases (test/support/refusal-table.ts), here under the default limits.
    for (const [name, line] of BAD_REQUEST_LINES) {
      test(`${name} → 400`, async () => {
        await expectRefusal(h, `${line}\r\nHost: a\r\n\r\n`, 400);
      });
    }

    for (const [v, status] of BAD_VERSIONS) {
      test(`version ${v} → ${status}`, async () => {
        await expectRefusal(h, `GET / ${v}\r\nHost: a\r\n\r\n`, status);
      });
    }
  });

  describe("chunked framing", () => {
    for (const size of ["zz", "", " 5", "5 ", "-5", "0x5", "+5", "5\t"]) {
      test(`chunk size ${JSON.stringify(size)} → 400`, async () => {
        await expectRefusal(h, chunkedPost(`${size}\r\nhello\r\n0\r\n\r\n`), 400, { appSees: true });
      });
    }

    test("overflowing chunk size → 400", async () => {
      await expectRefusal(h, chunkedPost("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400, { appSees: true });
    });

    test("chunk data not followed by CRLF → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhelloX\r\n0\r\n\r\n"), 400, { appSees: true });
      // a chunk that says 3 but carries 5: the extra bytes are where a CRLF should be
      await expectRefusal(h, chunkedPost("3\r\nhello\r\n0\r\n\r\n"), 400, { appSees: true });
    });

    test("bare LF after the chunk size → 400", async () => {
      await expectRefusal(h, chunkedPost("5\nhello\r\n0\r\n\r\n"), 400, { appSees: true });
    });

    test("bare LF after the last-chunk size → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\n\r\n"), 400, { appSees: true });
    });

    test("bare LF after chunk data → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\n0\r\n\r\n"), 400, { appSees: true });
    });

    test("bare CR after chunk data → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r0\r\n\r\n"), 400, { appSees: true });
    });

    test("bare LF ending the chunked body (after the trailer section) → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\r\n\n"), 400, { appSees: true });
    });

    test("bare LF ending a trailer line → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\r\nX-T: 1\n\r\n"), 400, { appSees: true });
    });

    for (const [name, ch] of [
      ["NUL", "\x00"],
      ["0x01", "\x01"],
      ["LF", "\n"],
      ["DEL", "\x7f"],
    ] as const) {
      test(`chunk extension with ${name} → 400`, async () => {
        await expectRefusal(h, chunkedPost(`5;a=b${ch}c\r\nhello\r\n0\r\n\r\n`), 400, { appSees: true });
      });
    }

    for (const [name, ext] of [
      ["an empty name", ";"],
      ["a name that is no token", ";bad[=x"],
      ["a value missing after =", ";a="],
      ["a value that is neither token nor quoted string", ";a=b c"],
      ["an unterminated quoted string", ';a="x'],
      ["an empty name after a valid one", ";a=b;"],
    ] as const) {
      test(`chunk extension with ${name} (5${ext}) → 400`, async () => {
        await expectRefusal(h, chunkedPost(`5${ext}\r\nhello\r\n0\r\n\r\n`), 400, { appSees: true });
      });
    }

    test("trailer line with obs-fold → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n"), 400, { appSees: true });
    });

    test("trailer line without a colon → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\r\nXT\r\n\r\n"), 400, { appSees: true });
    });

    test("trailer with a control char in its value → 400", async () => {
      await expectRefusal(h, chunkedPost("5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n"), 400, { appSees: true });
    });

    test("valid chunked body with extensions and trailers is accepted → 200", async () => {
      const { body } = await expectAccepted(
        h,
        post("Transfer-Encoding: chunked\r\nConnection: close\r\n", '5;a=b;c="d e"\r\nhello\r\n6\r\n world\r\n0;x\r\nX-T: 1\r\nX-U: 2\r\n\r\n'),
      );
      assert.equal(body, "ok / hello world");
    });
  });

  describe("Expect and methods", () => {
    test("Expect other than 100-continue → 417", async () => {
      await expectRefusal(h, post("Expect: 200-ok\r\nContent-Length: 5\r\n", "hello"), 417);
      await expectRefusal(h, get("Host: a\r\nExpect: 100-continue, foo\r\n"), 417);
    });

    test("Expect: 100-continue is met → 100 then 200", async () => {
      reset(h);
      const r = await raw(h.s.port, post("Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n", "hello"));
      const rs = parseResponses(r.text);
      assert.deepEqual(
        rs.map((x) => x.status),
        [100, 200],
      );
      assert.equal(rs[1]!.body, "ok / hello");
    });

    test("CONNECT → 501", async () => {
      await expectRefusal(h, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501);
    });

    test("TRACE → 501", async () => {
      await expectRefusal(h, "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
    });
  });

  describe("bare LF: accepted in the head only", () => {
    test("bare LF ends the request line and every header line → 200", async () => {
      const { req } = await expectAccepted(h, "GET /lf HTTP/1.1\nHost: a\nX-A: b\nConnection: close\n\n");
      assert.equal(new URL(req.url).pathname, "/lf");
      assert.equal(req.headers.get("x-a"), "b");
    });

    test("bare LF and CRLF mixed in one head → 200", async () => {
      await expectAccepted(h, "GET / HTTP/1.1\r\nHost: a\nConnection: close\r\n\n");
    });

    test("bare LF in the head, CRLF chunked body → 200", async () => {
      const { body } = await expectAccepted(h, "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nConnection: close\n\n5\r\nhello\r\n0\r\n\r\n");
      assert.equal(body, "ok / hello");
    });

    test("bare LF in the head, then a bare LF in the chunked framing → 400", async () => {
      await expectRefusal(h, "POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n", 400, { appSees: true });
    });

    test("a few leading empty lines (CRLF and LF) before the request line → 200", async () => {
      await expectAccepted(h, "\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    });

    test("many leading empty lines → 400", async () => {
      await expectRefusal(h, `${"\r\n".repeat(50)}GET / HTTP/1.1\r\nHost: a\r\n\r\n`, 400);
    });

    test("pipelined requests with bare LF heads are both answered", async () => {
      reset(h);
      const r = await raw(h.s.port, "GET /1 HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\nHost: a\nConnection: close\n\n");
      const rs = parseResponses(r.text);
      assert.deepEqual(
        rs.map((x) => [x.status, x.body]),
        [
          [200, "ok /1 "],
          [200, "ok /2 "],
        ],
      );
    });
  });

  describe("split one byte per write gives the same status", () => {
    const cases: Array<[string, string, number, boolean]> = [
      ["Content-Length with Transfer-Encoding", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400, false],
      ["obs-fold", get("Host: a\r\nX-A: b\r\n c\r\n"), 400, false],
      ["bare CR in a header line", "GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n", 400, false],
      ["Transfer-Encoding gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501, false],
      ["chunked + U+00A0", post("Transfer-Encoding: chunked\xa0\r\n", "0\r\n\r\n"), 400, false],
      ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, false],
      ["HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, false],
      ["Expect: foo", get("Host: a\r\nExpect: foo\r\n"), 417, false],
      ["missing Host", get("X-A: b\r\n"), 400, false],
      ["chunk size 0x5", chunkedPost("0x5\r\nhello\r\n0\r\n\r\n"), 400, true],
      ["bare LF after chunk data", chunkedPost("5\r\nhello\n0\r\n\r\n"), 400, true],
      ["trailer without a colon", chunkedPost("0\r\nXT\r\n\r\n"), 400, true],
    ];
    for (const gapMs of [0, 1]) {
      for (const [name, bytes, status, appSees] of cases) {
        test(`${name} → ${status} (gapMs ${gapMs})`, async () => {
          await expectRefusal(h, bytes, status, { appSees, splitGapMs: gapMs });
        });
      }
    }

    test("a bare-LF head split one byte per write → 200", async () => {
      await expectAccepted(h, "GET / HTTP/1.1\nHost: a\nConnection: close\n\n", 1);
    });

    test("a CRLF chunked body split one byte per write → 200", async () => {
      const { body } = await expectAccepted(h, post("Transfer-Encoding: chunked\r\nConnection: close\r\n", "5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), 1);
      assert.equal(body, "ok / hello");
    });
  });
});

describe("refusals at the limits", () => {
  const LIMITS = { limitRequestLine: 100, limitRequestFieldSize: 200, limitRequestFields: 10, limitRequestBody: 1000 };
  let h: Harness;
  before(async () => {
    h = await harness(LIMITS);
  });
  after(async () => {
    await h.s.close();
  });

  /** A request line of exactly `n` bytes (without its CRLF). */
  const lineOf = (n: number): string => `GET /${"a".repeat(n - "GET / HTTP/1.1".length)} HTTP/1.1`;

  test("request line at the limit → 200", async () => {
    assert.equal(lineOf(100).length, 100);
    await expectAccepted(h, `${lineOf(100)}\r\nHost: a\r\nConnection: close\r\n\r\n`);
  });

  test("request line over the limit → 414", async () => {
    await expectRefusal(h, `${lineOf(101)}\r\nHost: a\r\n\r\n`, 414);
  });

  test("request line far over the limit, no line end yet → 414", async () => {
    await expectRefusal(h, `GET /${"a".repeat(5000)}`, 414);
  });

  test("request line over the limit, split one byte per write → 414", async () => {
    await expectRefusal(h, `${lineOf(101)}\r\nHost: a\r\n\r\n`, 414, { splitGapMs: 1 });
  });

  /** A header field line of exactly `n` bytes (without its CRLF). */
  const fieldOf = (n: number): string => `X-A: ${"b".repeat(n - "X-A: ".length)}`;

  test("header field at the limit → 200", async () => {
    await expectAccepted(h, get(`Host: a\r\n${fieldOf(200)}\r\nConnection: close\r\n`));
  });

  test("header field over the limit → 431", async () => {
    await expectRefusal(h, get(`Host: a\r\n${fieldOf(201)}\r\n`), 431);
  });

  test("header field far over the limit, no line end yet → 431", async () => {
    await expectRefusal(h, get(`Host: a\r\nX-A: ${"b".repeat(20_000)}`), 431);
  });

  const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join("");

  test("exactly limitRequestFields fields → 200", async () => {
    await expectAccepted(h, get(`Host: a\r\nConnection: close\r\n${fields(8)}`));
  });

  test("more than limitRequestFields fields → 431", async () => {
    await expectRefusal(h, get(`Host: a\r\n${fields(10)}`), 431);
  });

  test("Content-Length at the limit → 200", async () => {
    const { body } = await expectAccepted(h, post("Content-Length: 1000\r\nConnection: close\r\n", "x".repeat(1000)));
    assert.equal(body.length, "ok / ".length + 1000);
  });

  test("Content-Length over the limit → 413", async () => {
    await expectRefusal(h, post("Content-Length: 1001\r\n", "x".repeat(1001)), 413);
  });

  test("Content-Length too large to be a length → 400", async () => {
    await expectRefusal(h, post("Content-Length: 99999999999999999999999\r\n", "x"), 400);
  });

  test("a 100 KB method → 400, not 414", async () => {
    await expectRefusal(h, `${"M".repeat(100 * 1024)} / HTTP/1.1\r\nHost: a\r\n\r\n`, 400);
  });

  test("chunked body at the limit → 200", async () => {
    const { body } = await expectAccepted(h, post("Transfer-Encoding: chunked\r\nConnection: close\r\n", `3e8\r\n${"y".repeat(1000)}\r\n0\r\n\r\n`));
    assert.equal(body.length, "ok / ".length + 1000);
  });

  test("one chunk over the body limit → 413 (the app saw the request; its body read fails)", async () => {
    await expectRefusal(h, chunkedPost(`400\r\n${"y".repeat(1024)}\r\n0\r\n\r\n`), 413, { appSees: true });
  });

  test("chunks adding up past the body limit → 413", async () => {
    const c = `258\r\n${"y".repeat(600)}\r\n`;
    await expectRefusal(h, chunkedPost(`${c}${c}0\r\n\r\n`), 413, { appSees: true });
  });

  test("too many trailer fields → 400", async () => {
    await expectRefusal(h, chunkedPost(`0\r\n${fields(11)}\r\n`), 400, { appSees: true });
  });
});

describe("the shared refusal table (test/support/refusal-table.ts), in process", () => {
  // The same cases test/e2e/refusal-table.test.ts sends to a fetch app and a Node app through the CLI.
  let h: Harness;
  before(async () => {
    h = await harness(TABLE_LIMITS);
  });
  after(async () => {
    await h.s.close();
  });

  for (const c of REFUSALS) {
    test(`${c.name} → ${c.status}`, async () => {
      await expectRefusal(h, c.bytes, c.status, c.appSees === true ? { appSees: true } : {});
    });
  }
});
