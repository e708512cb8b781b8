/**
 * itty-router v5's AutoRouter (test/compat/apps/itty.ts) under oryx with two workers, compared with srvx, in
 * both of its export shapes: the router itself (`export default router`, as for Bun; a Proxy that answers every
 * property, `then` included, so it looks like a promise that never settles), and the README's
 * `export default { ...router }`.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stillServes, stopAll, type Case } from "./harness.ts";

after(() => stopAll());

const cases: Case[] = [
  { name: "a string: AutoRouter's JSON", path: "/", expect: (r) => assert.equal(json(r), "Hello from itty-router!") },
  { name: "a route parameter, read off the request proxy", path: "/hello/oryx", expect: (r) => assert.equal(json(r), "Hello, oryx!") },
  { name: "an array: JSON", path: "/json", expect: (r) => assert.deepEqual(json(r), [1, 2, 3]) },
  { name: "the query, with a repeated key", path: "/query?a=1&a=2&b=x", expect: (r) => assert.deepEqual(json(r), { query: { a: ["1", "2"], b: "x" } }) },
  { name: "two parameters and the route", path: "/users/1/posts/2", expect: (r) => assert.deepEqual(json(r), { params: { id: "1", post: "2" }, route: "/users/:id/posts/:post" }) },
  { name: "an async handler", path: "/async", expect: (r) => assert.deepEqual(json(r), { async: true }) },
  {
    name: "Response.redirect(new URL(...), 302): a 302 with its Location, not JSON",
    path: "/redirect",
    expect: (r, _port, who) => {
      assert.equal(r.status, 302, who);
      assert.equal(r.headers.get("location"), "http://ORIGIN/json", who);
    },
  },
  { name: "Response.redirect(url, 301)", path: "/redirect-301", expect: (r) => assert.equal(r.headers.get("location"), "https://example.com/moved") },
  { name: "a Response of the handler's own passes through", path: "/response", expect: (r) => assert.equal(r.status, 202) },
  { name: "html()", path: "/html", expect: (r) => assert.equal(r.body.toString(), "<p>itty</p>") },
  { name: "error(418, message)", path: "/teapot", expect: (r) => assert.deepEqual(json(r), { status: 418, error: "short and stout" }) },
  { name: "status(201)", path: "/created", expect: (r) => assert.equal(r.status, 201) },
  { name: "a thrown StatusError(400)", path: "/bad", expect: (r) => assert.deepEqual(json(r), { status: 400, error: "a StatusError" }) },
  {
    name: "a thrown Error: AutoRouter's JSON 500, and the server goes on",
    path: "/throw",
    expect: async (r, port, who) => {
      assert.deepEqual(json(r), { status: 500, error: "boom" });
      await stillServes(port, who);
    },
  },
  {
    name: "POST JSON with await request.json()",
    method: "POST",
    path: "/echo",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ a: 1 }),
    expect: (r) => assert.deepEqual(json(r), { got: { a: 1 }, type: "application/json" }),
  },
  { name: "an unknown path: AutoRouter's 404", path: "/no/such/route", expect: (r) => assert.deepEqual(json(r), { status: 404, error: "Not Found" }) },
  { name: "HEAD / (no HEAD route: 404)", method: "HEAD", path: "/", raw: true },
];

compatSuite("itty-router AutoRouter, `export default router`: oryx (2 workers) vs srvx", { app: "itty.ts", usual: "srvx" }, cases);
compatSuite("itty-router AutoRouter, `export default { ...router }`: oryx (2 workers) vs srvx", { app: "itty-spread.ts", usual: "srvx" }, cases);
