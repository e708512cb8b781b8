import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, describe, test } from "node:test";
import { LAZY_REQUESTS } from "../../src/gateway/request.ts";
import { raw } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";

// The lazy Request (src/gateway/request.ts) must pass for a real one wherever an app can tell.
describe("the Request an app gets", () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  async function serve(handler: (req: Request) => Response | Promise<Response>): Promise<TestServer> {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  }

  test("this Node supports lazy requests (else every request is built eagerly, which is slower but correct)", () => {
    assert.equal(LAZY_REQUESTS, true);
  });

  test("is a Request by every test an app might use", async () => {
    let facts: unknown;
    const s = await serve((req) => {
      facts = {
        instance: req instanceof Request,
        tag: Object.prototype.toString.call(req),
        proto: Object.getPrototypeOf(Object.getPrototypeOf(req)) === Request.prototype,
        method: req.method,
        url: req.url,
        mode: req.mode,
        duplex: (req as Request & { duplex?: string }).duplex,
      };
      return new Response("ok");
    });
    const res = await fetch(`${s.url}/a?b=1`);
    assert.equal(await res.text(), "ok");
    assert.deepEqual(facts, {
      instance: true,
      tag: "[object Request]",
      proto: true,
      method: "GET",
      url: `${s.url}/a?b=1`,
      mode: new Request("http://x/").mode,
      duplex: "half",
    });
  });

  test("new Request(request, init), clone() and fetch-style copies keep url, method, headers and body", async () => {
    const s = await serve(async (req) => {
      const copy = new Request(req, { headers: { "x-copy": "yes" } });
      const twin = copy.clone();
      return Response.json({ url: copy.url, method: copy.method, copyHeader: copy.headers.get("x-copy"), body: await copy.text(), twin: await twin.text() });
    });
    const res = await fetch(`${s.url}/p`, { method: "POST", body: "payload", headers: { "x-orig": "1" } });
    assert.deepEqual(await res.json(), { url: `${s.url}/p`, method: "POST", copyHeader: "yes", body: "payload", twin: "payload" });
  });

  test("text(), json(), arrayBuffer() and bytes() read the body; a second read is refused as in fetch", async () => {
    const s = await serve(async (req) => {
      const url = new URL(req.url);
      const kind = url.searchParams.get("as");
      const before = req.bodyUsed;
      let value: unknown;
      if (kind === "json") value = await req.json();
      else if (kind === "ab") value = Buffer.from(await req.arrayBuffer()).toString();
      else if (kind === "bytes") value = Buffer.from(await (req as Request & { bytes(): Promise<Uint8Array> }).bytes()).toString();
      else value = await req.text();
      let second = "none";
      try {
        await req.text();
        second = "allowed";
      } catch (err) {
        second = (err as Error).name;
      }
      return Response.json({ before, after: req.bodyUsed, value, second });
    });
    for (const [as, expected] of [["text", "héllo"], ["json", { a: [1, 2] }], ["ab", "héllo"], ["bytes", "héllo"]] as const) {
      const body = as === "json" ? JSON.stringify(expected) : "héllo";
      const res = await fetch(`${s.url}/?as=${as}`, { method: "POST", body });
      assert.deepEqual(await res.json(), { before: false, after: true, value: expected, second: "TypeError" }, as);
    }
  });

  test("arrayBuffer() is the body's own memory however it arrived; scribbling on it changes nothing else", async () => {
    // The app overwrites every ArrayBuffer it gets; the bytes that follow on the connection (the next pipelined
    // request) must be untouched, and each answer must report exactly its own body.
    const s = await serve(async (req) => {
      const ab = await req.arrayBuffer();
      const text = Buffer.from(ab).toString("latin1");
      new Uint8Array(ab).fill(0x21);
      return new Response(`${ab.byteLength}:${text}`);
    });
    const post = (body: string, close = false) =>
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n${close ? "Connection: close\r\n" : ""}\r\n${body}`;
    // Head and body in one write, followed at once by another request: a view into a shared read.
    const pipelined = await raw(s.port, post("first-body") + post("second", true));
    assert.deepEqual(parseResponses(pipelined.text).map((r) => r.body), ["10:first-body", "6:second"]);
    // The body in a write of its own, and in many small writes, and empty.
    const alone = await raw(s.port, [`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`, "abcde"], { gapMs: 30 });
    assert.equal(parseResponses(alone.text)[0]!.body, "5:abcde");
    const pieces = ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: close\r\n\r\n", "hel", "lo ", "wor", "ld!"];
    const many = await raw(s.port, pieces, { gapMs: 20 });
    assert.equal(parseResponses(many.text)[0]!.body, "12:hello world!");
    const empty = await raw(s.port, post("", true));
    assert.equal(parseResponses(empty.text)[0]!.body, "0:");
  });

  test("a body read whole from many small reads with long ones between them (issue 18): every byte, in order", async () => {
    const s = await serve(async (req) => {
      const b = new URL(req.url).pathname === "/text" ? Buffer.from(await req.text()) : Buffer.from(await req.arrayBuffer());
      return new Response(`${b.length}:${createHash("sha256").update(b).digest("hex")}`);
    });
    const parts = Array.from({ length: 40 }, (_, i) => (i % 10 === 5 ? "L".repeat(5000 + i) : String.fromCharCode(97 + (i % 26)).repeat(1 + (i % 3))));
    const body = parts.join("");
    const want = `${body.length}:${createHash("sha256").update(body).digest("hex")}`;
    for (const path of ["/arrayBuffer", "/text"]) {
      const sized = await raw(s.port, [`POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, ...parts], { gapMs: 3 });
      assert.equal(parseResponses(sized.text)[0]?.body, want, `${path}, Content-Length`);
      const chunks = parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`);
      const chunked = await raw(s.port, [`POST ${path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`, ...chunks, "0\r\n\r\n"], { gapMs: 3 });
      assert.equal(parseResponses(chunked.text)[0]?.body, want, `${path}, chunked, a chunk a read`);
      const together = await raw(s.port, `POST ${path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks.join("")}0\r\n\r\n`);
      assert.equal(parseResponses(together.text)[0]?.body, want, `${path}, chunked, in one write`);
    }
  });

  test("body as a stream, then formData() and blob() through the real Request", async () => {
    const s = await serve(async (req) => {
      const kind = new URL(req.url).searchParams.get("as");
      if (kind === "stream") {
        let n = 0;
        for await (const chunk of req.body!) n += chunk.length;
        return Response.json({ n, used: req.bodyUsed });
      }
      if (kind === "form") {
        const form = await req.formData();
        return Response.json({ a: form.get("a"), b: form.get("b") });
      }
      const blob = await req.blob();
      return Response.json({ size: blob.size, type: blob.type });
    });
    let res = await fetch(`${s.url}/?as=stream`, { method: "PUT", body: "x".repeat(100_000) });
    assert.deepEqual(await res.json(), { n: 100_000, used: true });
    res = await fetch(`${s.url}/?as=form`, { method: "POST", body: new URLSearchParams({ a: "1", b: "two" }) });
    assert.deepEqual(await res.json(), { a: "1", b: "two" });
    res = await fetch(`${s.url}/?as=blob`, { method: "POST", body: "abc", headers: { "content-type": "text/x-test" } });
    assert.deepEqual(await res.json(), { size: 3, type: "text/x-test" });
  });

  test("GET and HEAD have a null body even when the client sent one; lowercase standard methods are normalized", async () => {
    const seen: unknown[] = [];
    const s = await serve((req) => {
      seen.push([req.method, req.body === null]);
      return new Response("k");
    });
    const r = await raw(s.port, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcpost / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz");
    assert.deepEqual(parseResponses(r.text).map((x) => x.status), [200, 200]);
    assert.deepEqual(seen, [["GET", true], ["POST", false]]);
  });

  test("a handler that never looks at the request costs no Headers, AbortController or undici Request", async () => {
    const counts = { headers: 0, request: 0, abort: 0 };
    const OrigHeaders = globalThis.Headers;
    const OrigRequest = globalThis.Request;
    const OrigAbort = globalThis.AbortController;
    globalThis.Headers = class extends OrigHeaders {
      constructor(init?: ConstructorParameters<typeof Headers>[0]) {
        super(init);
        counts.headers++;
      }
    };
    globalThis.Request = class extends OrigRequest {
      constructor(input: ConstructorParameters<typeof Request>[0], init?: RequestInit) {
        super(input, init);
        counts.request++;
      }
    };
    globalThis.AbortController = class extends OrigAbort {
      constructor() {
        super();
        counts.abort++;
      }
    };
    try {
      const s = await serve(() => new Response("cheap"));
      const r = await raw(s.port, "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      assert.deepEqual(parseResponses(r.text).map((x) => x.body), ["cheap", "cheap"]);
      assert.deepEqual(counts, { headers: 0, request: 0, abort: 0 });
      // ...and one that does gets them, built once.
      const s2 = await serve((req) => new Response(`${req.headers.get("x")}${req.signal.aborted}`));
      const r2 = await raw(s2.port, "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nConnection: close\r\n\r\n");
      assert.equal(parseResponses(r2.text)[0]!.body, "1false");
      assert.deepEqual(counts, { headers: 1, request: 0, abort: 1 });
    } finally {
      globalThis.Headers = OrigHeaders;
      globalThis.Request = OrigRequest;
      globalThis.AbortController = OrigAbort;
    }
  });
});
