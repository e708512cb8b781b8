/**
 * Response framing, decided once (src/http/framing.ts): every row is one request × status × what the app declared
 * and handed over, and the framing, Content-Length and body-on-the-wire answer RFC 9110/9112 ask for.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { NO_BODY, STREAMED, bodyOnWire, closesAfter, framedLength, responseFraming, takeAppFraming, type AppFraming, type ResponseFraming } from "../../src/http/framing.ts";

type Row = [method: "GET" | "HEAD", versionMinor: 0 | 1, status: number, declared: number, body: number, framing: ResponseFraming, length: number | null, onWire: boolean];

// length null: the framing writes no Content-Length, so none is asked for.
const ROWS: Row[] = [
  // a whole body: its own length, also when the app declared another
  ["GET", 1, 200, -1, 13, "length", 13, true],
  ["GET", 1, 200, 99, 13, "length", 13, true],
  ["GET", 0, 200, -1, 13, "length", 13, true],
  ["GET", 1, 200, -1, 0, "length", 0, true],
  // no body at all: an empty one, Content-Length: 0, whatever was declared
  ["GET", 1, 200, -1, NO_BODY, "length", 0, true],
  ["GET", 1, 200, 5, NO_BODY, "length", 0, true],
  ["GET", 0, 404, -1, NO_BODY, "length", 0, true],
  // HEAD: the head a GET would get, no body bytes
  ["HEAD", 1, 200, -1, 13, "length", 13, false],
  ["HEAD", 1, 200, 42, NO_BODY, "length", 42, false],
  ["HEAD", 1, 200, -1, NO_BODY, "none", null, false],
  ["HEAD", 0, 200, -1, NO_BODY, "none", null, false],
  ["HEAD", 1, 200, -1, STREAMED, "chunked", null, false],
  ["HEAD", 0, 200, -1, STREAMED, "none", null, false],
  ["HEAD", 1, 200, 7, STREAMED, "length", 7, false],
  // streams: a declared length, else chunked to 1.1, close-delimited to 1.0
  ["GET", 1, 200, 7, STREAMED, "length", 7, true],
  ["GET", 1, 200, -1, STREAMED, "chunked", null, true],
  ["GET", 0, 200, -1, STREAMED, "close", null, true],
  ["GET", 0, 200, 7, STREAMED, "length", 7, true],
  ["GET", 1, 500, -1, STREAMED, "chunked", null, true],
  // 1xx, 204, 304 never have a body; a 304 keeps a declared length (RFC 9110 §15.4.5)
  ["GET", 1, 204, -1, 5, "none", null, false],
  ["GET", 1, 204, 5, NO_BODY, "none", null, false],
  ["GET", 1, 204, -1, STREAMED, "none", null, false],
  ["GET", 0, 204, -1, STREAMED, "none", null, false],
  ["GET", 1, 103, -1, NO_BODY, "none", null, false],
  ["GET", 1, 304, -1, NO_BODY, "none", null, false],
  ["GET", 1, 304, 120, NO_BODY, "length", 120, false],
  ["GET", 1, 304, 120, 3, "length", 120, false],
  ["GET", 1, 304, 120, STREAMED, "length", 120, false],
  ["HEAD", 1, 304, 120, NO_BODY, "length", 120, false],
  ["GET", 1, 304, -1, STREAMED, "none", null, false],
  // 205 is not among RFC 9110's bodiless statuses here: it is framed like any other
  ["GET", 1, 205, -1, NO_BODY, "length", 0, true],
];

describe("responseFraming × framedLength × bodyOnWire", () => {
  for (const [method, minor, status, declared, body, framing, length, onWire] of ROWS) {
    const bodyText = body === NO_BODY ? "no body" : body === STREAMED ? "a stream" : `${body} bytes`;
    test(`${method} HTTP/1.${minor} ${status}, declared ${declared}, ${bodyText} → ${framing}${length === null ? "" : ` ${length}`}`, () => {
      const isHead = method === "HEAD";
      assert.equal(responseFraming(isHead, minor, status, declared, body), framing);
      if (length !== null) assert.equal(framedLength(isHead, status, declared, body), length);
      assert.equal(bodyOnWire(isHead, status), onWire);
    });
  }
});

describe("closesAfter", () => {
  const rows: Array<[keepAlive: boolean, framing: ResponseFraming, appClose: boolean, closes: boolean]> = [
    [true, "length", false, false],
    [true, "chunked", false, false],
    [true, "none", false, false],
    [true, "close", false, true],
    [false, "length", false, true],
    [true, "length", true, true],
  ];
  for (const [keepAlive, framing, appClose, closes] of rows) {
    test(`keep-alive ${keepAlive}, ${framing}, app close ${appClose} → ${closes ? "close" : "keep"}`, () => {
      assert.equal(closesAfter(keepAlive, framing, appClose), closes);
    });
  }
});

/** takeAppFraming's answer for a list that holds framing fields (never null then). */
function taken(headers: string[]): AppFraming {
  const t = takeAppFraming(headers);
  assert.notEqual(t, null, "framing fields were found");
  return t!;
}

describe("takeAppFraming", () => {
  test("a list without framing fields: null (nothing to take out)", () => {
    assert.equal(takeAppFraming(["content-type", "text/plain", "x-a", "1"]), null);
    assert.equal(takeAppFraming([]), null);
  });

  test("content-length, transfer-encoding, connection and keep-alive are taken out; date is noted and kept", () => {
    const t = taken([
      "content-length", "12", "transfer-encoding", "chunked", "connection", "keep-alive, Close", "keep-alive", "timeout=5",
      "date", "Thu, 01 Jan 1970 00:00:00 GMT", "x-a", "1",
    ]);
    assert.deepEqual(t.headers, ["date", "Thu, 01 Jan 1970 00:00:00 GMT", "x-a", "1"]);
    assert.deepEqual([t.length, t.close, t.date], [12, true, true]);
  });

  test("a Content-Length that is not a plain decimal is ignored; Connection without close says nothing", () => {
    for (const bad of ["-1", "1e3", " 5", "0x10", "1234567890123456", ""]) {
      const t = taken(["content-length", bad, "connection", "keep-alive"]);
      assert.deepEqual(t.headers, []);
      assert.equal(t.length, -1, bad);
      assert.equal(t.close, false);
    }
  });

  test("connection: close is found among other tokens only as a whole token", () => {
    assert.equal(taken(["connection", "upgrade,close"]).close, true);
    assert.equal(taken(["connection", "closed"]).close, false);
    assert.equal(taken(["connection", "xclose"]).close, false);
  });
});
