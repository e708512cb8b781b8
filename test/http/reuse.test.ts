/**
 * What the hot path reuses from one request to the next must never leak into a request that differs: a parser
 * kept for a connection reuses the strings of a repeated target and repeated field values; the response head of
 * the previous response is reused when the next is alike; the gateway reuses the last URL and ASCII verdict.
 * Each is checked against the same work done from scratch, on sequences built to repeat and nearly repeat.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { HeadParser, HttpError, serializeHead, type Limits, type RequestHead, type ResponseFraming } from "../../src/http/index.ts";
import { asciiText, type Exchange } from "../../src/gateway/exchange.ts";
import { requestUrl } from "../../src/gateway/request.ts";

const LIMITS: Limits = { requestLine: 8192, fields: 100, fieldSize: 8192, body: 1_000_000 };

function parseWith(p: HeadParser, text: string): RequestHead {
  p.reset();
  const buf = Buffer.from(text, "latin1");
  assert.equal(p.execute(buf, 0), buf.length);
  return p.finish(LIMITS.body);
}

const fresh = (text: string): RequestHead => parseWith(new HeadParser(LIMITS), text);

// Values of the same length that differ in one char, so a reuse that compared only lengths would be caught.
const METHODS = ["GET", "PUT", "POST", "HEAD", "get", "PATCH", "DELETE", "OPTIONS", "PURGE"];
const TARGETS = ["/", "/a", "/b", "/ab", "/ba", "/x?q=1", "/x?q=2", `/${"p".repeat(300)}`, `/${"p".repeat(299)}q`];
const HOSTS = ["a", "b", "a:1", "a:2", "example.com", "examplf.com"];
const AGENTS = ["x/1", "x/2", "y/1", "é/1", "z".repeat(128), "z".repeat(127) + "y", "z".repeat(129), "z".repeat(128) + "y"];

const headArb = fc.record({
  method: fc.constantFrom(...METHODS),
  target: fc.constantFrom(...TARGETS),
  host: fc.constantFrom(...HOSTS),
  agent: fc.option(fc.constantFrom(...AGENTS), { nil: undefined }),
  accept: fc.option(fc.constantFrom("*/*", "*/+", "text/html"), { nil: undefined }),
  hostCase: fc.constantFrom("Host", "host", "HOST"),
});

function headText(h: { method: string; target: string; host: string; agent: string | undefined; accept: string | undefined; hostCase: string }): string {
  let s = `${h.method} ${h.target} HTTP/1.1\r\n${h.hostCase}: ${h.host}\r\n`;
  if (h.agent !== undefined) s += `User-Agent: ${h.agent}\r\n`;
  if (h.accept !== undefined) s += `accept:  ${h.accept} \r\n`;
  return `${s}\r\n`;
}

describe("a parser kept for a connection", () => {
  test("property: a sequence of heads parses as each head alone would", () => {
    fc.assert(
      fc.property(fc.array(headArb, { minLength: 1, maxLength: 30 }), (heads) => {
        const p = new HeadParser(LIMITS);
        for (const h of heads) {
          const text = headText(h);
          assert.deepEqual(parseWith(p, text), fresh(text));
        }
      }),
      { numRuns: 400 },
    );
  });

  test("a same-length target, method and Host after another are read anew", () => {
    const p = new HeadParser(LIMITS);
    const a = parseWith(p, "GET /a HTTP/1.1\r\nHost: h1\r\nUser-Agent: u1\r\n\r\n");
    const b = parseWith(p, "PUT /b HTTP/1.1\r\nHost: h2\r\nUser-Agent: u2\r\n\r\n");
    assert.deepEqual([a.method, a.target, a.host, a.headers[3]], ["GET", "/a", "h1", "u1"]);
    assert.deepEqual([b.method, b.target, b.host, b.headers[3]], ["PUT", "/b", "h2", "u2"]);
  });

  test("a Host found valid before does not let a different, invalid one through", () => {
    const p = new HeadParser(LIMITS);
    parseWith(p, "GET / HTTP/1.1\r\nHost: ab\r\n\r\n");
    p.reset();
    const buf = Buffer.from("GET / HTTP/1.1\r\nHost: a/\r\n\r\n", "latin1");
    assert.equal(p.execute(buf, 0), buf.length);
    assert.throws(() => p.finish(LIMITS.body), (err: unknown) => err instanceof HttpError && err.code === "BAD_HOST");
    // The invalid value was not remembered as valid either.
    p.reset();
    assert.equal(p.execute(buf, 0), buf.length);
    assert.throws(() => p.finish(LIMITS.body), (err: unknown) => err instanceof HttpError && err.code === "BAD_HOST");
  });
});

describe("the response head memo", () => {
  const framings: ResponseFraming[] = ["length", "chunked", "close", "none"];
  const shared = [["content-type", "text/plain"], ["content-type", "application/json", "x-a", "1"], []];
  const initArb = fc.record({
    status: fc.constantFrom(200, 201, 404),
    reason: fc.constantFrom("", "Fine"),
    headersAt: fc.integer({ min: 0, max: shared.length - 1 }),
    framing: fc.constantFrom(...framings),
    contentLength: fc.constantFrom(0, 5, 13, 50),
    close: fc.boolean(),
    keepAlive10: fc.boolean(),
    server: fc.constantFrom("", "oryx"),
    hasDate: fc.boolean(),
    date: fc.constantFrom("Sun, 22 Nov 2026 10:00:00 GMT", "Sun, 22 Nov 2026 10:00:01 GMT"),
  });

  test("property: a head from the memo equals the head made from scratch", () => {
    fc.assert(
      fc.property(fc.array(initArb, { minLength: 1, maxLength: 20 }), (inits) => {
        for (const i of inits) {
          const init = { ...i, headers: shared[i.headersAt]! };
          // A copy of the list has a new identity: the memo cannot answer for it.
          const scratch = serializeHead({ ...init, headers: [...init.headers] });
          assert.equal(serializeHead(init), scratch);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("a different Content-Length with the same list changes the head", () => {
    const headers = ["content-type", "text/plain"];
    const base = { status: 200, reason: "", headers, framing: "length" as const, close: false, keepAlive10: false, server: "", hasDate: false, date: "D" };
    assert.match(serializeHead({ ...base, contentLength: 5 }), /content-length: 5\r\n/);
    assert.match(serializeHead({ ...base, contentLength: 6 }), /content-length: 6\r\n/);
    assert.match(serializeHead({ ...base, contentLength: 6, date: "E" }), /date: E\r\n/);
  });
});

describe("the gateway's last URL and ASCII verdict", () => {
  const exchange = (scheme: "http" | "https", host: string, target: string): Exchange =>
    ({
      head: { method: "GET", target, versionMinor: 1, headers: ["host", host], host, framing: "none", contentLength: 0, keepAlive: true, expectContinue: false },
      info: { remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 2, remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } },
      scheme,
      forwardedHost: null,
      body: null,
    }) as unknown as Exchange;

  test("property: requestUrl after other requests equals new URL's answer", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ scheme: fc.constantFrom("http" as const, "https" as const), host: fc.constantFrom("a", "b", "A", "a:80", "a:443", "a:8080"), target: fc.constantFrom("/", "/x", "/y", "/./x", "/%7e") }), { minLength: 1, maxLength: 20 }),
        (reqs) => {
          for (const r of reqs) assert.equal(requestUrl(exchange(r.scheme, r.host, r.target)), new URL(`${r.scheme}://${r.host}${r.target}`).href);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("asciiText answers for each text, not for the last one", () => {
    assert.equal(asciiText("hello"), "hello");
    assert.equal(asciiText("hello"), "hello");
    assert.equal(asciiText("héllo"), null);
    assert.equal(asciiText("hallo"), "hallo");
    assert.equal(asciiText("héllo"), null);
  });
});
