/**
 * Every kind of Response body and origin (test/compat/apps/responses.ts), served by oryx with two workers and by
 * srvx, compared case by case: the static constructors, clones, fetch() passed through, a subclass, Response
 * classes of other libraries (srvx's FastResponse, @whatwg-node's PonyfillResponse), each body type, null bodies,
 * Set-Cookie lists, status text, HEAD, answers returned synchronously as well as through a promise, and handlers
 * that fail.
 *
 * Where srvx itself gets it wrong, the case is asserted on oryx alone (`oryxOnly`, with the reason): srvx never
 * answers a Response whose body was already read or is locked (Bun answers 500), and it sends an app's own
 * `Transfer-Encoding: chunked` field over an unchunked body.
 *
 * Failing handlers: the README says a handler that throws, rejects or returns something other than a Response
 * gets a 500 and the server goes on. srvx answers 500 (empty body) for each of these, Response.error() included
 * (its status 0 cannot be sent); Bun 1.4 answers Response.error() with 500 too (and a returned plain object with
 * a 200 placeholder page in development). So the status is compared with srvx and the body, which is each
 * server's own, is not.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, send, stillServes, stopAll, type Case, type Reply } from "./harness.ts";

after(() => stopAll());

/** A multipart body with its boundary (from the reply's content-type) written as BOUNDARY. */
function multipart(body: string, r: Reply): string {
  const m = /boundary=(.+)$/.exec(r.headers.get("content-type") ?? "");
  return m ? body.split(m[1]!).join("BOUNDARY") : body;
}

/** The framing of a raw reply is sound: one Content-Length or chunked, never both, never two lengths. */
function soundFraming(r: Reply, who: string): void {
  const f = r.fields ?? {};
  const lengths = f["content-length"] ?? [];
  const te = f["transfer-encoding"] ?? [];
  assert.ok(lengths.length <= 1, `${who}: at most one Content-Length field: ${JSON.stringify(lengths)}`);
  assert.ok(!(lengths.length > 0 && te.length > 0), `${who}: not both Content-Length and Transfer-Encoding: ${JSON.stringify(f)}`);
  assert.ok(te.length <= 1, `${who}: one Transfer-Encoding field at most: ${JSON.stringify(te)}`);
}

const failing = (path: string, what: string): Case => ({
  name: `${what}: 500, and the server goes on serving`,
  path,
  bodyAs: "ignore",
  ignoreHeaders: ["content-type"],
  expect: async (r, port, who) => {
    assert.equal(r.status, 500, `${who}: ${what} gets a 500`);
    await stillServes(port, who);
  },
});

const bodyKinds: Array<[string, string]> = [
  ["string", "a string"],
  ["utf8", "a non-ASCII string with its own content-type"],
  ["uint8array", "a Uint8Array"],
  ["subarray", "a Uint8Array view into a larger buffer"],
  ["arraybuffer", "an ArrayBuffer"],
  ["dataview", "a DataView into a larger buffer"],
  ["blob", "a Blob with a type"],
  ["blob-untyped", "a Blob without a type"],
  ["urlsearchparams", "URLSearchParams"],
  ["stream", "a ReadableStream of several chunks"],
  ["stream-empty", "a ReadableStream that closes at once"],
  ["stream-bytes", "a byte ReadableStream (type: \"bytes\")"],
  ["null-200", "null with 200"],
  ["empty-string", "an empty string"],
];

const cases: Case[] = [
  { name: "GET / (plain text)", path: "/" },
  {
    name: "Response.redirect(new URL(...), 301)",
    path: "/redirect-301",
    expect: (r, _port, who) => {
      assert.equal(r.status, 301, who);
      assert.equal(r.headers.get("location"), "http://ORIGIN/x", who);
    },
  },
  {
    name: "Response.redirect() defaults to 302",
    path: "/redirect",
    expect: (r, _port, who) => {
      assert.equal(r.status, 302, who);
      assert.equal(r.headers.get("location"), "http://ORIGIN/x?from=redirect", who);
    },
  },
  { name: "Response.redirect() to another origin, 307", path: "/redirect-absolute", expect: (r) => assert.equal(r.headers.get("location"), "https://example.com/elsewhere") },
  {
    name: "Response.json(data, { status: 201, headers })",
    path: "/json",
    expect: (r, _port, who) => {
      assert.equal(r.status, 201, who);
      assert.equal(r.headers.get("content-type"), "application/json", who);
      assert.equal(r.headers.get("x-kind"), "json", who);
      assert.deepEqual(json(r), { ok: true, list: [1, "two", null], nested: { a: "é" } });
    },
  },
  { name: "Response.json() with a Headers object", path: "/json-headers", compareHeaders: ["cache-control"] },
  { name: "Response.json() keeps the app's own content-type", path: "/json-own-type" },
  { name: "new Response(...).clone()", path: "/clone", expect: (r) => assert.equal(r.body.toString(), "the clone's body") },
  { name: "the clone of a Response whose original was read", path: "/clone-of-read", expect: (r) => assert.equal(r.body.toString(), "read twice") },
  { name: "the original of a Response whose clone was read", path: "/original-after-clone-read", expect: (r) => assert.equal(r.body.toString(), "the original") },
  { name: "the clone of a streamed Response", path: "/clone-stream", expect: (r) => assert.equal(r.body.toString(), "s1 s2 s3") },
  {
    name: "the upstream route: 203 with a status text and two Set-Cookie",
    path: "/upstream",
    statusText: true,
    expect: (r) => assert.deepEqual(r.setCookie, ["up1=a; Path=/", "up2=b; Path=/; Secure"]),
  },
  {
    name: "fetch() passthrough of another route (status text, two Set-Cookie, x-upstream)",
    path: "/proxy",
    statusText: true,
    expect: (r, _port, who) => {
      assert.equal(r.status, 203, who);
      assert.equal(r.body.toString(), "from upstream", who);
      assert.deepEqual(r.setCookie, ["up1=a; Path=/", "up2=b; Path=/; Secure"], who);
    },
  },
  {
    name: "fetch() passthrough on the wire: sound framing although the upstream's own framing fields are in its headers",
    path: "/proxy",
    raw: true,
    statusText: true,
    expect: (r, _port, who) => {
      soundFraming(r, who);
      assert.equal(r.body.toString(), "from upstream", who);
    },
  },
  { name: "fetch() passthrough of a streamed route", path: "/proxy-stream", expect: (r) => assert.equal(r.body.toString(), "chunk 1\nchunk 2\nchunk 3\n") },
  {
    name: "fetch() passthrough of a streamed route on the wire",
    path: "/proxy-stream",
    raw: true,
    expect: (r, _port, who) => {
      soundFraming(r, who);
      assert.equal(r.body.toString(), "chunk 1\nchunk 2\nchunk 3\n", who);
    },
  },
  { name: "fetch() passthrough of a JSON route", path: "/proxy-json" },
  { name: "fetch() passthrough of a redirect (redirect: manual)", path: "/proxy-redirect", expect: (r) => assert.equal(r.status, 302) },
  { name: "srvx's FastResponse with a string body", path: "/origin/srvx", expect: (r) => assert.equal(r.body.toString(), "from srvx's FastResponse") },
  { name: "srvx's FastResponse.json()", path: "/origin/srvx-json", expect: (r) => assert.equal(r.status, 201) },
  { name: "srvx's FastResponse with bytes", path: "/origin/srvx-bytes", expect: (r) => assert.deepEqual([...r.body], [1, 2, 3, 4]) },
  { name: "srvx's FastResponse with a stream", path: "/origin/srvx-stream", expect: (r) => assert.equal(r.body.toString(), "fast stream") },
  {
    name: "@whatwg-node's PonyfillResponse (not a subclass of Response): status text, two Set-Cookie",
    path: "/origin/ponyfill",
    statusText: true,
    expect: (r, _port, who) => {
      assert.equal(r.status, 202, who);
      assert.deepEqual(r.setCookie, ["p1=1", "p2=2"], who);
    },
  },
  { name: "@whatwg-node's PonyfillResponse.json()", path: "/origin/ponyfill-json", expect: (r) => assert.deepEqual(json(r), { from: "PonyfillResponse.json" }) },
  { name: "@whatwg-node's PonyfillResponse with its own ReadableStream", path: "/origin/ponyfill-stream", expect: (r) => assert.equal(r.body.toString(), "pony 1\npony 2\npony 3\n") },
  failing("/error-response", "Response.error()"),
  { name: "a subclass of Response", path: "/subclass", expect: (r) => assert.equal(r.body.toString(), "from a subclass") },
  ...bodyKinds.map(([kind, what]): Case => ({ name: `body: ${what}`, path: `/body/${kind}` })),
  {
    name: "body: FormData (multipart, boundary aside)",
    path: "/body/formdata",
    ignoreHeaders: ["content-type"],
    bodyAs: multipart,
    expect: (r, _port, who) => {
      const type = r.headers.get("content-type") ?? "";
      assert.match(type, /^multipart\/form-data; boundary=\S+$/, who);
      assert.ok(r.body.toString().includes(type.slice(type.indexOf("boundary=") + 9)), `${who}: the body uses the boundary its content-type names`);
      assert.match(r.body.toString(), /name="file"; filename="a.txt"\r\nContent-Type: text\/plain\r\n\r\nfile contents\n\r\n/, who);
    },
  },
  {
    name: "body: null with 204 (no body, no framing)",
    path: "/body/null-204",
    raw: true,
    expect: (r, _port, who) => {
      assert.equal(r.status, 204, who);
      assert.equal(r.body.length, 0, who);
      assert.equal(r.fields?.["transfer-encoding"], undefined, `${who}: no Transfer-Encoding on a 204`);
    },
  },
  {
    name: "body: null with 304 and an ETag",
    path: "/body/not-modified",
    raw: true,
    compareHeaders: ["etag"],
    expect: (r, _port, who) => {
      assert.equal(r.status, 304, who);
      assert.equal(r.body.length, 0, who);
      assert.equal(r.fields?.["transfer-encoding"], undefined, `${who}: no Transfer-Encoding on a 304`);
    },
  },
  {
    name: "three Set-Cookie fields from Headers.append, one with a comma in its date",
    path: "/cookies",
    expect: (r) => assert.equal(r.setCookie.length, 3),
  },
  { name: "two Set-Cookie fields from an array of pairs", path: "/cookies-array", expect: (r) => assert.deepEqual(r.setCookie, ["k1=v1", "k2=v2; Max-Age=60"]) },
  { name: "a custom status text with 418", path: "/status-text", statusText: true, expect: (r) => assert.equal(r.statusText, "I'm a teapot") },
  { name: "a custom status text with 200", path: "/status-text-200", statusText: true, expect: (r) => assert.equal(r.statusText, "Fine Thanks") },
  { name: "status 599", path: "/status-599" },
  { name: "header names in capitals, a value with spaces, a repeated header", path: "/headers-mixed", expect: (r) => assert.equal(r.headers.get("x-mixed-case"), "padded value") },
  {
    name: "a stream that fails after its first chunk: the response is cut, not completed",
    path: "/body/stream-error",
    raw: true,
    expect: (r, _port, who) => assert.ok(r.error !== undefined, `${who}: the client must not take the cut response as complete: ${r.status} ${r.body.toString()}`),
  },
  {
    name: "a Content-Length the app set itself on a string body",
    path: "/own-length",
    raw: true,
    compareHeaders: ["content-length", "transfer-encoding"],
    expect: (r, _port, who) => {
      soundFraming(r, who);
      assert.equal(r.body.toString(), "abc", who);
    },
  },
  {
    name: "a Content-Length the app set itself on a stream is kept (no chunking)",
    path: "/stream-own-length",
    raw: true,
    compareHeaders: ["content-length", "transfer-encoding"],
    expect: (r, _port, who) => {
      soundFraming(r, who);
      assert.equal(r.body.toString(), "1234567890", who);
    },
  },
  {
    name: "a Transfer-Encoding: chunked the app set itself on a string body: sound framing",
    path: "/own-transfer-encoding",
    raw: true,
    oryxOnly: "srvx passes the app's Transfer-Encoding: chunked field through and then writes the body unchunked, which no client can parse",
    expect: (r, _port, who) => {
      soundFraming(r, who);
      assert.equal(r.body.toString(), "the app said chunked", who);
    },
  },
  { name: "1 MiB of bytes", path: "/big-bytes" },
  { name: "1 MiB as a stream of 64 KiB chunks", path: "/big-stream" },
  { name: "a header value with a latin1 char (é as one byte)", path: "/header-latin1", raw: true, expect: (r) => assert.equal(r.headers.get("x-latin1"), "caf\u00e9") },
  { name: "a status text with latin1 chars", path: "/status-text-latin1", raw: true, statusText: true, expect: (r) => assert.equal(r.statusText, "D\u00e9j\u00e0 Vu") },
  {
    name: "a Response whose body was already read: 500, and the server goes on",
    path: "/body-used",
    raw: true,
    timeoutMs: 5000,
    oryxOnly: "srvx never answers it (the connection hangs); Bun 1.4 answers 500 (ERR_BODY_ALREADY_USED); the README: an app whose answer cannot be sent gets a 500",
    expect: async (r, port, who) => {
      assert.equal(r.status, 500, `${who}: ${r.error ?? ""}`);
      await stillServes(port, who);
    },
  },
  {
    name: "a Response whose body stream is locked (the app took a reader): 500, and the server goes on",
    path: "/body-locked",
    raw: true,
    timeoutMs: 5000,
    oryxOnly: "srvx never answers it (the connection hangs); the body cannot be read by anyone but the app's reader",
    expect: async (r, port, who) => {
      assert.equal(r.status, 500, `${who}: ${r.error ?? ""}`);
      await stillServes(port, who);
    },
  },
  { name: "headers changed after the Response was built", path: "/mutated-headers", expect: (r) => assert.equal(r.headers.get("x-after"), "2") },
  {
    name: "POST JSON read with await req.json()",
    method: "POST",
    path: "/echo",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: 1, s: "ü" }),
    expect: (r) => assert.deepEqual(json(r), { method: "POST", got: { n: 1, s: "ü" }, type: "application/json" }),
  },
  {
    name: "x instanceof Response, for every kind above",
    path: "/instanceof",
    expect: (r, _port, who) => {
      const got = json(r) as Record<string, boolean>;
      const not = Object.entries(got).filter(([, v]) => v !== true).map(([k]) => k);
      assert.deepEqual(not, [], `${who}: not instanceof Response: ${not.join(", ")}`);
      assert.ok(Object.keys(got).length >= 20, who);
    },
  },
  failing("/plain-object", "a plain object instead of a Response"),
  failing("/undefined", "undefined instead of a Response"),
  failing("/throw", "a handler that throws"),
  failing("/reject", "a handler that rejects"),
  // The same kinds returned from fetch() itself, not through a promise.
  ...["/redirect", "/json", "/clone", "/subclass", "/cookies", "/status-text", "/origin/srvx", "/origin/ponyfill", ...bodyKinds.map(([kind]) => `/body/${kind}`)].map(
    (path): Case => ({ name: `returned synchronously: ${path}`, path: `/sync${path}`, statusText: path === "/status-text" }),
  ),
  failing("/sync/error-response", "Response.error() returned synchronously"),
  failing("/sync/plain-object", "a plain object returned synchronously"),
  failing("/sync/throw", "a synchronous throw"),
  { name: "an unknown path: the app's 404", path: "/no/such/route", expect: (r) => assert.equal(r.status, 404) },
  // HEAD: on a raw socket, so bytes after the head would show (as a second response or a parse error).
  ...["/", "/json", "/body/uint8array", "/body/blob", "/body/stream", "/redirect", "/cookies", "/proxy", "/origin/srvx"].map(
    (path): Case => ({
      name: `HEAD ${path}: GET's status and headers, no body`,
      method: "HEAD",
      path,
      raw: true,
      expect: async (r, port, who) => {
        assert.equal(r.body.length, 0, `${who}: no body bytes after a HEAD response`);
        const length = r.fields?.["content-length"]?.[0];
        if (length !== undefined) {
          const get = await send(port, { path });
          assert.equal(Number(length), get.body.length, `${who}: HEAD's Content-Length is GET's body length`);
        }
      },
    }),
  ),
];

compatSuite("Response bodies and origins: oryx (2 workers) vs srvx", { app: "responses.ts", usual: "srvx" }, cases);
