import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LiteResponse, installLiteResponse } from "../../src/gateway/response.ts";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";

// Workers install LiteResponse as the global Response (src/gateway/response.ts). It must pass for the real one
// wherever an app or a library can tell, and oryx must send what it holds exactly as it would a real one.
const Lite = LiteResponse as unknown as typeof Response;
// The platform's own, taken before any test installs LiteResponse in its place.
const NativeResponse = globalThis.Response;

/** The name of the error `make` throws, or "ok". */
function thrown(make: () => unknown): string {
  try {
    make();
    return "ok";
  } catch (err) {
    return (err as Error).name;
  }
}

describe("LiteResponse passes for a Response", () => {
  test("instanceof, toStringTag, statics and the constructor's errors", async () => {
    const r = new Lite("hi", { status: 201, statusText: "Made", headers: { "x-a": "1" } });
    assert.ok(r instanceof Response);
    assert.equal(Object.prototype.toString.call(r), "[object Response]");
    assert.equal(r.status, 201);
    assert.equal(r.ok, true);
    assert.equal(r.statusText, "Made");
    assert.equal(r.headers.get("x-a"), "1");
    assert.equal(r.headers.get("content-type"), "text/plain;charset=UTF-8");
    assert.equal(await r.text(), "hi");
    assert.equal(r.bodyUsed, true);
    assert.throws(() => new Lite("x", { status: 99 }), RangeError);
    assert.throws(() => new Lite("x", { status: 600 }), RangeError);
    // Each null body status with a body is refused exactly as the native constructor refuses it, and no other.
    for (let status = 200; status <= 599; status++) {
      assert.equal(thrown(() => new Lite("x", { status })), thrown(() => new NativeResponse("x", { status })), `status ${status}`);
    }
    assert.throws(() => new Lite("x", { statusText: "a\nb" }), TypeError);
    assert.doesNotThrow(() => new Lite(null, { status: 204 }));
    const j = Lite.json({ a: 1 }, { status: 202 });
    assert.ok(j instanceof Response);
    assert.equal(j.status, 202);
    assert.equal(j.headers.get("content-type"), "application/json");
    assert.deepEqual(await j.json(), { a: 1 });
    assert.equal(Lite.redirect("http://x.test/", 307).headers.get("location"), "http://x.test/");
    assert.equal(Lite.error().type, "error");
  });

  test("byte bodies are the app's bytes, not a copy (the README's documented difference from undici)", async () => {
    const bytes = new Uint8Array([104, 105]);
    const ab = new Uint8Array([111, 107]).buffer;
    const r1 = new Lite(bytes);
    const r2 = new Lite(ab);
    const r3 = new Lite(new DataView(new Uint8Array([120, 121, 122]).buffer, 1, 2));
    assert.equal(await r3.text(), "yz", "a DataView's window of its buffer");
    // Kept by reference: a change before the body is read shows (undici's copy would hide it).
    bytes[0] = 0x48;
    new Uint8Array(ab)[0] = 0x4f;
    assert.equal(await r1.text(), "Hi");
    assert.equal(await r2.text(), "Ok");
  });

  test("clone(), body streams, bytes, and other bodies built as the real thing", async () => {
    const r = new Lite(new Uint8Array([104, 105]));
    const c = r.clone();
    assert.equal(await c.text(), "hi");
    const chunks: Uint8Array[] = [];
    for await (const chunk of r.body!) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), "hi");
    assert.equal(r.headers.get("content-type"), null);
    const form = new FormData();
    form.set("k", "v");
    const f = new Lite(form);
    assert.match(f.headers.get("content-type") ?? "", /^multipart\/form-data; boundary=/);
    assert.equal((await f.formData()).get("k"), "v");
    const s = new Lite(new ReadableStream({ start(ctl) { ctl.enqueue(new TextEncoder().encode("st")); ctl.close(); } }));
    assert.equal(await s.text(), "st");
    // new Response(lite.body) and undici code reading its internals work.
    assert.equal(await new Response(new Lite("again").body).text(), "again");
  });
});

// Header inits a LiteResponse reads without a Headers object (plain objects of clean lowercase fields) and ones
// it must not (capitals, padding, numbers, a null prototype, arrays): every one must be sent as undici would.
const nullProto = Object.assign(Object.create(null) as Record<string, string>, { "x-null": "1" });
const HEADER_CASES: unknown[] = [
  undefined, {}, { "x-a": "1" }, { "X-A": "1" }, { "x-a": " padded\t" }, { "content-type": "text/html" }, { "x-a": "1", "x-b": "2" },
  nullProto, { "x-n": 5 }, { "x-a": "a, b", "set-cookie": "c=d; Path=/" }, { "x-tab": "a\tb" }, { "Content-Type": "text/x", "content-type": "text/y" },
  [["x-a", "1"], ["x-a", "2"]], { "x-latin": "caf\xe9" }, { "x-split": "a\r\nx-injected: 1" }, { "x-wide": "\u2028" },
];

describe("instanceof Response holds for every Response while LiteResponse is the global", () => {
  test("Node's own Responses, LiteResponses and subclasses, as without the stand-in", async () => {
    const Native = globalThis.Response;
    assert.equal(installLiteResponse(), true);
    try {
      const made = [
        ["Response.redirect", Native.redirect("http://a.test/", 302)],
        ["Response.error", Native.error()],
        ["a native clone", new Native("x").clone()],
        ["a fetch() answer", await fetch("data:text/plain,hi")],
        ["a lite one", new Response("x")],
        ["Response.redirect through the global", Response.redirect("http://a.test/", 301)],
        ["a lite clone", new Response("x").clone()],
      ] as const;
      for (const [what, r] of made) {
        assert.ok(r instanceof Response, `${what} instanceof Response`);
        assert.ok(r instanceof Native, `${what} instanceof the native Response`);
      }
      class Mine extends Response {}
      const mine = new Mine("m");
      assert.ok(mine instanceof Mine && mine instanceof Response && mine instanceof Native);
      assert.equal(new Response("x") instanceof Mine, false, "a subclass keeps the ordinary answer");
      assert.equal(Native.redirect("http://a.test/", 302) instanceof Mine, false);
      for (const notOne of [{}, { status: 200, headers: new Headers(), body: null }, null, "x", new Request("http://a.test/")]) {
        assert.equal(notOne instanceof Response, false, `${String(notOne)} is no Response`);
      }
      assert.equal(await mine.text(), "m");
    } finally {
      globalThis.Response = Native;
    }
  });
});

describe("oryx sends a LiteResponse as it would the real one", () => {
  let s: TestServer;
  let NativeResponse: typeof Response;
  before(async () => {
    NativeResponse = globalThis.Response;
    assert.equal(installLiteResponse(), true);
    assert.equal(globalThis.Response, Lite);
    s = await startServer((req) => {
      const path = new URL(req.url).pathname;
      if (path === "/mutated") {
        const r = new Response("body", { status: 203, headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] });
        r.headers.set("x-later", "yes"); // middleware-style change after construction
        return r;
      }
      if (path === "/json") return Response.json({ ok: true });
      if (path === "/ab") return new Response(new Uint8Array([1, 2, 3]).buffer, { headers: { "content-type": "application/octet-stream" } });
      if (path === "/empty") return new Response(null, { status: 204 });
      if (path.startsWith("/fields/")) return new Response("x", { headers: HEADER_CASES[Number(path.slice(8))] as ResponseInit["headers"] });
      if (path.startsWith("/json-fields/")) return Response.json(1, { headers: HEADER_CASES[Number(path.slice(13))] as ResponseInit["headers"] });
      if (path === "/read-first") {
        const r = new Response("peeked");
        void r.clone(); // builds the real Response: oryx must then send it the general way
        return r;
      }
      return new Response("héllo");
    });
  });
  after(async () => {
    globalThis.Response = NativeResponse;
    await s.close();
  });

  test("status, reason, headers changed after construction, separate Set-Cookie fields, UTF-8 length", async () => {
    const r = await raw(s.port, "GET /mutated HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /json HTTP/1.1\r\nHost: a\r\n\r\nGET /empty HTTP/1.1\r\nHost: a\r\n\r\nGET /read-first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const [m, plain, json, empty, readFirst] = parseResponses(r.text);
    assert.equal(m!.status, 203);
    assert.equal(m!.reason, "Non-Authoritative Information");
    assert.deepEqual(m!.headers["set-cookie"], ["a=1", "b=2"]);
    assert.deepEqual(m!.headers["x-later"], ["yes"]);
    assert.equal(m!.body, "body");
    assert.deepEqual(plain!.headers["content-length"], ["6"]);
    assert.deepEqual(plain!.headers["content-type"], ["text/plain;charset=UTF-8"]);
    assert.equal(Buffer.from(plain!.body, "latin1").toString("utf8"), "héllo");
    assert.deepEqual(json!.headers["content-type"], ["application/json"]);
    assert.equal(json!.body, '{"ok":true}');
    assert.equal(empty!.status, 204);
    assert.equal(empty!.headers["content-length"], undefined);
    assert.equal(readFirst!.body, "peeked");
    const ab = parseResponses((await raw(s.port, "GET /ab HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).text)[0]!;
    assert.deepEqual(ab.headers["content-length"], ["3"]);
    assert.equal(ab.body, "\x01\x02\x03");
    assert.deepEqual(readFirst!.headers["content-length"], ["6"]);
  });

  test("header fields from every kind of init, as undici's Response holds them", async () => {
    for (const [i, init] of HEADER_CASES.entries()) {
      for (const route of ["fields", "json-fields"]) {
        const got = parseResponses((await raw(s.port, `GET /${route}/${i} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)).text)[0]!;
        let real: Response;
        try {
          real = route === "fields" ? new NativeResponse("x", { headers: init as ResponseInit["headers"] }) : NativeResponse.json(1, { headers: init as ResponseInit["headers"] });
        } catch {
          // undici refuses it: the app's error, a 500, and nothing of the field on the wire.
          assert.equal(got.status, 500, `${route} ${JSON.stringify(init)}`);
          assert.doesNotMatch(JSON.stringify(got.headers), /injected|x-wide/);
          continue;
        }
        const want: Record<string, string[]> = {};
        for (const [name, value] of real.headers) if (name !== "set-cookie") (want[name] ??= []).push(value);
        for (const c of real.headers.getSetCookie()) (want["set-cookie"] ??= []).push(c);
        const sent = { ...got.headers };
        for (const own of ["content-length", "date", "connection"]) delete sent[own];
        assert.deepEqual(sent, want, `${route} ${JSON.stringify(init)}`);
      }
    }
  });
});
