/**
 * Hono (test/compat/apps/hono.ts) under oryx with two workers, compared with @hono/node-server: built-in
 * middleware (cors, secureHeaders), a middleware that sets a header after `await next()`, JSON with params,
 * streamSSE, two cookies, redirects, error and notFound handlers, and the client's address through
 * @hono/node-server's getConnInfo and Bun's.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { compatSuite, json, stillServes, stopAll, type Case, type Reply } from "./harness.ts";

after(() => stopAll());

// What secureHeaders() sets beside its x-* headers (those are compared anyway), and CORS's Vary.
const SECURE = ["cross-origin-opener-policy", "cross-origin-resource-policy", "origin-agent-cluster", "referrer-policy", "strict-transport-security", "vary"];

/** Every case compares secureHeaders' output; the timing header differs run to run, so its form is checked instead. */
function hono(c: Case): Case {
  const expect = c.expect;
  return {
    ...c,
    compareHeaders: [...SECURE, ...(c.compareHeaders ?? [])],
    ignoreHeaders: ["x-response-time", ...(c.ignoreHeaders ?? [])],
    expect: async (r, port, who) => {
      if (r.status !== 204 || c.method !== "OPTIONS") {
        assert.match(r.headers.get("x-response-time") ?? "(none)", /^\d+\.\d{3}ms$/, `${who}: the timing middleware set its header after await next()`);
      }
      await expect?.(r, port, who);
    },
  };
}

/** The client's address as a getConnInfo route reported it, checked against the connection the test made. */
function peer(r: Reply, who: string): void {
  assert.equal(r.status, 200, `${who}: ${r.body.toString()}`);
  const info = json(r) as { address?: unknown; port?: unknown; addressType?: unknown };
  assert.equal(info.address, "127.0.0.1", `${who}: the client's address`);
  assert.equal(info.addressType, "IPv4", who);
  assert.equal(info.port, r.clientPort, `${who}: the client's port (the test's own end of the connection)`);
}

const cases: Case[] = [
  hono({
    name: "c.text() through every middleware",
    path: "/",
    expect: (r, _port, who) => {
      assert.equal(r.body.toString(), "Hello Hono!", who);
      assert.equal(r.headers.get("x-frame-options"), "SAMEORIGIN", `${who}: secureHeaders()`);
    },
  }),
  hono({ name: "c.json() with a param and the query", path: "/users/1?q=x", expect: (r) => assert.deepEqual(json(r), { id: "1", q: "x" }) }),
  hono({ name: "c.req.param() with two params", path: "/posts/5/comments/9", expect: (r) => assert.deepEqual(json(r), { postId: "5", commentId: "9" }) }),
  hono({
    name: "POST JSON: 201 with a header from c.json()",
    method: "POST",
    path: "/users",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "oryx" }),
    expect: (r, _port, who) => {
      assert.equal(r.status, 201, who);
      assert.equal(r.headers.get("x-created"), "1", who);
    },
  }),
  hono({
    name: "POST JSON that the handler refuses: an HTTPException 400 through onError",
    method: "POST",
    path: "/users",
    headers: { "content-type": "application/json" },
    body: "{}",
    expect: (r) => assert.deepEqual(json(r), { error: "name is required" }),
  }),
  hono({
    name: "streamSSE: three events",
    path: "/sse",
    compareHeaders: ["cache-control"],
    expect: (r, _port, who) => {
      assert.equal(r.headers.get("content-type"), "text/event-stream", who);
      assert.equal(r.body.toString(), [1, 2, 3].map((n) => `event: tick\ndata: {"n":${n}}\nid: ${n}\n\n`).join(""), who);
    },
  }),
  hono({ name: "setCookie() twice", path: "/cookies", expect: (r) => assert.deepEqual(r.setCookie, ["session=abc; Path=/; HttpOnly; SameSite=Lax", "theme=dark; Max-Age=3600; Path=/"]) }),
  hono({
    name: "c.redirect() (302, relative Location)",
    path: "/redirect",
    expect: (r, _port, who) => {
      assert.equal(r.status, 302, who);
      assert.equal(r.headers.get("location"), "/users/1", who);
    },
  }),
  hono({ name: "c.redirect(url, 301)", path: "/redirect-301", expect: (r) => assert.equal(r.status, 301) }),
  hono({
    name: "CORS: a request from the allowed origin",
    path: "/users/2",
    headers: { origin: "https://example.com" },
    expect: (r, _port, who) => {
      assert.equal(r.headers.get("access-control-allow-origin"), "https://example.com", who);
      assert.equal(r.headers.get("access-control-expose-headers"), "x-response-time", who);
    },
  }),
  hono({
    name: "CORS: a preflight",
    method: "OPTIONS",
    path: "/users",
    headers: { origin: "https://example.com", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    expect: (r, _port, who) => {
      assert.equal(r.status, 204, who);
      assert.match(r.headers.get("access-control-allow-methods") ?? "", /POST/, who);
    },
  }),
  hono({ name: "an HTTPException 403", path: "/forbidden", expect: (r) => assert.deepEqual(json(r), { error: "not for you" }) }),
  hono({
    name: "a thrown Error: onError's 500, and the server goes on",
    path: "/error",
    expect: async (r, port, who) => {
      assert.deepEqual(json(r), { error: "boom" });
      await stillServes(port, who);
    },
  }),
  hono({ name: "notFound()", path: "/no/such/route", expect: (r) => assert.deepEqual(json(r), { error: "not found", path: "/no/such/route" }) }),
  hono({ name: "HEAD /: GET's headers, no body", method: "HEAD", path: "/", raw: true, expect: (r) => assert.equal(r.body.length, 0) }),
  hono({
    name: "getConnInfo from @hono/node-server/conninfo: the client's address and port",
    path: "/conninfo/node",
    raw: true,
    bodyAs: "ignore", // each reply holds its own client port; peer() checks it against the connection
    expect: (r, _port, who) => peer(r, who),
  }),
  hono({
    name: "getConnInfo of Bun's helper (hono/dist/adapter/bun/conninfo.js): info.requestIP(request) gives the client's address",
    path: "/conninfo/bun-helper",
    raw: true,
    oryxOnly: "@hono/node-server's second argument has no requestIP (Bun's server API), so this helper throws there; under oryx the fetch handler's second argument answers it",
    expect: (r, _port, who) => peer(r, who),
  }),
  hono({
    name: "import('hono/bun') works under oryx (src/ws/bun-stub.ts), and its getConnInfo gives the client's address",
    path: "/conninfo/bun",
    raw: true,
    bodyAs: "ignore", // each reply holds its own client port; peer() checks it against the connection
    oryxOnly: "on @hono/node-server, hono/bun cannot load: its SSG helper reads the global Bun while loading (ReferenceError: Bun is not defined)",
    expect: (r, _port, who) => peer(r, who),
  }),
];

compatSuite("Hono: oryx (2 workers) vs @hono/node-server", { app: "hono.ts", usual: "hono-node" }, cases);
