/**
 * h3 v2 (test/compat/apps/h3.ts) under oryx with two workers, compared with srvx, which is what h3's own
 * `serve(app)` runs on Node.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stillServes, stopAll, type Case } from "./harness.ts";

after(() => stopAll());

const cases: Case[] = [
  {
    name: "a string from a handler, with both middlewares' headers",
    path: "/",
    expect: (r, _port, who) => {
      assert.equal(r.body.toString(), "Hello from h3!", who);
      assert.equal(r.headers.get("x-powered-by"), "h3-compat", who);
      assert.equal(r.headers.get("x-handled-path"), "/", who);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain/, `${who}: a string is sent as text/plain`);
    },
  },
  { name: "an object from a handler is JSON", path: "/json?a=1&b=two", expect: (r) => assert.deepEqual(json(r), { hello: "world", path: "/json", query: { a: "1", b: "two" } }) },
  { name: "a route parameter", path: "/users/42", expect: (r) => assert.deepEqual(json(r), { id: "42", agent: "present" }) },
  { name: "html`...`", path: "/html", expect: (r) => assert.equal(r.body.toString(), "<h1>h3</h1>") },
  {
    name: "redirect() (302)",
    path: "/redirect",
    expect: (r, _port, who) => {
      assert.equal(r.status, 302, who);
      assert.equal(r.headers.get("location"), "/json?from=redirect", who);
    },
  },
  { name: "redirect(url, 301)", path: "/redirect-301", expect: (r) => assert.equal(r.status, 301) },
  {
    name: "a thrown HTTPError 418 with a status text and data",
    path: "/teapot",
    statusText: true,
    expect: (r, _port, who) => {
      assert.equal(r.status, 418, who);
      assert.deepEqual(json(r), { status: 418, statusText: "I'm a teapot", message: "short and stout", data: { kind: "teapot" } });
    },
  },
  { name: "HTTPError.status(403)", path: "/forbidden", statusText: true, expect: (r) => assert.equal(r.status, 403) },
  {
    name: "a thrown Error: h3's own 500, and the server goes on",
    path: "/crash",
    expect: async (r, port, who) => {
      assert.equal(r.status, 500, who);
      await stillServes(port, who);
    },
  },
  {
    name: "POST with readBody(event)",
    method: "POST",
    path: "/read-body",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "oryx" }),
    expect: (r, _port, who) => {
      assert.equal(r.status, 201, who);
      assert.deepEqual(json(r), { created: { name: "oryx" } });
    },
  },
  {
    name: "POST with await event.req.json()",
    method: "POST",
    path: "/req-json",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ a: [1, 2], b: "ü" }),
    expect: (r) => assert.deepEqual(json(r), { received: { a: [1, 2], b: "ü" }, method: "POST" }),
  },
  { name: "setCookie() twice: two Set-Cookie fields", path: "/cookies", expect: (r) => assert.deepEqual(r.setCookie, ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]) },
  {
    name: "event.res.status and a header set in the handler",
    path: "/status",
    expect: (r, _port, who) => {
      assert.equal(r.status, 202, who);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain/, `${who}: a string is sent as text/plain`);
    },
  },
  { name: "noContent() on DELETE", method: "DELETE", path: "/items/3", raw: true, expect: (r) => assert.equal(r.status, 204) },
  { name: "a Response returned by a handler gets the middlewares' headers", path: "/response", expect: (r) => assert.equal(r.headers.get("x-powered-by"), "h3-compat") },
  { name: "a Uint8Array returned by a handler", path: "/bytes", expect: (r) => assert.deepEqual([...r.body], [104, 51, 0, 255]) },
  { name: "a Blob returned by a handler: its type is the content-type", path: "/blob", expect: (r) => assert.equal(r.headers.get("content-type"), "image/svg+xml") },
  { name: "a ReadableStream returned by a handler", path: "/stream", expect: (r) => assert.equal(r.body.toString(), "part 1\npart 2\npart 3\n") },
  { name: "HEAD /json", method: "HEAD", path: "/json", raw: true, expect: (r) => assert.equal(r.body.length, 0) },
  { name: "an unknown path: h3's 404", path: "/no/such/route", expect: (r) => assert.equal(r.status, 404) },
  { name: "a known path with an unrouted method: h3's answer", method: "PUT", path: "/json", body: "x" },
];

compatSuite("h3 v2: oryx (2 workers) vs srvx", { app: "h3.ts", usual: "srvx" }, cases);
