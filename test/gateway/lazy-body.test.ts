import assert from "node:assert/strict";
import * as nodeStream from "node:stream";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { LazyBodyStream } from "../../src/gateway/lazy-body.ts";
import { LiteResponse } from "../../src/gateway/response.ts";

// stream.isDisturbed (Node ≥ 16.8) is missing from @types/node 20.
const isDisturbed = (nodeStream as unknown as { isDisturbed: (s: unknown) => boolean }).isDisturbed;

// A LiteResponse's `body` is a LazyBodyStream (src/gateway/lazy-body.ts): a stand-in that builds the real stream
// only when somebody reads it, so `new Response(res.body, res)` (what header-setting middleware does) makes no
// stream at all. Every scenario below runs on the native Response and on LiteResponse: they must agree.
const Lite = LiteResponse as unknown as typeof Response;
const NativeResponse = globalThis.Response;
const KINDS: Array<[string, typeof Response]> = [
  ["native", NativeResponse],
  ["lite", Lite],
];

/** Runs `scenario` with each Response class; the results must be equal, and are returned for more checks. */
async function same<T>(scenario: (R: typeof Response) => Promise<T> | T): Promise<T> {
  const results: unknown[] = [];
  for (const [, R] of KINDS) {
    try {
      results.push(await scenario(R));
    } catch (err) {
      results.push({ threw: (err as Error).name });
    }
  }
  assert.deepEqual(results[1], results[0]);
  return results[1] as T;
}

const text = async (s: ReadableStream<Uint8Array>): Promise<string> => new NativeResponse(s).text();
const headersOf = (r: Response): Array<[string, string]> => [...r.headers];

describe("a LiteResponse's body stream", () => {
  test("is lazy, and passes for a ReadableStream", () => {
    const r = new Lite("hello");
    const body = r.body!;
    assert.ok(LazyBodyStream.isOne(body), "a simple body is handed out as a lazy stream");
    assert.equal(r.body, body, "the same object every time");
    assert.ok(body instanceof ReadableStream);
    assert.equal(body.constructor, ReadableStream);
    assert.equal(Object.prototype.toString.call(body), "[object ReadableStream]");
    assert.equal(body.locked, false);
    assert.equal(r.bodyUsed, false);
    assert.equal(new Lite(null).body, null);
    assert.equal(new Lite(null, { status: 204 }).body, null);
  });

  test("reads like the real one: getReader, for await, text after, bodyUsed, isDisturbed", async () => {
    await same(async (R) => {
      const r = new R("héllo", { headers: { "x-a": "1" } });
      const reader = r.body!.getReader();
      const chunks: number[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(...value);
      }
      reader.releaseLock();
      let second = "";
      try {
        await r.text();
      } catch (err) {
        second = (err as Error).name;
      }
      return { bytes: Buffer.from(chunks).toString(), used: r.bodyUsed, disturbed: isDisturbed(r.body!), second, locked: r.body!.locked };
    });
    await same(async (R) => {
      const r = new R(new Uint8Array([1, 2, 3]));
      const got: number[] = [];
      for await (const c of r.body!) got.push(...c);
      return { got, used: r.bodyUsed };
    });
  });

  test("goes through Node's helpers and native classes: Readable.fromWeb, pipeThrough, tee, a native Response or Request", async () => {
    await same(async (R) => {
      const r = new R("abc");
      const parts: string[] = [];
      for await (const c of Readable.fromWeb(r.body as never)) parts.push(Buffer.from(c as Uint8Array).toString());
      return parts.join("");
    });
    await same(async (R) => text(new R("abc").body!.pipeThrough(new TransformStream())));
    await same(async (R) => {
      const [a, b] = new R("tee").body!.tee();
      return [await text(a), await text(b)];
    });
    await same(async (R) => {
      const r = new R("to native");
      const n = new NativeResponse(r.body, { status: 201 });
      return { body: await n.text(), type: n.headers.get("content-type"), used: r.bodyUsed };
    });
    await same(async (R) => {
      const req = new Request("http://x.invalid/", { method: "POST", body: new R("posted").body, duplex: "half" } as RequestInit);
      return req.text();
    });
    await same(async (R) => {
      const r = new R("clone me");
      const body = r.body!;
      const c = r.clone();
      return [await c.text(), await text(body), r.bodyUsed];
    });
    await same(async (R) => {
      // The body stays the same object while it is the body: after reading it, not after clone() (a tee).
      const r = new R("same");
      const body = r.body!;
      const ok = await r.text();
      const sameAfterText = r.body === body;
      const r2 = new R("cloned");
      const b2 = r2.body!;
      r2.clone();
      return [ok, sameAfterText, r2.body === b2, await r2.text()];
    });
  });

  test("new Response(res.body, res) keeps status, headers and bytes, and a stream body gets no type of its own", async () => {
    await same(async (R) => {
      const r = new R(JSON.stringify({ a: 1 }), { status: 201, statusText: "Made", headers: { "content-type": "application/json", "x-a": "1" } });
      const r2 = new R(r.body, r);
      r2.headers.set("x-b", "2");
      return { status: r2.status, statusText: r2.statusText, headers: headersOf(r2), body: await r2.text(), old: headersOf(r) };
    });
    await same(async (R) => {
      const r = new R("plain");
      r.headers.delete("content-type");
      const r2 = new R(r.body, r);
      return { headers: headersOf(r2), body: await r2.text() };
    });
    await same(async (R) => {
      const r2 = new R(new R("no init").body);
      return { headers: headersOf(r2), body: await r2.text(), status: r2.status };
    });
    await same(async (R) => {
      // The copy's headers are the init's at construction: a later change to the old response's is not seen.
      const r = new R("x", { headers: { "x-a": "1" } });
      const r2 = new R(r.body, r);
      r.headers.set("x-late", "1");
      return headersOf(r2);
    });
    await same(async (R) => {
      // Rebuilt twice, as Hono does for a header set after next() on a response already rebuilt once.
      let r = new R("twice", { headers: { "x-a": "1" } });
      r = new R(r.body, r);
      r.headers.set("x-b", "2");
      r = new R(r.body, r);
      r.headers.set("x-c", "3");
      return { headers: headersOf(r), body: await r.text() };
    });
  });

  test("a body already read, or locked, is refused as the real one is", async () => {
    await same(async (R) => {
      const r = new R("x");
      await r.text();
      return new R(r.body).status;
    });
    await same(async (R) => {
      const r = new R("x");
      const body = r.body!;
      await r.text();
      return new R(body).status;
    });
    await same(async (R) => {
      const r = new R("x");
      r.body!.getReader();
      return new R(r.body).status;
    });
    await same((R) => {
      const r = new R("x");
      return new R(r.body, { status: 204 }).status;
    });
  });
});
