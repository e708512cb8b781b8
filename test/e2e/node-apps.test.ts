/**
 * Node (req, res) apps through the real `oryx` command (dist/cli.js): the Express, Koa and Fastify examples, a
 * module that calls app.listen(3000) itself, an exported http.Server, a Connect app, a plain listener, a
 * WebSocket through examples/express-ws.ts, --interface, the error for a module of no known shape, and workers
 * with a graceful stop. Every process started here is killed by pid (pool.ts's launch/stop/cleanup).
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { ensureBuilt, runCli } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { sleep, until, within } from "../support/wait.ts";
import { listeningTcpSockets } from "../../src/arbiter/metrics.ts";

before(() => ensureBuilt());
after(async () => {
  await cleanup();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection (no agent), with a time bound. */
function request(port: number, method: string, target: string, opts: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path: target, agent: false, headers: { connection: "close", ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${target}: no complete response in time`));
    }, opts.timeoutMs ?? 5000);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(opts.body);
  });
}

const get = (port: number, target: string): Promise<Reply> => request(port, "GET", target);

// ─── the three framework examples ───────────────────────────────────────────────────────────────────────────

interface Example {
  spec: string;
  greeting: string;
  /** HEAD / is answered like GET / without a body; null with the reason when the app does not route HEAD. */
  head: true | string;
  /** Extra checks on GET / (a hook's header, say). */
  extra?: (r: Reply) => void;
}

const examples: Example[] = [
  { spec: "examples/express.ts", greeting: "Hello from Express!", head: true },
  {
    spec: "examples/koa.ts",
    greeting: "Hello from Koa!",
    head: "examples/koa.ts routes by `ctx.method === \"GET\"`, so HEAD / falls through to its own 404 (Koa has no automatic HEAD routing)",
  },
  {
    spec: "examples/fastify.ts",
    greeting: "Hello from Fastify!",
    head: true,
    extra: (r) => assert.equal(r.headers["x-hook"], "onRequest", "Fastify's onRequest hook ran"),
  },
];

describe("the framework examples, unchanged", { concurrency: true }, () => {
  for (const ex of examples) {
    test(`oryx ${ex.spec}: the startup line says (node); /, /users/7, POST /echo, /stream, /error, HEAD`, async (t) => {
      const o = await launch([ex.spec, ...LOCAL]);
      try {
        assert.match(o.line, new RegExp(`serving ${ex.spec.replace(/[.]/g, "\\.")} \\(node\\) with 1 worker on http://127\\.0\\.0\\.1:\\d+ `), o.line);

        const root = await get(o.port, "/");
        assert.equal(root.status, 200);
        assert.equal(root.body, ex.greeting);
        ex.extra?.(root);

        const user = await get(o.port, "/users/7");
        assert.equal(user.status, 200);
        assert.match(String(user.headers["content-type"]), /^application\/json/);
        assert.deepEqual(JSON.parse(user.body), { id: "7", ip: "127.0.0.1" });

        const echo = await request(o.port, "POST", "/echo", { body: '{"n":42,"s":"x"}', headers: { "content-type": "application/json" } });
        assert.equal(echo.status, 201, echo.body);
        assert.deepEqual(JSON.parse(echo.body), { received: { n: 42, s: "x" } });

        const stream = await get(o.port, "/stream");
        assert.equal(stream.status, 200);
        assert.equal(stream.body, "tick 1\ntick 2\ntick 3\n");
        assert.equal(stream.headers["transfer-encoding"], "chunked", "a streamed body is sent chunked");
        assert.match(String(stream.headers["content-type"]), /^text\/plain/);

        const error = await get(o.port, "/error");
        assert.equal(error.status, 500);
        assert.match(String(error.headers["content-type"]), /^application\/json/);
        const e = JSON.parse(error.body) as { error?: string; message?: string };
        assert.ok(e.error === "boom" || e.message === "boom", `the error's message in the JSON: ${error.body}`);

        if (ex.head === true) {
          const head = await request(o.port, "HEAD", "/");
          assert.equal(head.status, 200);
          assert.equal(head.body, "");
          assert.equal(head.headers["content-length"], root.headers["content-length"], "HEAD announces GET's length");
        } else {
          t.diagnostic(`HEAD not checked: ${ex.head}`);
        }

        // The app is still healthy after its error route.
        assert.equal((await get(o.port, "/")).body, ex.greeting);
        assert.equal((await stop(o)).code, 0);
      } finally {
        await stop(o);
      }
    });
  }
});

// ─── a module that calls app.listen(3000) itself ────────────────────────────────────────────────────────────

/** Resolves with the error code of binding 127.0.0.1:`port`, or "free" (the probe is closed again at once). */
function tryBind(port: number): Promise<string> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve("free")));
  });
}

/** Sockets listening on `port` (any address, IPv4 or IPv6), per /proc/net/tcp{,6}. */
function listenersOn(port: number): string[] {
  return listeningTcpSockets()
    .filter((s) => s.port === port)
    .map((s) => `${s.file}: ${s.local}`);
}

describe("a module that calls app.listen(3000) itself", () => {
  test("examples/listen-itself.js is served on oryx's bind, its listen callback logs oryx's address, and port 3000 stays free", async (t) => {
    const before = await tryBind(3000);
    if (before !== "free" || listenersOn(3000).length > 0) {
      t.skip(`something else on this machine already holds port 3000 (${before}; ${listenersOn(3000).join(", ")}), so "3000 stays free" cannot be checked`);
      return;
    }
    const o = await launch(["examples/listen-itself.js", ...LOCAL]);
    try {
      assert.match(o.line, /serving examples\/listen-itself\.js \(node\) /, o.line);
      const root = await get(o.port, "/");
      assert.equal(root.status, 200);
      assert.equal(root.body, "Hello from a server that listens itself!");
      assert.equal(root.headers["x-powered-by"], "Express");
      // The listen callback ran, and server.address() told it oryx's address, not 3000.
      await until(() => o.stdout().includes("listening on"), 5000, "the app's listen callback line on stdout", () => o.stdout());
      assert.match(o.stdout(), new RegExp(`^listening on 127\\.0\\.0\\.1:${o.port}$`, "m"), o.stdout());
      assert.doesNotMatch(o.stdout(), /:3000\b/);
      // Port 3000 is free while the app runs.
      assert.deepEqual(listenersOn(3000), [], "nothing listens on port 3000");
      assert.equal(await tryBind(3000), "free", "this test could bind 127.0.0.1:3000 itself while oryx runs the app");
      assert.equal((await stop(o)).code, 0);
    } finally {
      await stop(o);
    }
  });
});

// ─── more shapes ────────────────────────────────────────────────────────────────────────────────────────────

describe("other Node app shapes", { concurrency: true }, () => {
  test("an exported http.createServer(...) (test/fixtures/node-http-server.ts)", async () => {
    const o = await launch(["test/fixtures/node-http-server.ts", ...LOCAL]);
    try {
      assert.match(o.line, /\(node\)/, o.line);
      const r = await get(o.port, "/a/b?c=d");
      assert.equal(r.status, 200);
      assert.equal(r.headers["x-fixture"], "http-server");
      assert.equal(r.body, "http.Server: GET /a/b?c=d");
    } finally {
      await stop(o);
    }
  });

  test("a Connect app (test/fixtures/node-connect.ts): middleware, mount paths, a body", async () => {
    const o = await launch(["test/fixtures/node-connect.ts", ...LOCAL]);
    try {
      assert.match(o.line, /\(node\)/, o.line);
      const hello = await get(o.port, "/hello/world");
      assert.equal(hello.status, 200);
      assert.equal(hello.headers["x-fixture"], "connect");
      assert.equal(hello.body, "connect hello: /world");
      const echo = await request(o.port, "PUT", "/echo", { body: "some body" });
      assert.deepEqual(JSON.parse(echo.body), { method: "PUT", body: "some body" });
      const missing = await get(o.port, "/nowhere");
      assert.equal(missing.status, 404, "Connect's final handler");
    } finally {
      await stop(o);
    }
  });

  test("a plain (req, res) function (test/fixtures/node-listener.ts)", async () => {
    const o = await launch(["test/fixtures/node-listener.ts", ...LOCAL]);
    try {
      assert.match(o.line, /\(node\)/, o.line);
      const r = await request(o.port, "DELETE", "/x?y=1");
      assert.equal(r.status, 200);
      assert.equal(r.headers["x-fixture"], "listener");
      assert.equal(r.body, "listener: DELETE /x?y=1 from 127.0.0.1");
    } finally {
      await stop(o);
    }
  });
});

// ─── WebSockets ─────────────────────────────────────────────────────────────────────────────────────────────

describe("WebSockets", () => {
  test("a ws round trip through oryx to examples/express-ws.ts (text and binary), and HTTP on the same port", async () => {
    const o = await launch(["examples/express-ws.ts", ...LOCAL]);
    const ws = new WebSocket(`ws://127.0.0.1:${o.port}/ws`);
    try {
      assert.match(o.line, /serving examples\/express-ws\.ts \(node\) /, o.line);
      ws.on("error", () => {});
      await within(new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
        ws.once("unexpected-response", (_req, res) => reject(new Error(`the upgrade got HTTP ${res.statusCode}`)));
      }), 5000, "the WebSocket to open");
      const next = (): Promise<{ data: Buffer; binary: boolean }> =>
        within(new Promise((resolve) => ws.once("message", (data, binary) => resolve({ data: data as Buffer, binary }))), 5000, "an echo");
      let reply = next();
      ws.send("hello through oryx");
      let m = await reply;
      assert.equal(m.binary, false);
      assert.equal(m.data.toString("utf8"), "hello through oryx");
      reply = next();
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      ws.send(bytes);
      m = await reply;
      assert.equal(m.binary, true);
      assert.deepEqual(m.data, bytes);
      // A big message in several frames' worth of bytes.
      reply = next();
      const big = "x".repeat(200_000);
      ws.send(big);
      assert.equal((await reply).data.toString("utf8"), big);

      const root = await get(o.port, "/");
      assert.equal(root.status, 200);
      assert.match(root.body, /^Hello from Express, with a WebSocket echo/);

      const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
      ws.close(1000, "done");
      assert.equal(await within(closed, 5000, "the close handshake"), 1000);
      assert.equal((await stop(o)).code, 0);
    } finally {
      ws.terminate();
      await stop(o);
    }
  });
});

// ─── --interface and shape errors ───────────────────────────────────────────────────────────────────────────

describe("--interface and apps of no known shape", { concurrency: true }, () => {
  test("--interface fetch serves a three-parameter (request, env, ctx) handler as fetch, which auto takes for a listener", async () => {
    const o = await launch(["--interface", "fetch", "test/fixtures/fetch-three-params.ts", ...LOCAL]);
    try {
      assert.match(o.line, /serving test\/fixtures\/fetch-three-params\.ts \(fetch\) /, o.line);
      const r = await get(o.port, "/forced");
      assert.equal(r.status, 200);
      assert.equal(r.body, "fetch with three params: /forced");
    } finally {
      await stop(o);
    }
  });

  test("--interface fetch on a Koa app (an object without fetch): exit 4 with one clear line", async () => {
    const r = await runCli(["--interface", "fetch", "examples/koa.ts", ...LOCAL], { timeoutMs: 15000 });
    assert.equal(r.code, 4, `expected exit 4, got ${r.code}; stderr:\n${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.match(lines[0]!, /^oryx: .*examples\/koa\.ts.*not a fetch app \(--interface fetch\)/);
  });

  test("--interface node serves a one-parameter function as a (req, res) listener", async () => {
    const o = await launch(["--interface", "node", "test/fixtures/node-one-param.ts", ...LOCAL]);
    try {
      assert.match(o.line, /serving test\/fixtures\/node-one-param\.ts \(node\) /, o.line);
      const r = await get(o.port, "/forced?x=1");
      assert.equal(r.status, 200);
      assert.equal(r.body, "one-param listener: GET /forced?x=1 (string)");
    } finally {
      await stop(o);
    }
  });

  test("without --interface the same one-parameter function is taken for a fetch handler", async () => {
    const o = await launch(["test/fixtures/node-one-param.ts", ...LOCAL]);
    try {
      assert.match(o.line, /serving test\/fixtures\/node-one-param\.ts \(fetch\) /, o.line);
    } finally {
      await stop(o);
    }
  });

  test("an export of none of the shapes: exit 4 and one line listing what oryx looked for", async () => {
    const r = await runCli(["test/fixtures/node-none.ts", ...LOCAL], { timeoutMs: 10_000 });
    assert.equal(r.code, 4, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    const line = lines[0]!;
    assert.match(line, /^oryx: /);
    assert.match(line, /node-none\.ts/);
    assert.match(line, /looked for/);
    for (const want of [/fetch app/, /fetch handler/, /\(req, res/, /Express/, /Koa/, /Fastify/, /http\.Server/, /listen\(\)/]) {
      assert.match(line, want, `the line names ${want}`);
    }
    assert.equal(r.stdout, "");
  });
});

// ─── workers ────────────────────────────────────────────────────────────────────────────────────────────────

describe("Express with workers", () => {
  test("-w 2: two workers serve; SIGTERM while a slow request is in flight lets it finish, then exit 0", async () => {
    const o = await launch(["test/fixtures/node-slow-express.ts", "-w", "2", ...LOCAL]);
    try {
      assert.match(o.line, /\(node\) with 2 workers /, o.line);
      assert.equal(o.workers().length, 2, "two worker processes");
      const workers = new Set(o.workers());
      const pids = await Promise.all(Array.from({ length: 12 }, async () => {
        const r = await get(o.port, "/");
        assert.equal(r.status, 200);
        return (JSON.parse(r.body) as { pid: number }).pid;
      }));
      for (const pid of pids) assert.ok(workers.has(pid), `answered by ${pid}, not one of the workers ${[...workers].join(", ")}`);

      let answeredAt = 0;
      const slow = request(o.port, "GET", "/slow?ms=1500", { timeoutMs: 10_000 }).then((r) => {
        answeredAt = performance.now();
        return r;
      });
      await until(() => o.stdout().includes("slow request started"), 5000, "the slow request to reach the app", () => o.stdout());
      const signalledAt = performance.now();
      const exited = stop(o, "SIGTERM");
      const r = await slow;
      assert.equal(r.status, 200);
      assert.match(r.body, /^slept 1500 ms in \d+\n$/);
      const exit = await within(exited, 10_000, "oryx to exit after the slow request");
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(answeredAt - signalledAt > 800, `the request finished after the signal (${Math.round(answeredAt - signalledAt)} ms), not cut`);
      await sleep(0);
    } finally {
      await stop(o);
    }
  });

  test("--max-requests counts a Node app's requests: a worker retires after 3", async () => {
    const o = await launch(["test/fixtures/node-slow-express.ts", "-w", "1", "--max-requests", "3", ...LOCAL]);
    try {
      const first = o.workers();
      for (let i = 0; i < 3; i++) assert.equal((await get(o.port, "/")).status, 200);
      await o.waitLog(/served 3 requests \(--max-requests\): retiring/, 5000, "the worker to retire after 3 requests");
      await until(() => o.workers().length === 1 && !first.includes(o.workers()[0]!), 10_000, "a fresh worker to replace the retired one", () => o.stderr());
      assert.equal((await get(o.port, "/")).status, 200);
    } finally {
      await stop(o);
    }
  });
});
