import assert from "node:assert/strict";
import { test } from "node:test";
import { raw } from "./support/client.ts";
import { parseResponses } from "./support/response.ts";
import { startServer } from "./support/server.ts";

test("smoke: hello over fetch and over a raw socket, pipelined", async () => {
  const s = await startServer(() => new Response("Hello, World!"));
  try {
    const res = await fetch(s.url);
    assert.equal(await res.text(), "Hello, World!");
    const r = await raw(s.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const rs = parseResponses(r.text);
    assert.equal(rs.length, 2);
    assert.equal(rs[1]!.headers["connection"]?.[0], "close");
    assert.ok(r.closed);
  } finally {
    await s.close();
  }
});
