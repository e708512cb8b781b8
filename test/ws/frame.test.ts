/**
 * The frame codec: RFC 6455's rules, one case each, and a property: any split of the same bytes parses to the
 * same events (messages, pings, pongs, close, or the same protocol error at the same point).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WsProtocolError } from "../../src/ws/errors.ts";
import { FrameParser, OP, type FrameSink } from "../../src/ws/frame-parser.ts";
import { closePayload, encodeFrame } from "../../src/ws/frame-encoder.ts";

type Event = ["text", string] | ["binary", string] | ["ping", string] | ["pong", string] | ["close", number, string] | ["error", number, string];

function parseAll(chunks: Buffer[], maxMessage = 1 << 20): Event[] {
  const events: Event[] = [];
  const sink: FrameSink = {
    frameText: (m) => events.push(["text", m]),
    frameBinary: (m) => {
      // Bun's shape: a Buffer that owns its ArrayBuffer.
      assert.equal(m.byteOffset, 0);
      assert.equal(m.buffer.byteLength, m.length);
      events.push(["binary", m.toString("hex")]);
    },
    framePing: (p) => events.push(["ping", p.toString("hex")]),
    framePong: (p) => events.push(["pong", p.toString("hex")]),
    frameClose: (code, reason) => events.push(["close", code, reason]),
  };
  const parser = new FrameParser({ maxMessage, requireMask: true }, sink);
  for (const c of chunks) {
    try {
      parser.push(Buffer.from(c)); // a copy: the input is reused for other splits
    } catch (err) {
      assert.ok(err instanceof WsProtocolError);
      events.push(["error", err.closeCode, err.code]);
      break;
    }
  }
  return events;
}

const MASK = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const masked = (op: number, payload: Uint8Array | string, fin = true): Buffer => encodeFrame(op, payload, fin, MASK);

test("a masked text frame is a message; an unmasked one is refused with 1002", () => {
  assert.deepEqual(parseAll([masked(OP.TEXT, "Hello")]), [["text", "Hello"]]);
  assert.deepEqual(parseAll([encodeFrame(OP.TEXT, "Hello")]), [["error", 1002, "WS_UNMASKED"]]);
});

test("lengths: 7-bit, 16-bit and 64-bit forms", () => {
  for (const n of [0, 125, 126, 65535, 65536, 70000]) {
    const payload = Buffer.alloc(n, 0x61);
    assert.deepEqual(parseAll([masked(OP.BINARY, payload)]), [["binary", payload.toString("hex")]], `length ${n}`);
  }
});

test("fragments make one message, with control frames between them; a UTF-8 char may be split across fragments", () => {
  const euro = Buffer.from("€", "utf8"); // 3 bytes
  const frames = [masked(OP.TEXT, Buffer.concat([Buffer.from("a"), euro.subarray(0, 1)]), false), masked(OP.PING, "p"), masked(OP.CONTINUATION, euro.subarray(1), false), masked(OP.CONTINUATION, "b", true)];
  assert.deepEqual(parseAll([Buffer.concat(frames)]), [["ping", "70"], ["text", "a€b"]]);
});

test("protocol violations get their close codes", () => {
  const cases: Array<[string, Buffer, number, string]> = [
    ["bad UTF-8", masked(OP.TEXT, Buffer.from([0xc3, 0x28])), 1007, "WS_BAD_UTF8"],
    ["UTF-8 cut off at the message's end", masked(OP.TEXT, Buffer.from([0xe2, 0x82])), 1007, "WS_BAD_UTF8"],
    ["a surrogate in UTF-8", masked(OP.TEXT, Buffer.from([0xed, 0xa0, 0x80])), 1007, "WS_BAD_UTF8"],
    ["a control frame of 126 bytes", masked(OP.PING, Buffer.alloc(126)), 1002, "WS_CONTROL_TOO_LONG"],
    ["a fragmented control frame", masked(OP.PING, "x", false), 1002, "WS_FRAGMENTED_CONTROL"],
    ["RSV1 not negotiated", (() => { const f = masked(OP.TEXT, "x"); f[0] |= 0x40; return f; })(), 1002, "WS_RSV_SET"],
    ["reserved opcode 3", masked(3, "x"), 1002, "WS_BAD_OPCODE"],
    ["reserved opcode 11", masked(11, "x"), 1002, "WS_BAD_OPCODE"],
    ["a continuation with nothing to continue", masked(OP.CONTINUATION, "x"), 1002, "WS_UNEXPECTED_CONTINUATION"],
    ["a new message inside a fragmented one", Buffer.concat([masked(OP.TEXT, "a", false), masked(OP.TEXT, "b")]), 1002, "WS_EXPECTED_CONTINUATION"],
    ["a close frame of 1 byte", masked(OP.CLOSE, Buffer.from([3])), 1002, "WS_BAD_CLOSE"],
    ["close code 1005 on the wire", masked(OP.CLOSE, Buffer.from([0x03, 0xed])), 1002, "WS_BAD_CLOSE_CODE"],
    ["close code 999", masked(OP.CLOSE, Buffer.from([0x03, 0xe7])), 1002, "WS_BAD_CLOSE_CODE"],
    ["close code 5000", masked(OP.CLOSE, Buffer.from([0x13, 0x88])), 1002, "WS_BAD_CLOSE_CODE"],
    ["a close reason that is not UTF-8", masked(OP.CLOSE, Buffer.from([0x03, 0xe8, 0xff])), 1007, "WS_BAD_UTF8"],
    ["a 64-bit length with its top bit set", Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), 1002, "WS_BAD_LENGTH"],
  ];
  for (const [name, bytes, code, id] of cases) assert.deepEqual(parseAll([bytes]), [["error", code, id]], name);
});

test("a message over the limit is refused with 1009 on its header, also when its fragments add up past it", () => {
  assert.deepEqual(parseAll([masked(OP.BINARY, Buffer.alloc(101))], 100), [["error", 1009, "WS_MESSAGE_TOO_BIG"]]);
  assert.deepEqual(parseAll([masked(OP.BINARY, Buffer.alloc(100))], 100).length, 1);
  const two = Buffer.concat([masked(OP.BINARY, Buffer.alloc(60), false), masked(OP.CONTINUATION, Buffer.alloc(60))]);
  assert.deepEqual(parseAll([two], 100), [["error", 1009, "WS_MESSAGE_TOO_BIG"]]);
  // Only the header is needed to refuse: a frame that declares 2^40 bytes is refused before any payload.
  const huge = Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  assert.deepEqual(parseAll([huge], 100), [["error", 1009, "WS_MESSAGE_TOO_BIG"]]);
});

test("close frames: the code and reason, 1005 for none, nothing read after", () => {
  assert.deepEqual(parseAll([Buffer.concat([masked(OP.CLOSE, closePayload(4000, "bye ☃")), masked(OP.TEXT, "after")])]), [["close", 4000, "bye ☃"]]);
  assert.deepEqual(parseAll([masked(OP.CLOSE, "")]), [["close", 1005, ""]]);
});

test("closePayload cuts a long reason on a character boundary", () => {
  const p = closePayload(1000, "☃".repeat(100));
  assert.ok(p.length <= 125);
  assert.equal(p.subarray(2).toString("utf8"), "☃".repeat(41));
});

// ─── the property ───────────────────────────────────────────────────────────────────────────────────────────

const frameArb = fc.oneof(
  fc.record({ kind: fc.constant("text" as const), s: fc.string({ unit: "grapheme", maxLength: 40 }), pieces: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("binary" as const), b: fc.uint8Array({ maxLength: 300 }), pieces: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("ping" as const), b: fc.uint8Array({ maxLength: 125 }) }),
  fc.record({ kind: fc.constant("pong" as const), b: fc.uint8Array({ maxLength: 125 }) }),
  fc.record({ kind: fc.constant("bad" as const), b: fc.uint8Array({ minLength: 1, maxLength: 20 }) }),
);

/** Bytes of a sequence of messages (fragmented as asked, split at any byte, UTF-8 chars included). */
function wire(frames: Array<{ kind: string; s?: string; b?: Uint8Array; pieces?: number }>, mask: Uint8Array): Buffer {
  const out: Buffer[] = [];
  for (const f of frames) {
    if (f.kind === "ping" || f.kind === "pong") out.push(encodeFrame(f.kind === "ping" ? OP.PING : OP.PONG, f.b!, true, mask));
    else if (f.kind === "bad") out.push(Buffer.from(f.b!));
    else {
      const bytes = f.kind === "text" ? Buffer.from(f.s!, "utf8") : Buffer.from(f.b!);
      const n = f.pieces!;
      const size = Math.ceil(bytes.length / n) || 0;
      for (let i = 0; i < n; i++) {
        const part = bytes.subarray(i * size, (i + 1) * size);
        out.push(encodeFrame(i === 0 ? (f.kind === "text" ? OP.TEXT : OP.BINARY) : OP.CONTINUATION, part, i === n - 1, mask));
      }
    }
  }
  return Buffer.concat(out);
}

test("property: any split of the bytes parses to the same events", () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, mask, cuts) => {
      const bytes = wire(frames as never, mask);
      const whole = parseAll([bytes], 1000);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        chunks.push(bytes.subarray(prev, p));
        prev = p;
      }
      chunks.push(bytes.subarray(prev));
      assert.deepEqual(parseAll(chunks, 1000), whole);
      // Byte by byte too.
      assert.deepEqual(parseAll([...bytes].map((b) => Buffer.of(b)), 1000), whole);
    }),
    { numRuns: 500 },
  );
});

test("property: well-formed messages come back as sent", () => {
  fc.assert(
    fc.property(fc.array(frameArb.filter((f) => f.kind !== "bad"), { maxLength: 8 }), (frames) => {
      const events = parseAll([wire(frames as never, MASK)]);
      const expected: Event[] = frames.map((f) =>
        f.kind === "text" ? ["text", (f as { s: string }).s] : [f.kind as "binary" | "ping" | "pong", Buffer.from((f as { b: Uint8Array }).b).toString("hex")],
      );
      assert.deepEqual(events, expected);
    }),
    { numRuns: 300 },
  );
});

// ─── permessage-deflate ─────────────────────────────────────────────────────────────────────────────────────

import { deflateMessage, negotiateDeflate } from "../../src/ws/deflate.ts";

function parseDeflate(chunks: Buffer[], maxMessage = 1 << 20): Event[] {
  const events: Event[] = [];
  const parser = new FrameParser({ maxMessage, requireMask: true, deflate: true }, {
    frameText: (m) => events.push(["text", m]),
    frameBinary: (m) => {
      assert.equal(m.buffer.byteLength, m.length);
      events.push(["binary", m.toString("hex")]);
    },
    framePing: (p) => events.push(["ping", p.toString("hex")]),
    framePong: (p) => events.push(["pong", p.toString("hex")]),
    frameClose: (code, reason) => events.push(["close", code, reason]),
  });
  for (const c of chunks) {
    try {
      parser.push(Buffer.from(c));
    } catch (err) {
      assert.ok(err instanceof WsProtocolError);
      events.push(["error", err.closeCode, err.code]);
      break;
    }
  }
  return events;
}

test("deflate: compressed messages (RSV1 on the first frame) are inflated, fragmented or not; plain ones pass", () => {
  const text = "hello hello hello ☃ ".repeat(50);
  const z = deflateMessage(Buffer.from(text));
  assert.ok(z.length < Buffer.byteLength(text));
  assert.deepEqual(parseDeflate([encodeFrame(OP.TEXT, z, true, MASK, true)]), [["text", text]]);
  const half = Math.floor(z.length / 2);
  const fragmented = Buffer.concat([encodeFrame(OP.TEXT, z.subarray(0, half), false, MASK, true), encodeFrame(OP.CONTINUATION, z.subarray(half), true, MASK)]);
  assert.deepEqual(parseDeflate([fragmented, masked(OP.TEXT, "plain")]), [["text", text], ["text", "plain"]]);
  const bin = Buffer.from([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  assert.deepEqual(parseDeflate([encodeFrame(OP.BINARY, deflateMessage(bin), true, MASK, true)]), [["binary", bin.toString("hex")]]);
});

test("deflate: a bomb is refused with 1009 once it inflates past the limit; bad data gets 1007; RSV1 on a continuation or a control frame gets 1002", () => {
  const bomb = deflateMessage(Buffer.alloc(4 * 1024 * 1024)); // 4 MiB of zeros, about 4 KiB compressed
  assert.ok(bomb.length < 10_000);
  assert.deepEqual(parseDeflate([encodeFrame(OP.BINARY, bomb, true, MASK, true)], 1 << 20), [["error", 1009, "WS_MESSAGE_TOO_BIG"]]);
  assert.deepEqual(parseDeflate([encodeFrame(OP.BINARY, Buffer.from([0xff, 0xff, 0xff]), true, MASK, true)]), [["error", 1007, "WS_BAD_DEFLATE"]]);
  const cont = Buffer.concat([encodeFrame(OP.TEXT, deflateMessage(Buffer.from("ab")), false, MASK, true), encodeFrame(OP.CONTINUATION, "x", true, MASK, true)]);
  assert.deepEqual(parseDeflate([cont]), [["error", 1002, "WS_RSV_SET"]]);
  assert.deepEqual(parseDeflate([encodeFrame(OP.PING, "x", true, MASK, true)]), [["error", 1002, "WS_RSV_SET"]]);
});

test("deflate: offers accepted or declined", () => {
  const yes = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  assert.equal(negotiateDeflate("permessage-deflate; client_max_window_bits"), yes);
  assert.equal(negotiateDeflate("permessage-deflate"), yes);
  assert.equal(negotiateDeflate("permessage-deflate; server_max_window_bits=10, permessage-deflate"), yes);
  assert.equal(negotiateDeflate("permessage-deflate; server_max_window_bits=10"), null);
  assert.equal(negotiateDeflate("permessage-deflate; unknown_param"), null);
  assert.equal(negotiateDeflate("permessage-deflate; client_no_context_takeover; client_no_context_takeover"), null);
  assert.equal(negotiateDeflate("x-webkit-deflate-frame"), null);
  assert.equal(negotiateDeflate(null), null);
});

test("fuzz: any bytes, split anywhere, make the parser report or refuse, never throw anything else", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), fc.boolean(), fc.boolean(), (chunks, deflate, requireMask) => {
      const parser = new FrameParser({ maxMessage: 256, requireMask, deflate }, { frameText() {}, frameBinary() {}, framePing() {}, framePong() {}, frameClose() {} });
      for (const c of chunks) {
        try {
          parser.push(Buffer.from(c));
        } catch (err) {
          assert.ok(err instanceof WsProtocolError, String(err));
          assert.ok([1002, 1007, 1009].includes(err.closeCode));
          return;
        }
      }
    }),
    { numRuns: 3000 },
  );
});
