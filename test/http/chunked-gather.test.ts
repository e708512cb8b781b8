/**
 * The chunked decoder hands its body bytes on in as few buffers as one read allows (issue 18): short runs of chunk
 * data decoded from one `execute` are gathered into one buffer of their own; a run of 4 KiB or more goes as a view
 * of the read; a lone short run as a view. Bytes and their order never change, however the input is split.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ChunkedDecoder, HttpError, type Limits } from "../../src/http/index.ts";

const LIMITS: Limits = { requestLine: 8192, fields: 100, fieldSize: 8192, body: 16 * 1024 * 1024 };

/** The chunked coding of `pieces`, then the last chunk (and `trailer` lines). */
function encode(pieces: Buffer[], trailer = ""): Buffer {
  const out: Buffer[] = [];
  for (const p of pieces) out.push(Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n"));
  out.push(Buffer.from(`0\r\n${trailer}\r\n`));
  return Buffer.concat(out);
}

/** Feeds `reads` one `execute` each; returns the buffers `onData` got, per read. */
function decode(reads: Buffer[], limits = LIMITS): { perRead: Buffer[][]; done: boolean } {
  const d = new ChunkedDecoder(limits);
  const perRead: Buffer[][] = [];
  for (const r of reads) {
    const got: Buffer[] = [];
    // Each buffer is copied as it comes: a shared scratch reused later would show up as changed bytes.
    d.execute(r, 0, (chunk) => got.push(Buffer.from(chunk)));
    perRead.push(got);
  }
  return { perRead, done: d.done };
}

const bytes = (n: number, from = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));

describe("ChunkedDecoder gathers short chunk data", () => {
  test("10,000 one-byte chunks in one read reach onData as one buffer with every byte in order", () => {
    const pieces = Array.from({ length: 10_000 }, (_, i) => bytes(1, i));
    const { perRead, done } = decode([encode(pieces)]);
    assert.ok(done);
    assert.equal(perRead[0]!.length, 1);
    assert.deepEqual(perRead[0]![0], Buffer.concat(pieces));
  });

  test("a 4 KiB chunk goes as a view of the read, after the short ones before it and before those after it", () => {
    const small1 = [bytes(3, 1), bytes(5, 2)];
    const big = bytes(4096, 7);
    const small2 = [bytes(2, 3), bytes(1, 4)];
    const input = encode([...small1, big, ...small2]);
    const d = new ChunkedDecoder(LIMITS);
    const got: Buffer[] = [];
    d.execute(input, 0, (c) => got.push(c));
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], Buffer.concat(small1));
    assert.equal(got[1]!.buffer, input.buffer, "the large run is a view of the input");
    assert.deepEqual(got[1], big);
    assert.deepEqual(Buffer.from(got[2]!), Buffer.concat(small2));
  });

  test("a lone short run is a view of the read (nothing copied)", () => {
    const input = encode([bytes(10)]);
    const d = new ChunkedDecoder(LIMITS);
    const got: Buffer[] = [];
    d.execute(input, 0, (c) => got.push(c));
    assert.equal(got.length, 1);
    assert.equal(got[0]!.buffer, input.buffer);
  });

  test("more short data than the gathering buffer holds (200,000 one-byte chunks in one read): several buffers, bytes intact", () => {
    const pieces = Array.from({ length: 200_000 }, (_, i) => bytes(1, i));
    const { perRead } = decode([encode(pieces)]);
    assert.ok(perRead[0]!.length >= 3 && perRead[0]!.length <= 5, `${perRead[0]!.length} buffers`);
    assert.deepEqual(Buffer.concat(perRead[0]!), Buffer.concat(pieces));
  });

  test("the body limit still counts decoded bytes: 413 once one-byte chunks pass it", () => {
    const pieces = Array.from({ length: 101 }, (_, i) => bytes(1, i));
    assert.throws(
      () => decode([encode(pieces)], { ...LIMITS, body: 100 }),
      (e: unknown) => e instanceof HttpError && e.status === 413,
    );
  });

  test("property: any chunk sizes, any split into reads, trailers or not: the same bytes in the same order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 4000, max: 9000 })), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 8 }),
        fc.boolean(),
        (sizes, cuts, trailer) => {
          let at = 0;
          const pieces = sizes.map((n) => {
            const p = bytes(n, at);
            at += n;
            return p;
          });
          const input = encode(pieces, trailer ? "x-sum: 1\r\n" : "");
          const points = [...new Set(cuts.map((c) => c % input.length))].sort((a, b) => a - b);
          const reads: Buffer[] = [];
          let from = 0;
          for (const p of [...points, input.length]) {
            if (p > from) reads.push(input.subarray(from, p));
            from = Math.max(from, p);
          }
          const { perRead, done } = decode(reads);
          assert.ok(done);
          assert.deepEqual(Buffer.concat(perRead.flat()), Buffer.concat(pieces));
          // Per read: at most one buffer of gathered short runs between two long runs.
          for (const got of perRead) for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.length >= 4096 || got[i]!.length >= 4096 || got[i - 1]!.length + got[i]!.length > 64 * 1024);
        },
      ),
      { numRuns: 300 },
    );
  });
});
