import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LiteHeaders } from "../../src/gateway/lite-headers.ts";
import { LiteResponse } from "../../src/gateway/response.ts";

// LiteHeaders (src/gateway/lite-headers.ts) backs a LiteResponse's headers. Every sequence of operations must
// give what undici's Headers gives: the same answers, the same iteration, the same errors (by type).
const NativeHeaders = globalThis.Headers;
const Lite = LiteHeaders as unknown as typeof Headers;

type Op =
  | { op: "append" | "set"; name: string; value: string }
  | { op: "delete" | "get" | "has"; name: string }
  | { op: "getSetCookie" | "entries" | "keys" | "values" | "forEach" | "copy" };

const names = fc.oneof(
  fc.constantFrom("content-type", "Content-Type", "set-cookie", "Set-Cookie", "x-a", "X-A", "vary", "etag", "a b", "", "x\u0100", "é"),
  fc.stringMatching(/^[a-zA-Z-]{1,6}$/),
);
const values = fc.oneof(
  fc.constantFrom("1", " padded ", "\tt\t", "a, b", "", "x\r\ny", "nul\0", "ctl\x01", "é", "\u0100", "a=1; Path=/", "\n"),
  fc.string({ maxLength: 6 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom("append" as const, "set" as const), name: names, value: values }),
  fc.record({ op: fc.constantFrom("delete" as const, "get" as const, "has" as const), name: names }),
  fc.record({ op: fc.constantFrom("getSetCookie" as const, "entries" as const, "keys" as const, "values" as const, "forEach" as const, "copy" as const) }),
);

function apply(h: Headers, o: Op): unknown {
  try {
    switch (o.op) {
      case "append":
      case "set":
        h[o.op](o.name, o.value);
        return "ok";
      case "delete":
        h.delete(o.name);
        return "ok";
      case "get":
        return h.get(o.name);
      case "has":
        return h.has(o.name);
      case "getSetCookie":
        return h.getSetCookie();
      case "entries":
        return [...h.entries()];
      case "keys":
        return [...h.keys()];
      case "values":
        return [...h.values()];
      case "forEach": {
        const seen: string[][] = [];
        h.forEach((value, name, parent) => seen.push([name, value, String(parent === h)]));
        return seen;
      }
      case "copy":
        return [...new (h.constructor === NativeHeaders && LiteHeaders.isOne(h) ? Lite : NativeHeaders)(h)];
    }
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

describe("LiteHeaders behaves as undici's Headers", () => {
  test("any sequence of operations: same answers, same iteration, same errors", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const native = new NativeHeaders();
        const lite = new Lite();
        for (const o of ops) assert.deepEqual(apply(lite, o), apply(native, o), JSON.stringify(o));
        assert.deepEqual([...lite], [...native]);
      }),
      { numRuns: 1000 },
    );
  });

  test("a copy normalises combined values again, as undici's does", () => {
    // Found by the property test: two empty etags combine to ", ", which a copy appends (and trims) as ",".
    for (const H of [Lite, NativeHeaders]) {
      const h = new H();
      h.append("etag", "");
      h.append("etag", "");
      h.append("x-a", "a");
      h.append("x-a", "");
      assert.deepEqual([...new Lite(h)], [...new NativeHeaders(h)], H === Lite ? "from a LiteHeaders" : "from undici's");
    }
  });

  test("every kind of init, and the wrong kinds with the same error type", () => {
    const inits: unknown[] = [
      undefined,
      { "X-A": " 1 ", "set-cookie": "a=1", b: "2" },
      [["x-a", "1"], ["X-A", "2"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]],
      new NativeHeaders({ a: "1", "set-cookie": "c=1" }),
      new Map([["m", "1"]]),
      [["only-one"]],
      { "bad name": "1" },
      { a: "x\ny" },
      null,
      42,
      "str",
    ];
    for (const init of inits) {
      const run = (H: typeof Headers): unknown => {
        try {
          const h = new H(init as ConstructorParameters<typeof Headers>[0]);
          return [[...h], h.getSetCookie()];
        } catch (err) {
          return `throws ${(err as Error).name}`;
        }
      };
      assert.deepEqual(run(Lite), run(NativeHeaders), String(init));
    }
    const copy = new Lite(new Lite({ a: "1", "set-cookie": "x=1" }));
    assert.deepEqual([...copy], [["a", "1"], ["set-cookie", "x=1"]]);
  });

  test("passes for a Headers and is read by undici as one", async () => {
    const h = new Lite({ "x-a": "1", "set-cookie": "a=1" });
    h.append("set-cookie", "b=2");
    assert.ok(h instanceof NativeHeaders);
    assert.equal(h.constructor, NativeHeaders);
    assert.equal(Object.prototype.toString.call(h), "[object Headers]");
    for (const made of [new globalThis.Response("x", { headers: h }), new Request("http://x.invalid/", { headers: h })]) {
      assert.equal(made.headers.get("x-a"), "1");
      assert.deepEqual(made.headers.getSetCookie(), ["a=1", "b=2"]);
    }
    assert.deepEqual(LiteHeaders.flat(h as unknown as LiteHeaders), ["x-a", "1", "set-cookie", "a=1", "set-cookie", "b=2"]);
  });

  test("a LiteResponse's headers are LiteHeaders, and stay its own after the init changes", () => {
    const init = new NativeHeaders({ "x-a": "1" });
    const r = new (LiteResponse as unknown as typeof Response)("body", { headers: init });
    init.set("x-late", "1");
    assert.ok(LiteHeaders.isOne(r.headers));
    assert.deepEqual([...r.headers], [["content-type", "text/plain;charset=UTF-8"], ["x-a", "1"]]);
  });
});
