/**
 * A connection's output (src/server/output.ts): whole responses made outside a batch of received bytes (an
 * async handler's answers) leave at the end of the turn, one write per connection; what was collected always
 * leaves before anything written after it, in order; a connection closed meanwhile writes nothing.
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { test } from "node:test";
import { beginBatch, dropOut, endBatch, flushOut, writeRaw, writeResponse, type Output } from "../../src/server/output.ts";
import { asciiText } from "../../src/gateway/exchange.ts";

/** Every write any fake connection made, in order: which connection, and the bytes. */
type Write = { conn: string; bytes: string };

function fakeConnection(name: string, writes: Write[]): Output & { closed: boolean } {
  // As a net.Socket: while corked, what is written is kept as given (the caller's memory, not a copy) and
  // counted in writableLength; uncorked, it leaves as one write. Uncorked, the kernel takes every byte at once.
  let held: Array<string | Uint8Array> = [];
  const text = (d: string | Uint8Array): string => (typeof d === "string" ? d : Buffer.from(d).toString("latin1"));
  const socket = {
    writableCorked: 0,
    get writableLength(): number {
      return held.reduce((n, d) => n + d.length, 0);
    },
    cork() {
      socket.writableCorked++;
    },
    uncork() {
      if (socket.writableCorked === 0 || --socket.writableCorked > 0 || held.length === 0) return;
      writes.push({ conn: name, bytes: held.map(text).join("") });
      held = [];
    },
    write(data: string | Uint8Array, encoding?: string) {
      assert.ok(typeof data !== "string" || encoding === "latin1", "text is written as latin1");
      if (socket.writableCorked > 0) held.push(data);
      else writes.push({ conn: name, bytes: text(data) });
      return true;
    },
  };
  const c = {
    socket: socket as unknown as Socket,
    batching: false,
    deferring: false,
    outText: "",
    out: null,
    closed: false,
    blocked() {},
    flushDeferred(): void {
      if (c.closed) dropOut(c);
      else flushOut(c);
    },
  };
  return c;
}

const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const HEAD = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";

test("answers made outside a batch leave at the end of the turn, one write per connection, in the order they were made", async () => {
  const writes: Write[] = [];
  const a = fakeConnection("a", writes);
  const b = fakeConnection("b", writes);
  writeResponse(b, HEAD, asciiText("hello"));
  writeResponse(a, HEAD, Buffer.from("bytes"));
  writeResponse(b, "HTTP/1.1 204 No Content\r\n\r\n", null);
  assert.equal(writes.length, 0, "nothing is written before the end of the turn");
  await endOfTurn();
  assert.deepEqual(writes, [
    { conn: "b", bytes: `${HEAD}helloHTTP/1.1 204 No Content\r\n\r\n` },
    { conn: "a", bytes: `${HEAD}bytes` },
  ]);
  await endOfTurn();
  assert.equal(writes.length, 2, "nothing is written twice");
});

test("bytes written raw after collected answers follow them; a large body follows them as head and body", async () => {
  const writes: Write[] = [];
  const c = fakeConnection("c", writes);
  writeResponse(c, HEAD, Buffer.from("one.."));
  assert.equal(writeRaw(c, "raw text"), true);
  assert.deepEqual(writes.map((w) => w.bytes), [`${HEAD}one..`, "raw text"]);
  const large = Buffer.alloc(16 * 1024 + 1, 0x6c);
  writeResponse(c, HEAD, asciiText("two.."));
  writeResponse(c, "HTTP/1.1 200 OK\r\ncontent-length: 16385\r\n\r\n", large);
  // The collected answer first, then the large one's head and body, corked together (one writev).
  const after = writes.slice(2).map((w) => w.bytes);
  assert.equal(after.length, 2);
  assert.equal(after[0], `${HEAD}two..`);
  assert.ok(after[1] === `HTTP/1.1 200 OK\r\ncontent-length: 16385\r\n\r\n${large.toString("latin1")}`, "the large body follows its head");
  await endOfTurn();
  assert.equal(writes.length, 4, "nothing more at the end of the turn");
});

test("a batch's answers, text and bytes mixed, leave in one write when the batch ends, in order", () => {
  const writes: Write[] = [];
  const c = fakeConnection("c", writes);
  beginBatch(c);
  writeResponse(c, HEAD, asciiText("first"));
  writeResponse(c, HEAD, Buffer.from("secnd"));
  writeResponse(c, HEAD, asciiText("third"));
  const fourth = Buffer.from("fourth");
  writeResponse(c, HEAD, new Uint8Array(fourth.buffer, fourth.byteOffset + 1, 5));
  // Larger than the shared scratch buffer altogether: assembled in a buffer of its own.
  const big = Buffer.alloc(15 * 1024, 0x62);
  writeResponse(c, HEAD, big);
  writeResponse(c, HEAD, big);
  assert.equal(writes.length, 0);
  endBatch(c, false);
  assert.deepEqual(writes.map((w) => w.bytes), [`${HEAD}first${HEAD}secnd${HEAD}third${HEAD}${"fourth".slice(1)}${HEAD}${big.toString("latin1")}${HEAD}${big.toString("latin1")}`]);
});

test("a connection closed before the end of the turn writes nothing of what it collected", async () => {
  const writes: Write[] = [];
  const c = fakeConnection("c", writes);
  writeResponse(c, HEAD, asciiText("hello"));
  c.closed = true;
  await endOfTurn();
  assert.equal(writes.length, 0);
  assert.equal(c.outText, "");
  assert.equal(c.out, null);
});
