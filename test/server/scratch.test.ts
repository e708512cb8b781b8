/**
 * A response written at once is assembled in one buffer shared by every connection, reused only when the write
 * before it finished inside write(). A client that stops reading leaves writes pending: their bytes must still
 * arrive intact while other connections' responses go out, and in order.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { serve } from "../../src/index.ts";

const BODY_BYTES = 16 * 1024 - 100;

/** The body for request number k: its own byte, so a body overwritten by another response shows. */
const bodyFor = (k: number): Buffer => Buffer.alloc(BODY_BYTES, 0x41 + (k % 26));

/** Reads `count` responses of BODY_BYTES from `socket` and returns their bodies in order. */
function readResponses(socket: net.Socket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const bodies: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1 || buf.length < end + 4 + BODY_BYTES) break;
        const head = buf.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 200 OK\r\n") || !head.includes(`\r\ncontent-length: ${BODY_BYTES}`)) {
          socket.off("data", onData);
          reject(new Error(`unexpected response head: ${JSON.stringify(head)}`));
          return;
        }
        bodies.push(buf.subarray(end + 4, end + 4 + BODY_BYTES));
        buf = buf.subarray(end + 4 + BODY_BYTES);
      }
      if (bodies.length === count) {
        socket.off("data", onData);
        resolve(bodies);
      }
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
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
    const slow = net.connect(server.port, "127.0.0.1");
    await new Promise((r) => slow.once("connect", r));
    slow.pause();
    let requests = "";
    for (let k = 0; k < slowCount; k++) requests += `GET /${k} HTTP/1.1\r\nHost: a\r\n\r\n`;
    slow.write(requests);
    await new Promise((r) => setTimeout(r, 300));

    // B: meanwhile, one request at a time, each answer checked.
    const quick = net.connect(server.port, "127.0.0.1");
    await new Promise((r) => quick.once("connect", r));
    for (let k = 0; k < 60; k++) {
      const got = readResponses(quick, 1);
      quick.write(`GET /${k * 7 + 3} HTTP/1.1\r\nHost: a\r\n\r\n`);
      const [body] = await got;
      assert.ok(body!.equals(bodyFor(k * 7 + 3)), `quick response ${k} is intact`);
    }
    quick.destroy();

    const all = readResponses(slow, slowCount);
    slow.resume();
    const bodies = await all;
    for (let k = 0; k < slowCount; k++) assert.ok(bodies[k]!.equals(bodyFor(k)), `slow response ${k} is intact`);
    slow.destroy();
  } finally {
    await server.close();
  }
});
