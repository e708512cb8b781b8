import assert from "node:assert/strict";
import { test } from "node:test";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer } from "../support/server.ts";

test("a malformed chunked body found while draining after the response closes the connection without a second response", async () => {
  const s = await startServer(() => new Response("answered without reading"));
  try {
    // The app answers at once; the body is then drained, and its second chunk is malformed.
    const r = await raw(s.port, [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "3\r\nabc\r\nzz\r\n",
      "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    ], { gapMs: 30 });
    const responses = parseResponses(r.text);
    assert.deepEqual(responses.map((x) => x.status), [200]);
    assert.equal(responses[0]!.body, "answered without reading");
    assert.ok(r.closed, "the connection stayed open");
    assert.equal(s.seen.length, 1);
  } finally {
    await s.close();
  }
});

test("a well-formed unread chunked body is drained and the connection serves the next request", async () => {
  const s = await startServer((req) => new Response(new URL(req.url).pathname));
  try {
    const r = await raw(s.port, [
      "POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "3\r\nabc\r\n0\r\n\r\n",
      "GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ], { gapMs: 30 });
    assert.deepEqual(parseResponses(r.text).map((x) => x.body), ["/first", "/second"]);
  } finally {
    await s.close();
  }
});
