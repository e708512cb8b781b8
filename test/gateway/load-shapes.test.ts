/**
 * How loadApp decides what an export is (src/gateway/load.ts), on real modules in test/fixtures: shape first and
 * await only what must be awaited (itty-router's AutoRouter has a `then` and is served at once; a thenable that
 * is no app is not awaited forever), fetch handler or Node listener by more than arity (Express and Connect
 * markers, parameter names), --interface forcing either way, a module that calls listen() after it has loaded,
 * and the Node gateway's safety net for a fetch handler taken for a listener (a 500 and one hint, never a hang).
 *
 * The loader patches net.Server.prototype.listen while it looks for servers, so these tests run one at a time.
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { defaultSettings } from "../../src/config/settings.ts";
import type { FetchHandler } from "../../src/gateway/fetch.ts";
import { classifyFunction, parameterNames } from "../../src/gateway/function-kind.ts";
import { AppLoadError, loadApp, parseAppSpec, type LoadOptions, type LoadedApp } from "../../src/gateway/load.ts";
import { adoptServer } from "../../src/gateway/node.ts";
import { createLogger } from "../../src/log.ts";
import { nodeLimits } from "../../src/server/from-settings.ts";
import { ROOT } from "../support/cli.ts";
import { settlesWithin } from "../support/wait.ts";

const info = {
  remoteAddress: "127.0.0.1",
  remotePort: 40000,
  localAddress: "127.0.0.1",
  localPort: 8888,
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
} as unknown as Parameters<FetchHandler>[1];

/** loadApp on `spec`, bounded: a load that never settles fails the test instead of hanging it. */
async function load(spec: string, opts: LoadOptions & { logs?: string[] } = {}): Promise<LoadedApp> {
  const logs = opts.logs ?? [];
  const p = loadApp(parseAppSpec(spec), ROOT, { listenTimeoutMs: 5000, log: createLogger("debug", (l) => logs.push(l)), ...opts });
  const outcome = p.then(
    (app) => ({ app }),
    (err: unknown) => ({ err }),
  );
  assert.ok(await settlesWithin(outcome, 10_000), `loadApp(${spec}) did not settle within 10 s`);
  const r = await outcome;
  if ("err" in r) throw r.err;
  return r.app;
}

async function fetchBody(app: LoadedApp, url: string): Promise<{ status: number; body: string }> {
  assert.equal(app.interface, "fetch");
  if (app.interface !== "fetch") throw new Error("unreachable");
  const res = await app.fetch(new Request(url), info);
  return { status: res.status, body: await res.text() };
}

const servers = new Set<net.Server>();
after(async () => {
  for (const s of servers) {
    if (s instanceof http.Server) s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/**
 * A Node app served as a worker serves it: its http.Server gets oryx's guard (adoptServer) and never listens; a
 * plain TCP server on 127.0.0.1:0 hands it each socket.
 */
async function serveNode(app: LoadedApp, logs: string[]): Promise<number> {
  assert.equal(app.interface, "node");
  if (app.interface !== "node") throw new Error("unreachable");
  const handOff = adoptServer(app.server, nodeLimits(defaultSettings()), createLogger("debug", (l) => logs.push(l)), !app.listening, null);
  const front = net.createServer((socket) => handOff.take(socket));
  servers.add(app.server);
  servers.add(front);
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  return (front.address() as net.AddressInfo).port;
}

/** One GET, bounded (a request that hangs fails the test). */
async function get(port: number, target: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${target}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

describe("shape first, and await only what must be awaited", () => {
  test("itty-router's AutoRouter (every property a function, then included) loads as a fetch app at once", async () => {
    const app = await load("test/fixtures/shape-itty-autorouter.ts");
    assert.equal(app.interface, "fetch");
    // AutoRouter formats a returned string as JSON.
    assert.deepEqual(await fetchBody(app, "http://x/hi/ann"), { status: 200, body: '"hi ann from itty"' });
  });

  test("a default export that is a real promise is still awaited", async () => {
    const app = await load("test/fixtures/promise-app.ts");
    assert.deepEqual(await fetchBody(app, "http://x/p"), { status: 200, body: "from a promise: /p" });
  });

  test("a thenable that is no app and never settles: a clear error after --listen-timeout, not a wait forever", async () => {
    await assert.rejects(load("test/fixtures/shape-thenable.ts", { listenTimeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof AppLoadError, String(err));
      assert.match(err.message, /shape-thenable\.ts/);
      assert.match(err.message, /then\(\)/);
      assert.match(err.message, /did not settle within 300ms \(--listen-timeout\)/);
      return true;
    });
  });

  test("a thenable that resolves to a fetch app is awaited", async () => {
    const app = await load("test/fixtures/shape-thenable-app.ts");
    assert.deepEqual(await fetchBody(app, "http://x/t"), { status: 200, body: "from a thenable: /t" });
  });
});

describe("fetch handler or Node listener", () => {
  test("a Deno-style (request, info) handler is a fetch handler, and gets info", async () => {
    const app = await load("test/fixtures/shape-deno.ts");
    assert.deepEqual(await fetchBody(app, "http://x/d"), { status: 200, body: "deno-style: /d from 127.0.0.1" });
  });

  test("a (req, res) function is a Node listener", async () => {
    const logs: string[] = [];
    const app = await load("test/fixtures/node-listener.ts", { logs });
    assert.equal(app.interface, "node");
    assert.ok(logs.some((l) => /DEBUG.*second parameter is named res/.test(l)), logs.join("\n"));
    const port = await serveNode(app, []);
    const r = await get(port, "/x");
    assert.equal(r.status, 200);
    assert.match(r.body, /^listener: GET \/x from /);
  });

  test("an Express app and a Connect app are Node apps (use() and handle())", async () => {
    for (const spec of ["examples/express.ts", "test/fixtures/node-connect.ts"]) {
      const logs: string[] = [];
      const app = await load(spec, { logs });
      assert.equal(app.interface, "node", spec);
      assert.ok(logs.some((l) => /use\(\) and handle\(\)/.test(l)), `${spec}: ${logs.join("\n")}`);
    }
  });

  test("a function of three parameters is a Node listener", async () => {
    const app = await load("test/fixtures/fetch-three-params.ts");
    assert.equal(app.interface, "node");
  });

  test("a function of one parameter is still a fetch handler", async () => {
    const app = await load("test/fixtures/handler.ts");
    assert.deepEqual(await fetchBody(app, "http://x/?x=1"), { status: 200, body: "handler: GET ?x=1" });
  });

  test("minified (e, t) returning a Response: taken for a Node listener, answered 500 with one hint in the log, never a hang", async () => {
    // The loader's log is the worker's error log: the net around the guessed listener reports there.
    const logs: string[] = [];
    const app = await load("test/fixtures/shape-minified.js", { logs });
    assert.equal(app.interface, "node");
    assert.ok(logs.some((l) => /DEBUG.*\(e, t\).*taken for \(req, res\)/.test(l)), logs.join("\n"));
    const port = await serveNode(app, logs);
    for (let i = 0; i < 3; i++) {
      const r = await get(port, `/m${i}`);
      assert.equal(r.status, 500);
      assert.equal(r.body, "Internal Server Error\n");
    }
    const hints = logs.filter((l) => l.includes("the app returned a Response: it looks like a fetch handler (request, info); run it with --interface fetch"));
    assert.equal(hints.length, 1, `one hint per process, not per request:\n${logs.join("\n")}`);
    assert.match(hints[0]!, /\[ERROR\]/);
  });

  test("a fetch handler forced to be a Node listener (--interface node) that returns a Response: answered 500, never a hang", async () => {
    const logs: string[] = [];
    const app = await load("test/fixtures/shape-minified.js", { logs, interface: "node" });
    assert.equal(app.interface, "node");
    const port = await serveNode(app, logs);
    const r = await get(port, "/forced");
    assert.equal(r.status, 500);
    assert.equal(r.body, "Internal Server Error\n");
  });

  test("a minified async fetch handler that throws on a Node request: 500 and the hint with its error, and the server serves on", async () => {
    // The loader's log is the worker's error log: the guess made at load time reports there.
    const logs: string[] = [];
    const app = await load("test/fixtures/shape-minified-throws.js", { logs });
    assert.equal(app.interface, "node");
    const port = await serveNode(app, logs);
    for (const target of ["/a", "/b"]) {
      const r = await get(port, target);
      assert.equal(r.status, 500);
    }
    const lines = logs.filter((l) => l.includes("run it with --interface fetch"));
    assert.equal(lines.length, 2, logs.join("\n"));
    assert.match(lines[0]!, /threw while serving GET \/a/);
    assert.match(logs.join("\n"), /Invalid URL/);
  });

  test("--interface fetch forces fetch on (e, t); --interface node forces node on (request, info)", async () => {
    const fetchApp = await load("test/fixtures/shape-minified.js", { interface: "fetch" });
    assert.deepEqual(await fetchBody(fetchApp, "http://x/"), { status: 200, body: "minified: GET" });
    const nodeApp = await load("test/fixtures/shape-deno.ts", { interface: "node" });
    assert.equal(nodeApp.interface, "node");
    const nodeOne = await load("test/fixtures/node-one-param.ts", { interface: "node" });
    assert.equal(nodeOne.interface, "node");
  });
});

describe("a module that calls listen() after it has loaded", () => {
  test("its server is served (listening), and listen() is restored afterwards", async () => {
    const original = net.Server.prototype.listen;
    const app = await load("test/fixtures/shape-late-listen.ts");
    assert.equal(app.interface, "node");
    if (app.interface !== "node") return;
    assert.equal(app.listening, true);
    assert.equal(app.shape, "a server started by the module (listen() was captured)");
    assert.equal(net.Server.prototype.listen, original, "net.Server.prototype.listen is restored");
    // Port 3000 was never bound: the captured server reports oryx's address (null here) and listens nowhere.
    assert.equal(app.server.address(), null);
  });

  test("no export and no listen(): one sentence naming --listen-timeout, and listen() restored", async () => {
    const original = net.Server.prototype.listen;
    await assert.rejects(load("test/fixtures/late-never.ts", { listenTimeoutMs: 200 }), (err: unknown) => {
      assert.ok(err instanceof AppLoadError);
      assert.equal(err.message, "test/fixtures/late-never.ts exports nothing oryx can serve and did not call listen() within 200ms (--listen-timeout)");
      return true;
    });
    assert.equal(net.Server.prototype.listen, original);
  });

  test("exports of plain data only: still waited for, and its server served", async () => {
    const app = await load("test/fixtures/late-with-config.ts");
    assert.equal(app.interface, "node");
    const port = await serveNode(app, []);
    assert.deepEqual(await get(port, "/"), { status: 200, body: "configured" });
  });

  test("no default but a named export of an app's shape: an error at once that names it, no wait", async () => {
    await assert.rejects(load("test/fixtures/named-no-default.ts", { listenTimeoutMs: 60_000 }), (err: unknown) => {
      assert.ok(err instanceof AppLoadError);
      assert.equal(
        err.message,
        'the app module test/fixtures/named-no-default.ts has no export named "default" (its exports are: app, version); to serve one, name it: test/fixtures/named-no-default.ts:app',
      );
      return true;
    });
  });

  test("--interface fetch does not wait for listen()", async () => {
    await assert.rejects(load("test/fixtures/late-never.ts", { interface: "fetch", listenTimeoutMs: 60_000 }), /has no export named "default"/);
  });
});

describe("parameter names from source text", () => {
  // Written as source text: the test file's own functions are compiled by tsx, which may rename parameters.
  const fn = (src: string): Function => new Function(`return (${src})`)() as Function;
  const cases: Array<[string, Function, Array<string | null> | null]> = [
    ["arrow", fn("(req, info) => req"), ["req", "info"]],
    ["one-parameter arrow", fn("x => x"), ["x"]],
    ["async arrow", fn("async (request, ctx) => request"), ["request", "ctx"]],
    ["async one-parameter arrow", fn("async request => request"), ["request"]],
    ["function", fn("function handler(a, b) { return a; }"), ["a", "b"]],
    ["async function", fn("async function (req, res) { return req; }"), ["req", "res"]],
    ["generator", fn("function* g(a, b) { yield a; }"), ["a", "b"]],
    ["method", fn("{ fetch(request, env) { return request; } }.fetch"), ["request", "env"]],
    ["async method", fn("{ async fetch(request, server) { return request; } }.fetch"), ["request", "server"]],
    ["defaults", fn("(req, info = { a: (1, 2) }) => req"), ["req", "info"]],
    ["destructuring", fn("(req, { remoteAddr }) => remoteAddr"), ["req", null]],
    ["array destructuring", fn("([a], b) => a"), [null, "b"]],
    ["rest", fn("(...args) => args"), ["args"]],
    ["comments", fn("(req /* a Request */, // the info\n _info) => req"), ["req", "_info"]],
    ["strings in defaults", fn("(a = ')', b = `${'('}`) => a"), ["a", "b"]],
    ["trailing comma", fn("(a, b,) => a"), ["a", "b"]],
    ["param named async", fn("async => async"), ["async"]],
    ["native", Math.max, null],
    ["bound", fn("function (a, b) { return a; }").bind(null), null],
    ["class", fn("class { constructor(a) {} }"), null],
  ];
  for (const [name, fn, want] of cases) {
    test(name, () => assert.deepEqual(parameterNames(fn), want));
  }

  test("a handler compiled by tsx is read as compiled: a parameter renamed for shadowing (info → info2) still says fetch", () => {
    // This file has a top-level `info`, so esbuild renames the parameter below.
    const handler = (request: Request, info: { remoteAddr: unknown }): unknown => [request, info.remoteAddr];
    assert.match(String(parameterNames(handler)?.[1]), /^info\d*$/);
    assert.equal(classifyFunction(handler).kind, "fetch");
  });

  test("the decision for each kind of second name", () => {
    const kind = (src: string): string => classifyFunction(fn(src)).kind;
    for (const src of ["(req, res) => 0", "(request, response) => 0", "(q, _res) => 0", "(q, reply) => 0", "(q, serverResponse) => 0", "(e, t) => 0", "(a, {b}) => 0", "(a, b, c) => 0", "(r, res = 1) => 0"]) {
      assert.equal(kind(src), "node", src);
    }
    for (const src of ["(req, info) => 0", "(req, info2) => 0", "(r, ctx) => 0", "(r, env) => 0", "(r, server) => 0", "(r, connInfo) => 0", "(r, _info) => 0", "(r, context) => 0", "(r) => 0", "() => 0"]) {
      assert.equal(kind(src), "fetch", src);
    }
    assert.equal(classifyFunction(fn("(e, t) => 0")).ambiguous, true);
    assert.equal(classifyFunction(fn("(req, res) => 0")).ambiguous, false);
  });
});
