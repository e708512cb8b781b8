/**
 * Elysia (test/compat/apps/elysia.ts, and its quick start, apps/elysia-minimal.ts) under oryx with two workers,
 * compared with srvx serving the same app's `fetch`. On Node, Elysia uses its Web Standard adapter: nothing to compile or adapt; a server calls `app.fetch`.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stillServes, stopAll, type Case } from "./harness.ts";

after(() => stopAll());

const cases: Case[] = [
  {
    name: "a string, with the onRequest and onAfterHandle headers",
    path: "/",
    expect: (r, _port, who) => {
      assert.equal(r.body.toString(), "Hello Elysia", who);
      assert.equal(r.headers.get("x-powered-by"), "elysia-compat", who);
      assert.equal(r.headers.get("x-after-handle"), "yes", who);
    },
  },
  { name: "an object: JSON", path: "/json", expect: (r) => assert.deepEqual(json(r), { hello: "world", list: [1, 2, 3] }) },
  { name: "a path parameter", path: "/id/7", expect: (r) => assert.deepEqual(json(r), { id: "7" }) },
  { name: "the query", path: "/query?a=1&b=two", expect: (r) => assert.deepEqual(json(r), { query: { a: "1", b: "two" } }) },
  {
    name: "POST a JSON body that passes the schema: set.status 201",
    method: "POST",
    path: "/items",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "x", count: 2 }),
    expect: (r) => {
      assert.equal(r.status, 201);
      assert.deepEqual(json(r), { created: { name: "x", count: 2 } });
    },
  },
  {
    name: "POST a JSON body that fails the schema: Elysia's 422",
    method: "POST",
    path: "/items",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "x" }),
    expect: (r) => assert.equal(r.status, 422),
  },
  {
    name: "POST a urlencoded form",
    method: "POST",
    path: "/form",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "a=1&b=two+words",
    expect: (r) => assert.deepEqual(json(r), { form: { a: "1", b: "two words" } }),
  },
  { name: "set.headers in a handler", path: "/headers", expect: (r) => assert.equal(r.headers.get("x-custom"), "from set.headers") },
  {
    name: "redirect() (302)",
    path: "/redirect",
    expect: (r, _port, who) => {
      assert.equal(r.status, 302, who);
      assert.equal(r.headers.get("location"), "http://ORIGIN/json", who);
    },
  },
  { name: "redirect(url, 301)", path: "/redirect-301", expect: (r) => assert.equal(r.status, 301) },
  { name: "status(418, ...)", path: "/teapot", expect: (r) => assert.equal(r.status, 418) },
  {
    name: "a thrown Error: Elysia's 500, and the server goes on",
    path: "/throw",
    expect: async (r, port, who) => {
      assert.equal(r.status, 500, who);
      await stillServes(port, who);
    },
  },
  { name: "two cookies set through the cookie jar", path: "/cookies", expect: (r) => assert.deepEqual(r.setCookie, ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]) },
  { name: "a Response of the handler's own", path: "/response", expect: (r) => assert.equal(r.status, 202) },
  { name: "a generator handler: a streamed body", path: "/stream", compareHeaders: ["cache-control"], expect: (r) => assert.equal(r.body.toString(), "part 1\npart 2\n") },
  {
    name: "a path no route matches: Elysia's 404",
    path: "/no/such/route",
    expect: (r, _port, who) => {
      assert.equal(r.status, 404, who);
      assert.equal(r.body.toString(), "NOT_FOUND", who);
    },
  },
  { name: "POST to a path no route matches: 404", method: "POST", path: "/nowhere", headers: { "content-type": "application/json" }, body: "{}", expect: (r) => assert.equal(r.status, 404) },
  { name: "HEAD / (Elysia routes HEAD only if asked)", method: "HEAD", path: "/", raw: true },
];

compatSuite("Elysia: oryx (2 workers) vs srvx", { app: "elysia.ts", usual: "srvx" }, cases);

// Without hooks, Elysia answers synchronously: its fetch returns the Response itself.
const minimal: Case[] = [
  { name: "a string", path: "/", expect: (r) => assert.equal(r.body.toString(), "Hello Elysia") },
  { name: "a path parameter", path: "/user/42", expect: (r) => assert.equal(r.body.toString(), "42") },
  { name: "an object: JSON", path: "/json", expect: (r) => assert.deepEqual(json(r), { hello: "Elysia" }) },
  {
    name: "POST JSON echoed",
    method: "POST",
    path: "/form",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ a: 1 }),
    expect: (r) => assert.deepEqual(json(r), { a: 1 }),
  },
  {
    name: "a path no route matches: Elysia's 404 (not a 500)",
    path: "/no/such/route",
    expect: (r, _port, who) => {
      assert.equal(r.status, 404, who);
      assert.equal(r.body.toString(), "NOT_FOUND", who);
    },
  },
  { name: "POST to a path no route matches: 404", method: "POST", path: "/nowhere", body: "x", expect: (r) => assert.equal(r.status, 404) },
];

compatSuite("Elysia's quick start (no hooks, synchronous answers): oryx (2 workers) vs srvx", { app: "elysia-minimal.ts", usual: "srvx" }, minimal);
