/**
 * A response written at once is assembled in one buffer shared by every connection, reused only when the write
 * before it finished inside write(). A client that stops reading leaves writes pending: their bytes must still
 * arrive intact while other connections' responses go out, and in order.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { serve } from "../../src/index.ts";
import { Session } from "../support/client.ts";

const BODY_BYTES = 16 * 1024 - 100;

/** The body for request number k: its own byte, so a body overwritten by another response shows. */
const bodyFor = (k: number): Buffer => Buffer.alloc(BODY_BYTES, 0x41 + (k % 26));

/** The next response on `c`, which must be a 200 of BODY_BYTES; its body. */
async function nextBody(c: Session): Promise<Buffer> {
  const r = await c.response({ ms: 20_000 });
  if (r.statusLine !== "HTTP/1.1 200 OK" || !r.fields.some(([k, v]) => k === "content-length" && v === String(BODY_BYTES))) {
    throw new Error(`unexpected response head: ${JSON.stringify([r.statusLine, ...r.fields.map(([k, v]) => `${k}: ${v}`)])}`);
  }
  return Buffer.from(r.body, "latin1");
}

test("responses stay intact while a slow reader's writes are pending", { timeout: 30_000 }, async () => {
  const server = serve({
    // Answered after a promise: outside the batch of received bytes, so each goes out on its own at once.
    fetch: async (req) => {
      await Promise.resolve();
      return new Response(bodyFor(Number(new URL(req.url).pathname.slice(1))));
    },
    port: 0,
    onListen: false,
  });
  await server.ready();
  try {
    // A: asks for 400 responses (about 6.4 MB) and reads none yet, so the kernel's buffers fill and its
    // writes stay pending in the server.
    const slowCount = 400;
    const slow = await Session.open(server.port, { paused: true });
    let requests = "";
    for (let k = 0; k < slowCount; k++) requests += `GET /${k} HTTP/1.1\r\nHost: a\r\n\r\n`;
    slow.write(requests);
    await new Promise((r) => setTimeout(r, 300));

    // B: meanwhile, one request at a time, each answer checked.
    const quick = await Session.open(server.port);
    for (let k = 0; k < 60; k++) {
      quick.write(`GET /${k * 7 + 3} HTTP/1.1\r\nHost: a\r\n\r\n`);
      const body = await nextBody(quick);
      assert.ok(body.equals(bodyFor(k * 7 + 3)), `quick response ${k} is intact`);
    }
    quick.destroy();

    slow.resume();
    for (let k = 0; k < slowCount; k++) assert.ok((await nextBody(slow)).equals(bodyFor(k)), `slow response ${k} is intact`);
    slow.destroy();
  } finally {
    await server.close();
  }
});
