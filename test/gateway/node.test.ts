/**
 * The Node gateway in process, wired as src/arbiter/worker.ts wires it: oryx's Server accepts, and hands each
 * socket to the app's http.Server through adoptServer() with oryx's limits.
 *
 * - A differential test: the same Express, Koa, Fastify and Connect apps, the same plain listener and the same
 *   http.Server with a `ws` WebSocketServer, served by plain node:http and by oryx, get the same requests over
 *   raw sockets and must give the same status, headers (but Date) and body (and WebSocket frames).
 * - oryx's limits and refusals apply to Node apps: body size, head size, field count, header timeout,
 *   keep-alive timeout, request smuggling shapes, a missing Host; and Node's own semantics reach the app:
 *   remoteAddress, Expect: 100-continue / checkContinue, trailers.
 */
import { nodeLimits } from "../../src/server/from-settings.ts";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import connect from "connect";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import { WebSocketServer } from "ws";
import { connectionOptions } from "../../src/server/from-settings.ts";
import { defaultSettings, type Settings } from "../../src/config/settings.ts";
import { adoptServer } from "../../src/gateway/node.ts";
import { createLogger } from "../../src/log.ts";
import { Server } from "../../src/server/server.ts";
import { destroySessions, raw, Session } from "../support/client.ts";
import type { ParsedResponse } from "../support/response.ts";
import { sleep } from "../support/wait.ts";

// ─── serving ────────────────────────────────────────────────────────────────────────────────────────────────

interface Served {
  port: number;
  logs: string[];
  close(): Promise<void>;
}

const open = new Set<Served>();
after(async () => {
  destroySessions();
  await Promise.all([...open].map((s) => s.close()));
});

/** `server` served by oryx: the Server of src/server/server.ts with `handOff: adoptServer(...)`, as a worker does. */
async function oryx(server: http.Server, overrides: Partial<Settings> = {}): Promise<Served> {
  const settings = { ...defaultSettings(), ...overrides };
  const logs: string[] = [];
  const log = createLogger("debug", (line) => logs.push(line));
  const handOff = adoptServer(server, nodeLimits(settings), log, true, null);
  const srv = new Server({
    binds: [{ kind: "tcp", host: "127.0.0.1", port: 0 }],
    backlog: settings.backlog,
    connection: connectionOptions(settings, () => {}, log, null),
    handOff,
  });
  const [url] = await srv.listen();
  const served: Served = {
    port: Number(new URL(url!).port),
    logs,
    close: async () => {
      open.delete(served);
      await srv.close(500);
      // Stops Node's connection-checking interval of the never-listening server.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.add(served);
  return served;
}

/** `server` served by plain node:http (`listen(0)`), for the differential test. */
async function plain(server: http.Server): Promise<Served> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const served: Served = {
    port: (server.address() as net.AddressInfo).port,
    logs: [],
    close: async () => {
      open.delete(served);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.add(served);
  return served;
}

// ─── responses, compared ────────────────────────────────────────────────────────────────────────────────────

/** A response as the differential test compares it: fields as sent, in order, with Date's value as "<date>". */
interface Parsed {
  status: number;
  statusLine: string;
  headers: Array<[string, string]>;
  body: string;
  trailers: Array<[string, string]>;
}

function comparable(r: ParsedResponse): Parsed {
  const headers = r.fields.map(([k, v]): [string, string] => [k, k.toLowerCase() === "date" ? "<date>" : v]);
  return { status: r.status, statusLine: r.statusLine, headers, body: r.body, trailers: r.trailers };
}

function header(r: Parsed, name: string): string | undefined {
  return r.headers.find(([k]) => k.toLowerCase() === name)?.[1];
}

/** Sends `pieces` on a new connection, collects everything until the server closes or `ms` passes. */
async function exchange(port: number, pieces: Array<string | Buffer>, ms = 3000, gapMs = 0): Promise<{ text: string; closed: boolean }> {
  const r = await raw(port, pieces, { timeoutMs: ms, gapMs });
  return { text: r.text, closed: r.closed };
}

// ─── the differential test ──────────────────────────────────────────────────────────────────────────────────

/** The Express app both servers run: routing, bodies, cookies, redirects, errors, streaming, ETags, trailers. */
function diffExpressApp(): express.Express {
  const app = express();
  // The default error handler prints the stack in development; the stack is the same under both servers, but
  // production mode keeps the comparison about HTTP, not about call frames.
  app.set("env", "production");
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.use(express.text());
  app.get("/", (_req, res) => {
    res.send("hello from express");
  });
  app.get("/users/:id", (req, res) => {
    res.json({ id: req.params.id, query: req.query, ip: req.socket.remoteAddress, host: req.hostname, proto: req.protocol, version: req.httpVersion });
  });
  app.post("/echo", (req, res) => {
    res.status(201).json({ body: req.body as unknown, type: req.headers["content-type"] ?? null, length: req.headers["content-length"] ?? null, te: req.headers["transfer-encoding"] ?? null });
  });
  app.post("/raw", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.json({ bytes: body.length, text: body.toString("latin1"), te: req.headers["transfer-encoding"] ?? null, trailers: req.trailers });
    });
  });
  app.all("/thing", (req, res) => {
    res.set("x-method", req.method).json({ method: req.method });
  });
  app.get("/cookie", (_req, res) => {
    res.cookie("session", "abc123", { httpOnly: true, path: "/", sameSite: "lax" });
    res.cookie("prefs", "two words; and more", { expires: new Date(Date.UTC(2030, 0, 1)) });
    res.clearCookie("old");
    res.send("cookies set");
  });
  app.get("/whoami", (req, res) => {
    res.json({ cookie: req.headers.cookie ?? null });
  });
  app.get("/redirect", (_req, res) => {
    res.redirect("/users/7");
  });
  app.get("/moved", (_req, res) => {
    res.redirect(301, "https://example.com/elsewhere?x=1");
  });
  app.get("/error", () => {
    throw new Error("boom");
  });
  app.get("/teapot", (_req, _res, next) => {
    next(Object.assign(new Error("short and stout"), { status: 418, expose: true }));
  });
  app.get("/stream", async (_req, res) => {
    res.type("text/plain");
    for (let i = 1; i <= 3; i++) {
      res.write(`tick ${i}\n`);
      await sleep(5);
    }
    res.end();
  });
  app.get("/nothing", (_req, res) => {
    res.sendStatus(204);
  });
  app.get("/flush", (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-flushed": "yes" });
    res.flushHeaders();
    setTimeout(() => res.end("after flush"), 20);
  });
  app.get("/trailers", (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
    res.write("body with a trailer");
    res.addTrailers({ "x-checksum": "42" });
    res.end();
  });
  app.get("/big", (_req, res) => {
    res.type("text/plain").send("0123456789abcdef".repeat(8192));
  });
  app.get("/bye", (_req, res) => {
    res.set("connection", "close").send("bye");
  });
  return app;
}

/** A plain listener both servers run. */
function diffListener(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("latin1");
    if (req.url === "/raw-headers") {
      res.writeHead(202, "Accepted Here", ["X-Multi", "a", "X-Multi", "b", "Content-Type", "text/plain"]);
      res.end("raw headers");
      return;
    }
    if (req.url === "/no-length") {
      res.statusCode = 200;
      res.setHeader("content-type", "application/octet-stream");
      res.write("part one, ");
      res.end("part two");
      return;
    }
    res.setHeader("content-type", "application/json");
    res.setHeader("set-cookie", ["a=1; Path=/", "b=2; HttpOnly"]);
    res.end(JSON.stringify({ method: req.method, url: req.url, version: req.httpVersion, body, trailers: req.trailers, rawTrailers: req.rawTrailers, remote: req.socket.remoteAddress, headers: req.rawHeaders }));
  });
}

interface Step {
  name: string;
  send: string[];
  head?: boolean;
  /** What plain node:http is expected to answer, so a step that went wrong on both sides fails too. */
  status: number;
}

const H = "Host: diff.test\r\n";

const expressSteps: Step[] = [
  { name: "GET /", send: [`GET / HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "GET with a query", send: [`GET /users/7?x=1&y=two HTTP/1.1\r\n${H}User-Agent: diff\r\n\r\n`], status: 200 },
  { name: "HEAD /", send: [`HEAD / HTTP/1.1\r\n${H}\r\n`], head: true, status: 200 },
  { name: "POST JSON", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"a":[1,2],"b":"c"} `], status: 201 },
  { name: "POST a form", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nname=x&age=42&z`], status: 201 },
  { name: "POST text", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`], status: 201 },
  { name: "POST malformed JSON (400 from the body parser)", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{"broken"`], status: 400 },
  {
    name: "a chunked upload in pieces",
    send: [`POST /raw HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n`, "5\r\nhel", "lo\r\n", "6\r\n worl", "d\r\n10\r\n", "0123456789abcdef\r\n", "0\r\n\r\n"],
    status: 200,
  },
  { name: "a chunked JSON upload with a chunk extension", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"k"\r\n4\r\n:"v"\r\n1\r\n}\r\n0\r\n\r\n`], status: 201 },
  { name: "a chunked upload with trailers", send: [`POST /raw HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 3\r\nX-Other: yes\r\n\r\n`], status: 200 },
  { name: "PUT", send: [`PUT /thing HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`], status: 200 },
  { name: "PATCH", send: [`PATCH /thing HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`], status: 200 },
  { name: "DELETE", send: [`DELETE /thing HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "OPTIONS", send: [`OPTIONS /thing HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "OPTIONS on a GET route (Express's automatic Allow)", send: [`OPTIONS /users/1 HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "Set-Cookie", send: [`GET /cookie HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "a Cookie header back", send: [`GET /whoami HTTP/1.1\r\n${H}Cookie: session=abc123; prefs=x\r\n\r\n`], status: 200 },
  { name: "a 302 redirect", send: [`GET /redirect HTTP/1.1\r\n${H}Accept: text/html\r\n\r\n`], status: 302 },
  { name: "a 301 redirect elsewhere", send: [`GET /moved HTTP/1.1\r\n${H}\r\n`], status: 301 },
  { name: "a thrown error (500)", send: [`GET /error HTTP/1.1\r\n${H}\r\n`], status: 500 },
  { name: "next(err) with a status (418)", send: [`GET /teapot HTTP/1.1\r\n${H}\r\n`], status: 418 },
  { name: "no route (404)", send: [`GET /nowhere HTTP/1.1\r\n${H}\r\n`], status: 404 },
  { name: "POST to a GET route (404)", send: [`POST / HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nhi`], status: 404 },
  { name: "a streamed response", send: [`GET /stream HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "204", send: [`GET /nothing HTTP/1.1\r\n${H}\r\n`], status: 204 },
  { name: "an ETag revalidation (304)", send: [`GET / HTTP/1.1\r\n${H}If-None-Match: W/"12-AnNKuriMX4un8x3lB3atNtdhSMA"\r\n\r\n`], status: 304 },
  { name: "flushHeaders, then the body", send: [`GET /flush HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "response trailers", send: [`GET /trailers HTTP/1.1\r\n${H}TE: trailers\r\n\r\n`], status: 200 },
  { name: "a 128 KiB body", send: [`GET /big HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "HEAD of the big body", send: [`HEAD /big HTTP/1.1\r\n${H}\r\n`], head: true, status: 200 },
  { name: "an HTTP/1.0 request with keep-alive", send: [`GET /users/10 HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\n`], status: 200 },
  { name: "the app closes the connection", send: [`GET /bye HTTP/1.1\r\n${H}\r\n`], status: 200 },
];

const listenerSteps: Step[] = [
  { name: "GET", send: [`GET /a?b=c HTTP/1.1\r\n${H}X-One: 1\r\n\r\n`], status: 200 },
  { name: "HEAD", send: [`HEAD /a HTTP/1.1\r\n${H}\r\n`], head: true, status: 200 },
  { name: "POST with a length", send: [`POST /p HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\nhello world`], status: 200 },
  { name: "a chunked upload with trailers, in pieces", send: [`POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`, "2\r\nab\r\n", "3\r\ncde\r\n0\r\nX-T: 1\r\n\r\n"], status: 200 },
  { name: "raw header arrays and a custom reason", send: [`GET /raw-headers HTTP/1.1\r\n${H}\r\n`], status: 202 },
  { name: "write() then end(): chunked", send: [`GET /no-length HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "repeated request headers", send: [`GET /r HTTP/1.1\r\n${H}Accept: a\r\nAccept: b\r\nCookie: x=1\r\nCookie: y=2\r\n\r\n`], status: 200 },
  {
    name: "field names as the client spelled them, values trimmed, an empty value",
    send: [`GET /spelling HTTP/1.1\r\nhost: diff.test\r\nUSER-AGENT: x\r\nuser-agent-2: y\r\nContent-TYPE:  text/plain \t\r\nDNT: 1\r\nx-forwarded-proto: https\r\nX-Empty:\r\nConnection: keep-alive\r\n\r\n`],
    status: 200,
  },
  { name: "a head split inside a name and a value", send: [`PATCH /split HTTP/1.1\r\n${H}Accept-Enc`, "oding: gz", "ip\r\nX-Mixed-CASE: v\r\nContent-Length: 2\r\n\r\nok"], status: 200 },
  { name: "trailer names as spelled", send: [`POST /t HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer-ONE: 1\r\nx-two: 2\r\n\r\n`], status: 200 },
  { name: "OPTIONS *", send: [`OPTIONS * HTTP/1.1\r\n${H}\r\n`], status: 200 },
  { name: "HTTP/1.0 without keep-alive: the body ends with the connection", send: [`GET /no-length HTTP/1.0\r\n${H}\r\n`], status: 200 },
];

/** Runs `steps` on one keep-alive connection, one request after the other; then how the connection ended. */
async function runSteps(port: number, steps: Step[]): Promise<{ responses: Parsed[]; closedAtEnd: boolean; rest: string }> {
  const c = await Session.open(port);
  try {
    const responses: Parsed[] = [];
    for (const step of steps) {
      if (c.closed) break;
      await c.send(step.send, step.send.length > 1 ? 10 : 0);
      responses.push(comparable(await c.response({ head: step.head ?? false })));
    }
    const closedAtEnd = await c.waitClosed(300);
    return { responses, closedAtEnd, rest: c.rest() };
  } finally {
    c.destroy();
  }
}

/** The same steps, all written at once (pipelined), read back in order. */
async function runPipelined(port: number, steps: Step[]): Promise<Parsed[]> {
  const c = await Session.open(port);
  try {
    await c.send([steps.flatMap((s) => s.send).join("")]);
    const out: Parsed[] = [];
    for (const step of steps) out.push(comparable(await c.response({ head: step.head ?? false })));
    return out;
  } finally {
    c.destroy();
  }
}

function compare(steps: Step[], node: Parsed[], ours: Parsed[]): void {
  assert.equal(ours.length, node.length, "as many responses from oryx as from node:http");
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const n = node[i]!;
    assert.ok(n !== undefined, `node:http answered "${step.name}"`);
    assert.equal(n.status, step.status, `node:http's status for "${step.name}" (the step itself is wrong?): ${n.statusLine} ${n.body.slice(0, 200)}`);
    assert.ok(header(n, "date") !== undefined, `a Date header on "${step.name}"`);
    assert.deepEqual(ours[i], n, `"${step.name}": oryx's response differs from node:http's`);
  }
}

describe("differential: plain node:http and oryx give the same answers", () => {
  const last = (steps: Step[]): Step[] => steps.slice(0, -1);

  test("an Express 5 app: methods, bodies, chunked uploads, cookies, redirects, errors, HEAD, keep-alive on one connection", async () => {
    const app = diffExpressApp();
    const a = await plain(http.createServer(app));
    const b = await oryx(http.createServer(app));
    try {
      const node = await runSteps(a.port, expressSteps);
      const ours = await runSteps(b.port, expressSteps);
      compare(expressSteps, node.responses, ours.responses);
      // Sanity on the reference side: these really are the shapes the test means to compare.
      const byName = (name: string): Parsed => node.responses[expressSteps.findIndex((s) => s.name === name)]!;
      assert.equal(byName("Set-Cookie").headers.filter(([k]) => k.toLowerCase() === "set-cookie").length, 3);
      assert.equal(header(byName("a 302 redirect"), "location"), "/users/7");
      assert.equal(header(byName("a streamed response"), "transfer-encoding"), "chunked");
      assert.deepEqual(byName("response trailers").trailers, [["x-checksum", "42"]]);
      assert.deepEqual(JSON.parse(byName("a chunked upload in pieces").body), { bytes: 27, text: "hello world0123456789abcdef", te: "chunked", trailers: {} });
      assert.deepEqual((JSON.parse(byName("a chunked upload with trailers").body) as { trailers: unknown }).trailers, { "x-sum": "3", "x-other": "yes" });
      assert.equal(header(byName("HEAD of the big body"), "content-length"), String(16 * 8192));
      assert.equal(ours.closedAtEnd, node.closedAtEnd, "the connection ends the same way after Connection: close");
      assert.equal(node.closedAtEnd, true, "node:http closed after the app's Connection: close");
      assert.equal(ours.rest, node.rest, "nothing more than the responses");

      // Pipelined: the same requests (but the one that closes) written at once.
      const steps = last(expressSteps);
      compare(steps, await runPipelined(a.port, steps), await runPipelined(b.port, steps));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a plain (req, res) listener: raw header arrays, chunked both ways, trailers, repeated headers, HTTP/1.0", async () => {
    const a = await plain(http.createServer(diffListener));
    const b = await oryx(http.createServer(diffListener));
    try {
      const node = await runSteps(a.port, listenerSteps);
      const ours = await runSteps(b.port, listenerSteps);
      compare(listenerSteps, node.responses, ours.responses);
      assert.equal(node.closedAtEnd, true, "HTTP/1.0 without keep-alive closes");
      assert.equal(ours.closedAtEnd, node.closedAtEnd);
      const steps = last(listenerSteps);
      compare(steps, await runPipelined(a.port, steps), await runPipelined(b.port, steps));
    } finally {
      await a.close();
      await b.close();
    }
  });

  /** The same steps against the same app, made twice (an app object serves one server here), on both servers. */
  async function differential(make: () => Promise<http.Server>, steps: Step[], closing = 0): Promise<void> {
    const a = await plain(await make());
    const b = await oryx(await make());
    try {
      compare(steps, (await runSteps(a.port, steps)).responses, (await runSteps(b.port, steps)).responses);
      // Pipelined too, but for the last `closing` steps (after which the app closes the connection).
      const kept = steps.slice(0, steps.length - closing).filter((s) => !s.send.join("").includes("Connection: close"));
      compare(kept, await runPipelined(a.port, kept), await runPipelined(b.port, kept));
    } finally {
      await a.close();
      await b.close();
    }
  }

  test("a Koa app: routing by hand, a body read from the request stream, ctx.throw, redirect, a streamed body, 404", async () => {
    const make = async (): Promise<http.Server> => {
      const app = new Koa();
      app.silent = true;
      app.use(async (ctx, next) => {
        ctx.set("X-Timing", "yes");
        await next();
      });
      app.use(async (ctx) => {
        if (ctx.method === "GET" && ctx.path === "/") ctx.body = "Hello from Koa!";
        else if (ctx.method === "GET" && ctx.path.startsWith("/users/")) ctx.body = { id: ctx.path.slice(7), q: ctx.query, ua: ctx.get("user-agent") };
        else if (ctx.method === "POST" && ctx.path === "/echo") {
          const chunks: Buffer[] = [];
          for await (const c of ctx.req) chunks.push(c as Buffer);
          ctx.status = 201;
          ctx.body = { received: Buffer.concat(chunks).toString(), type: ctx.get("content-type"), trailers: ctx.req.trailers };
        } else if (ctx.path === "/teapot") ctx.throw(418, "short and stout");
        else if (ctx.path === "/error") throw new Error("boom");
        else if (ctx.path === "/redirect") ctx.redirect("/users/7");
        else if (ctx.path === "/stream") ctx.body = Readable.from(["tick 1\n", "tick 2\n"]);
      });
      return http.createServer(app.callback());
    };
    await differential(make, [
      { name: "GET /", send: [`GET / HTTP/1.1\r\n${H}\r\n`], status: 200 },
      { name: "JSON with a query and a header", send: [`GET /users/7?a=1&b=two HTTP/1.1\r\n${H}User-Agent: diff\r\n\r\n`], status: 200 },
      { name: "HEAD / (this app routes GET only: Koa's 404)", send: [`HEAD / HTTP/1.1\r\n${H}\r\n`], head: true, status: 404 },
      { name: "POST with a length", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`], status: 201 },
      { name: "POST chunked with trailers", send: [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`, "2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n"], status: 201 },
      { name: "ctx.throw(418)", send: [`GET /teapot HTTP/1.1\r\n${H}\r\n`], status: 418 },
      { name: "a thrown error", send: [`GET /error HTTP/1.1\r\n${H}\r\n`], status: 500 },
      { name: "a redirect", send: [`GET /redirect HTTP/1.1\r\n${H}Accept: text/html\r\n\r\n`], status: 302 },
      { name: "a streamed body", send: [`GET /stream HTTP/1.1\r\n${H}\r\n`], status: 200 },
      { name: "no route (404)", send: [`GET /nowhere HTTP/1.1\r\n${H}\r\n`], status: 404 },
      { name: "Connection: close", send: [`GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], status: 200 },
    ]);
  });

  test("a Fastify app (serverFactory): JSON routes with params, a parsed JSON body, schema errors, hooks, 404, HEAD", async () => {
    const make = async (): Promise<http.Server> => {
      let server: http.Server | undefined;
      const app = Fastify({ serverFactory: (handler) => (server = http.createServer(handler)) });
      app.addHook("onSend", async (_req, reply, payload) => {
        reply.header("x-hooked", "1");
        return payload;
      });
      app.get("/", async () => "Hello from Fastify!");
      app.get<{ Params: { id: string } }>("/users/:id", async (req) => ({ id: req.params.id, host: req.headers.host }));
      app.post("/echo", { schema: { body: { type: "object", required: ["n"], properties: { n: { type: "number" } } } } }, async (req, reply) => {
        reply.code(201);
        return { received: req.body };
      });
      app.get("/error", async () => {
        throw new Error("boom");
      });
      await app.ready();
      return server!;
    };
    await differential(make, [
      { name: "GET /", send: [`GET / HTTP/1.1\r\n${H}\r\n`], status: 200 },
      { name: "a route with a param", send: [`GET /users/42 HTTP/1.1\r\n${H}\r\n`], status: 200 },
      { name: "HEAD /", send: [`HEAD / HTTP/1.1\r\n${H}\r\n`], head: true, status: 200 },
      { name: "POST JSON", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{"n":42}`], status: 201 },
      { name: "POST JSON chunked", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"n"\r\n`, "3\r\n:7}\r\n0\r\n\r\n"], status: 201 },
      { name: "a body the schema refuses (400)", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{"n":"x"}`], status: 400 },
      { name: "a thrown error", send: [`GET /error HTTP/1.1\r\n${H}\r\n`], status: 500 },
      { name: "no route (404)", send: [`GET /nowhere HTTP/1.1\r\n${H}\r\n`], status: 404 },
      // Fastify closes the connection after a body it could not parse: last, and not pipelined.
      { name: "malformed JSON (400)", send: [`POST /echo HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 3\r\n\r\n{"n`], status: 400 },
    ], 1);
  });

  test("a Connect app: middleware that sets headers and calls next, a mount path, a body, the final handler's 404", async () => {
    const make = async (): Promise<http.Server> => {
      const app = connect();
      app.use((_req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => {
        res.setHeader("X-Chain", "one");
        next();
      });
      app.use("/api", (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ url: req.url, original: (req as http.IncomingMessage & { originalUrl?: string }).originalUrl, body: Buffer.concat(chunks).toString() }));
        });
      });
      return http.createServer(app);
    };
    await differential(make, [
      { name: "a mounted route", send: [`GET /api/things?x=1 HTTP/1.1\r\n${H}\r\n`], status: 200 },
      { name: "a body to a mounted route", send: [`POST /api/in HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`], status: 200 },
      { name: "the final handler's 404", send: [`GET /elsewhere HTTP/1.1\r\n${H}\r\n`], status: 404 },
    ]);
  });

  test("an http.Server with a ws WebSocketServer: HTTP beside it, the 101 handshake and an echoed frame", async () => {
    const make = (): http.Server => {
      const server = http.createServer((_req, res) => {
        res.setHeader("content-type", "text/plain");
        res.end("plain HTTP");
      });
      const wss = new WebSocketServer({ server });
      wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(isBinary ? data : `echo: ${String(data)}`)));
      return server;
    };
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    // A masked text frame "hi" (mask 1,2,3,4).
    const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, "h".charCodeAt(0) ^ 1, "i".charCodeAt(0) ^ 2]);
    const exchange = async (port: number): Promise<{ http: string; handshake: string; echoed: Buffer }> => {
      const plainAnswer = (await runSteps(port, [{ name: "GET", send: [`GET / HTTP/1.1\r\n${H}\r\n`], status: 200 }])).responses[0]!;
      const sock = net.connect(port, "127.0.0.1");
      let got = Buffer.alloc(0);
      sock.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
      await new Promise<void>((r) => sock.once("connect", r));
      sock.write(`GET /ws HTTP/1.1\r\n${H}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const deadline = Date.now() + 5000;
      while (got.indexOf("\r\n\r\n") < 0 && Date.now() < deadline) await sleep(5);
      const end = got.indexOf("\r\n\r\n") + 4;
      const handshake = got.subarray(0, end).toString("latin1");
      sock.write(frame);
      while (got.length < end + 2 + "echo: hi".length && Date.now() < deadline) await sleep(5);
      const echoed = got.subarray(end);
      sock.destroy();
      return { http: JSON.stringify(plainAnswer), handshake, echoed };
    };
    const a = await plain(make());
    const b = await oryx(make());
    try {
      const node = await exchange(a.port);
      const ours = await exchange(b.port);
      assert.match(node.handshake, new RegExp(`^HTTP/1\\.1 101 Switching Protocols\\r\\n[\\s\\S]*Sec-WebSocket-Accept: ${accept.replace(/[+/=]/g, "\\$&")}\\r\\n`), "node:http's handshake (the test itself is right)");
      assert.equal(ours.handshake, node.handshake, "the same 101");
      assert.deepEqual([...ours.echoed], [...node.echoed], "the same echoed frame");
      assert.equal(ours.echoed.subarray(2).toString(), "echo: hi");
      assert.equal(ours.http, node.http, "plain HTTP beside it");
    } finally {
      await a.close();
      await b.close();
    }
  });
});

// ─── oryx's limits and refusals for Node apps ───────────────────────────────────────────────────────────────

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  /** The names in req.headers (which Node limits to maxHeadersCount fields). */
  headerNames: string[];
  bytes: number;
  ended: boolean;
  trailers: NodeJS.Dict<string>;
  remoteAddress: string | undefined;
}

/** A plain listener that records each request it is handed and answers once the body has been read. */
function recorder(): { seen: Seen[]; listener: (req: http.IncomingMessage, res: http.ServerResponse) => void } {
  const seen: Seen[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s: Seen = { method: req.method ?? "", url: req.url ?? "", rawHeaders: req.rawHeaders, headerNames: Object.keys(req.headers), bytes: 0, ended: false, trailers: {}, remoteAddress: req.socket.remoteAddress };
    seen.push(s);
    req.on("data", (d: Buffer) => (s.bytes += d.length));
    req.on("error", () => {});
    req.on("end", () => {
      s.ended = true;
      s.trailers = req.trailers;
      if (res.headersSent || res.writableEnded) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ bytes: s.bytes, trailers: req.trailers, remote: req.socket.remoteAddress, fields: req.rawHeaders.length / 2 }));
    });
  };
  return { seen, listener };
}

async function recorded(overrides: Partial<Settings> = {}): Promise<Served & { seen: Seen[] }> {
  const { seen, listener } = recorder();
  const s = await oryx(http.createServer(listener), overrides);
  return Object.assign(s, { seen });
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);

describe("oryx's limits apply to Node apps", { concurrency: true }, () => {
  test("a Content-Length over --limit-request-body gets 413 before the app runs (the app is not called)", async () => {
    const s = await recorded({ limitRequestBody: 1000 });
    try {
      const r = await exchange(s.port, [`POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n`], 3000);
      assert.equal(statusOf(r.text), 413, r.text);
      assert.equal(r.closed, true, "the connection is closed after the 413");
      await sleep(50);
      assert.equal(s.seen.length, 0, `the app was called for a refused body: ${JSON.stringify(s.seen.map((x) => `${x.method} ${x.url}`))}`);
      // The server still serves.
      const ok = await exchange(s.port, [`POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`]);
      assert.equal(statusOf(ok.text), 200, ok.text);
    } finally {
      await s.close();
    }
  });

  test("a chunked body growing past --limit-request-body gets 413 or the connection cut; the app never gets more", async () => {
    const s = await recorded({ limitRequestBody: 1000 });
    try {
      const chunk = `100\r\n${"x".repeat(256)}\r\n`;
      const r = await exchange(s.port, [`POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk, chunk, chunk, chunk, chunk, chunk, "0\r\n\r\n"], 3000, 20);
      const status = statusOf(r.text);
      assert.ok(status === 413 || (status === 0 && r.closed), `413 or a cut, got: ${JSON.stringify(r.text.slice(0, 200))} closed=${r.closed}`);
      assert.equal(r.closed, true, "the connection is closed");
      assert.ok(s.seen.every((x) => x.bytes <= 1000 && !x.ended), `the app read at most the limit and never saw the end: ${JSON.stringify(s.seen.map((x) => x.bytes))}`);
    } finally {
      await s.close();
    }
  });

  test("a chunked body cut at the limit while Express's error handler waits for it: 413, no throw, the server serves on", async () => {
    // The route fails before reading the body, so Express's final handler waits for the request to end before it
    // answers; oryx's 413 comes first. Node throws ERR_HTTP_HEADERS_SENT when that handler then removes headers, from
    // a callback: uncaught, it would take a worker down (and fail this test).
    const app = express();
    app.post("/boom", () => {
      throw new Error("the route fails before reading the body");
    });
    app.get("/", (_req, res) => {
      res.send("still here");
    });
    const s = await oryx(http.createServer(app), { limitRequestBody: 1000 });
    try {
      const chunk = `100\r\n${"x".repeat(256)}\r\n`;
      const r = await exchange(s.port, [`POST /boom HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk, chunk, chunk, chunk, chunk, chunk, "0\r\n\r\n"], 3000, 20);
      assert.equal(statusOf(r.text), 413, r.text);
      assert.equal(r.closed, true, "the connection is closed after the 413");
      // Long enough for the final handler's callbacks to have run.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const ok = await exchange(s.port, [`GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`]);
      assert.equal(statusOf(ok.text), 200, ok.text);
      assert.match(ok.text, /still here$/);
    } finally {
      await s.close();
    }
  });

  test("a head larger than the header limits gets 431 and the app is not called", async () => {
    // maxHeaderSize = limitRequestLine + 4 × limitRequestFieldSize = 1024 + 4096.
    const s = await recorded({ limitRequestLine: 1024, limitRequestFieldSize: 1024 });
    try {
      const r = await exchange(s.port, [`GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(8000)}\r\n\r\n`]);
      assert.equal(statusOf(r.text), 431, r.text);
      assert.equal(r.closed, true);
      assert.equal(s.seen.length, 0);
    } finally {
      await s.close();
    }
  });

  test("more fields than --limit-request-fields: 431 and close, and the app sees nothing; exactly the limit is served", async () => {
    const s = await recorded({ limitRequestFields: 10 });
    try {
      const over = Array.from({ length: 29 }, (_, i) => `X-F-${i}: ${i}\r\n`).join("");
      const r = await exchange(s.port, [`GET / HTTP/1.1\r\nHost: t\r\n${over}\r\n`]);
      assert.equal(statusOf(r.text), 431, r.text);
      assert.equal(r.closed, true);
      assert.equal(s.seen.length, 0);
      const exact = Array.from({ length: 8 }, (_, i) => `X-F-${i}: ${i}\r\n`).join("");
      const ok = await exchange(s.port, [`GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${exact}\r\n`]);
      assert.equal(statusOf(ok.text), 200, ok.text);
      assert.equal(s.seen.length, 1);
      assert.equal(s.seen[0]!.headerNames.length, 10);
    } finally {
      await s.close();
    }
  });

  test("--header-timeout 500ms: a head that never completes gets 408 or a close within a few seconds", async () => {
    const s = await recorded({ headerTimeout: 500 });
    try {
      const started = performance.now();
      const c = await Session.open(s.port);
      try {
        await c.send(["GET / HTTP/1.1\r\nHost: t\r\n"]);
        const closed = await c.waitClosed(4000);
        const text = c.rest();
        assert.ok(closed || statusOf(text) === 408, `nothing after ${Math.round(performance.now() - started)} ms: expected 408 or a close after ~500 ms (got ${JSON.stringify(text)})`);
        if (text !== "") assert.equal(statusOf(text), 408, text);
        assert.equal(s.seen.length, 0);
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });

  test("--keep-alive-timeout closes an idle connection after a response", async () => {
    const s = await recorded({ keepAliveTimeout: 300 });
    try {
      const c = await Session.open(s.port);
      try {
        await c.send(["GET / HTTP/1.1\r\nHost: t\r\n\r\n"]);
        const r = await c.response();
        const answeredAt = performance.now();
        assert.equal(r.status, 200);
        const closed = await c.waitClosed(3000);
        assert.equal(closed, true, "the idle connection was closed");
        const idle = c.closedAt - answeredAt;
        assert.ok(idle >= 200, `not closed at once (${Math.round(idle)} ms)`);
        assert.ok(idle < 2500, `closed after about 300 ms (${Math.round(idle)} ms)`);
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });
});

describe("the refusals of the core engine hold for Node apps; the app sees no request", { concurrency: true }, () => {
  const cases: Array<{ name: string; send: string }> = [
    { name: "Content-Length and Transfer-Encoding together", send: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
    { name: "no Host on HTTP/1.1", send: "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n" },
    { name: "an obs-fold (a field line continued on the next)", send: "GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n" },
    { name: "two Content-Lengths that differ", send: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" },
    { name: "a space before the colon", send: "GET / HTTP/1.1\r\nHost: t\r\nX-Bad : 1\r\n\r\n" },
    { name: "Transfer-Encoding with chunked not last", send: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n" },
  ];
  for (const { name, send } of cases) {
    test(`${name}: 400 and close`, async () => {
      const s = await recorded();
      try {
        const r = await exchange(s.port, [send]);
        assert.equal(statusOf(r.text), 400, JSON.stringify(r.text));
        assert.equal(r.closed, true, "closed after the 400");
        assert.equal(s.seen.length, 0, "the app saw the request");
      } finally {
        await s.close();
      }
    });
  }

  test("a head with bare LF line ends is accepted, as for fetch apps (Node's parser is given it with CRLF): 200", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["GET /lf HTTP/1.1\nHost: t\nConnection: close\n\n"]);
      assert.equal(statusOf(r.text), 200, JSON.stringify(r.text));
      assert.deepEqual(s.seen.map((x) => x.url), ["/lf"]);
    } finally {
      await s.close();
    }
  });

  test("a transfer coding other than chunked (gzip, chunked): 501 and close, the app is not called", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]);
      assert.equal(statusOf(r.text), 501, JSON.stringify(r.text));
      assert.equal(r.closed, true);
      assert.equal(s.seen.length, 0);
    } finally {
      await s.close();
    }
  });

  test("a bad chunk size: 400 and close; the app may have seen the head but never a body's end", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"]);
      assert.equal(statusOf(r.text), 400, JSON.stringify(r.text));
      assert.equal(r.closed, true);
      assert.ok(s.seen.every((x) => !x.ended && x.bytes === 0), JSON.stringify(s.seen));
    } finally {
      await s.close();
    }
  });
});

describe("oryx's parser is in front of Node's, whenever the app adds its listeners", { concurrency: true }, () => {
  test("a request listener added after oryx adopted the server is behind the same rules: 413 before it runs, a chunked body cut at the limit", async () => {
    const server = http.createServer();
    const s = await oryx(server, { limitRequestBody: 1000 });
    const { seen, listener } = recorder();
    server.on("request", listener);
    try {
      const big = await exchange(s.port, [`POST /late HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n`], 3000);
      assert.equal(statusOf(big.text), 413, big.text);
      assert.equal(seen.length, 0, "the late listener was called for a refused request");
      const chunk = `100\r\n${"x".repeat(256)}\r\n`;
      const cut = await exchange(s.port, [`POST /late HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk, chunk, chunk, chunk, chunk, "0\r\n\r\n"], 3000, 20);
      assert.equal(statusOf(cut.text), 413, cut.text);
      assert.ok(seen.every((x) => x.bytes <= 1000 && !x.ended), JSON.stringify(seen));
      const ok = await exchange(s.port, [`GET /fine HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`]);
      assert.equal(statusOf(ok.text), 200, ok.text);
    } finally {
      await s.close();
    }
  });

  test("after a refusal mid-body the app's response writes nowhere and its request is aborted when the connection closes; nothing throws", async () => {
    const events: string[] = [];
    const server = http.createServer((req, res) => {
      req.on("aborted", () => events.push("aborted"));
      req.on("error", () => events.push("error"));
      res.on("close", () => {
        events.push("close");
        // Late writes of an app that did not notice: they go nowhere, and nothing is thrown.
        res.setHeader("x-late", "1");
        res.writeHead(200);
        res.end("too late");
      });
      req.resume();
    });
    const s = await oryx(server, { limitRequestBody: 100 });
    try {
      const r = await exchange(s.port, [`POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`, `80\r\n${"x".repeat(128)}\r\n`], 3000, 20);
      assert.equal(statusOf(r.text), 413, r.text);
      assert.equal((r.text.match(/HTTP\/1\.1/g) ?? []).length, 1, `one answer, oryx's: ${JSON.stringify(r.text)}`);
      assert.doesNotMatch(r.text, /too late/);
      for (let i = 0; i < 120 && !events.includes("close"); i++) await sleep(25);
      assert.ok(events.includes("aborted"), events.join(","));
    } finally {
      await s.close();
    }
  });

  test("an app's Connection: close ends the connection: a request pipelined behind it never reaches the app", async () => {
    const urls: string[] = [];
    const server = http.createServer((req, res) => {
      urls.push(req.url ?? "");
      res.setHeader("connection", "close");
      res.end("bye");
    });
    const s = await oryx(server);
    try {
      const r = await exchange(s.port, ["GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n"]);
      assert.equal((r.text.match(/HTTP\/1\.1 200/g) ?? []).length, 1, r.text);
      assert.equal(r.closed, true);
      assert.deepEqual(urls, ["/1"]);
    } finally {
      await s.close();
    }
  });

  test("a request llhttp refuses although oryx accepts it (a method Node does not know) gets oryx's 400, with Date and Content-Length", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["FROB / HTTP/1.1\r\nHost: t\r\n\r\n"]);
      assert.equal(statusOf(r.text), 400, r.text);
      assert.match(r.text, /\r\ndate: /i);
      assert.match(r.text, /\r\ncontent-length: 12\r\n/i);
      assert.match(r.text, /\r\nconnection: close\r\n/i);
      assert.equal(s.seen.length, 0);
    } finally {
      await s.close();
    }
  });
});

describe("the screen's shared read buffer: bytes kept past a read are the client's own", { concurrency: true }, () => {
  /** An app that answers with what it got: method, URL, a header and the body, after `delayMs`. */
  function echoing(delayMs: number): http.Server {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        setTimeout(() => res.end(`${req.method} ${req.url} ${req.headers["x-tag"] ?? "-"} ${Buffer.concat(chunks).toString("latin1")}|`), delayMs);
      });
    });
  }

  /** Another client's requests, in flight meanwhile: every read of them overwrites a shared buffer. */
  async function noise(port: number, n: number): Promise<void> {
    const c = await Session.open(port);
    try {
      for (let i = 0; i < n; i++) {
        await c.send([`POST /${"z".repeat(40)} HTTP/1.1\r\nHost: t\r\nX-Tag: ${"Z".repeat(40)}\r\nContent-Length: 40\r\n\r\n${"z".repeat(40)}`]);
        await c.response();
      }
    } finally {
      c.destroy();
    }
  }

  /**
   * Serves `server`, sends `pieces` on one connection with another client's requests read between each two
   * (after a pause: separate reads), and returns the body of the answer.
   */
  async function answerAmidNoise(server: http.Server, pieces: string[]): Promise<string> {
    const s = await oryx(server);
    try {
      const c = await Session.open(s.port);
      try {
        for (let i = 0; i < pieces.length; i++) {
          if (i > 0) {
            await sleep(30);
            await noise(s.port, 2);
          }
          await c.send([pieces[i]!]);
        }
        return (await c.response()).body;
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  }

  test("a head split across reads, with another client's reads between its parts, reaches the app as sent", async () => {
    const body = await answerAmidNoise(echoing(0), ["GET /first-half-of-the-", "path HTTP/1.1\r\nHost: t\r\nX-Ta", "g: mine\r\n\r\n"]);
    assert.equal(body, "GET /first-half-of-the-path mine |");
  });

  test("pipelined requests that wait for the answer before them, while other clients are read, reach the app as sent", async () => {
    const s = await oryx(echoing(40));
    try {
      const c = await Session.open(s.port);
      try {
        const req = (i: number): string => `POST /p${i} HTTP/1.1\r\nHost: t\r\nX-Tag: t${i}\r\nContent-Length: 5\r\n\r\nbody${i}`;
        await c.send([req(1) + req(2) + req(3)]);
        await noise(s.port, 4);
        const got = [await c.response(), await c.response(), await c.response()].map((r) => r.body);
        assert.deepEqual(got, ["POST /p1 t1 body1|", "POST /p2 t2 body2|", "POST /p3 t3 body3|"]);
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });

  test("pipelined requests behind one the app has not answered are read only so far: the socket is paused", async () => {
    let first: http.ServerResponse | null = null;
    let readWhileWaiting = 0;
    let served = 0;
    let servedWhileWaiting = 0;
    const server = http.createServer((req, res) => {
      served++;
      if (first === null) {
        first = res;
        setTimeout(() => {
          readWhileWaiting = req.socket.bytesRead;
          servedWhileWaiting = served;
          res.end("first");
        }, 300);
      } else res.end("next");
    });
    const s = await oryx(server);
    try {
      const c = await Session.open(s.port);
      try {
        const one = "GET /p HTTP/1.1\r\nHost: t\r\n\r\n";
        const flood = one.repeat(Math.ceil((1024 * 1024) / one.length));
        c.sock.write(one + flood);
        const r = await c.response({ ms: 5000 });
        assert.equal(r.body, "first");
        assert.ok(readWhileWaiting > 0 && readWhileWaiting < 256 * 1024, `read ${readWhileWaiting} bytes while the first request waited`);
        assert.equal(servedWhileWaiting, 1, "the app was called for a request behind one it had not answered");
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });

  test("a Content-Length body the app reads late, in reads with other clients' between them, is the client's", async () => {
    const server = http.createServer((req, res) => {
      // Read only once the whole body is in: every chunk Node gave was kept meanwhile.
      setTimeout(() => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => res.end(Buffer.concat(chunks).toString("latin1")));
      }, 150);
    });
    const body = await answerAmidNoise(server, [`POST /late HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\naaaaaaaaaa`, "bbbbbbbbbb", "cccccccccc"]);
    assert.equal(body, "aaaaaaaaaabbbbbbbbbbcccccccccc");
  });
});

describe("Node's semantics reach the app", { concurrency: true }, () => {
  test("req.socket.remoteAddress is 127.0.0.1", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"]);
      assert.equal(statusOf(r.text), 200, r.text);
      assert.equal(s.seen[0]?.remoteAddress, "127.0.0.1");
      assert.match(r.text, /"remote":"127\.0\.0\.1"/);
    } finally {
      await s.close();
    }
  });

  test("Expect: 100-continue without a checkContinue listener: 100 Continue, as Node sends it, then the answer", async () => {
    const s = await recorded();
    try {
      const c = await Session.open(s.port);
      try {
        await c.send(["POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"]);
        const cont = await c.response({ ms: 3000 });
        assert.equal(cont.statusLine, "HTTP/1.1 100 Continue");
        await c.send(["hello"]);
        const r = await c.response();
        assert.equal(r.status, 200);
        assert.equal((JSON.parse(r.body) as { bytes: number }).bytes, 5);
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });

  test("Expect: 100-continue reaches the app's checkContinue listener, which decides", async () => {
    const { seen, listener } = recorder();
    const server = http.createServer(listener);
    const asked: string[] = [];
    server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
      asked.push(req.url ?? "");
      if (req.headers["x-allow"] === "yes") {
        res.writeContinue();
        listener(req, res);
      } else {
        res.writeHead(417, { "content-type": "text/plain", connection: "close" });
        res.end("not that\n");
      }
    });
    const s = await oryx(server);
    try {
      const refused = await exchange(s.port, ["POST /no HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"]);
      assert.equal(statusOf(refused.text), 417, refused.text);
      assert.doesNotMatch(refused.text, /100 Continue/);

      const c = await Session.open(s.port);
      try {
        await c.send(["POST /yes HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nX-Allow: yes\r\n\r\n"]);
        assert.equal((await c.response({ ms: 3000 })).status, 100);
        await c.send(["hello"]);
        const r = await c.response();
        assert.equal(r.status, 200);
      } finally {
        c.destroy();
      }
      assert.deepEqual(asked, ["/no", "/yes"]);
      assert.deepEqual(seen.map((x) => x.url), ["/yes"]);
    } finally {
      await s.close();
    }
  });

  test("an upgrade: the app's 'upgrade' listener gets the socket, and the bytes after the head (also of an upgrade request with a body) reach it, not oryx's parser", async () => {
    const server = http.createServer((_req, res) => res.end("plain"));
    const heads: string[] = [];
    server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
      heads.push(`${req.method} ${req.url}`);
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
      socket.on("data", (d: Buffer) => socket.write(`echo:${d.toString("latin1")}`));
    });
    const s = await oryx(server);
    try {
      for (const [send, expect] of [
        ["GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nframe-1", "echo:frame-1"],
        ["POST /up HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\nContent-Length: 3\r\n\r\nabcNOT HTTP\r\n\r\n", "NOT HTTP"],
      ] as const) {
        const c = await Session.open(s.port);
        try {
          await c.send([send]);
          for (let i = 0; i < 80 && !c.rest().includes(expect); i++) await sleep(25);
          await c.send(["later"]);
          for (let i = 0; i < 80 && !c.rest().includes("echo:later"); i++) await sleep(25);
          const text = c.rest();
          assert.match(text, /^HTTP\/1\.1 101 /, text);
          assert.ok(text.includes(expect) && text.includes("echo:later"), JSON.stringify(text));
          assert.doesNotMatch(text, /400 Bad Request/);
        } finally {
          c.destroy();
        }
      }
      assert.deepEqual(heads, ["GET /ws", "POST /up"]);
    } finally {
      await s.close();
    }
  });

  test("trailers of a chunked upload reach req.trailers", async () => {
    const s = await recorded();
    try {
      const r = await exchange(s.port, ["POST /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nConnection: close\r\n\r\n4\r\nbody\r\n0\r\nX-Checksum: abc123\r\nX-Second: 2\r\n\r\n"]);
      assert.equal(statusOf(r.text), 200, r.text);
      assert.deepEqual(s.seen[0]?.trailers, { "x-checksum": "abc123", "x-second": "2" });
      assert.equal(s.seen[0]?.bytes, 4);
    } finally {
      await s.close();
    }
  });

  test("a chunked body of 1-byte chunks reaches req.on('data') in few buffers (issue 18), bytes in order, long chunks between them too", async () => {
    const pieces: Array<{ data: Buffer; events: number }> = [];
    const server = http.createServer((req, res) => {
      const got: Buffer[] = [];
      req.on("data", (d: Buffer) => got.push(d));
      req.on("end", () => {
        pieces.push({ data: Buffer.concat(got), events: got.length });
        res.end(JSON.stringify(req.trailers));
      });
    });
    const s = await oryx(server, { limitRequestBody: 1 << 20 });
    try {
      const body: Buffer[] = [];
      let wire = "";
      for (let i = 0; i < 30_000; i++) {
        const c = String.fromCharCode(97 + (i % 26));
        body.push(Buffer.from(c));
        wire += `1\r\n${c}\r\n`;
        if (i % 10_000 === 5_000) {
          const long = "L".repeat(5000 + i);
          body.push(Buffer.from(long));
          wire += `${long.length.toString(16)}\r\n${long}\r\n`;
        }
      }
      const r = await exchange(s.port, [`POST /d HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`, wire, "0\r\nX-T: 1\r\n\r\n"], 5000);
      assert.equal(statusOf(r.text), 200, r.text.slice(0, 200));
      assert.match(r.text, /\{"x-t":"1"\}$/);
      assert.deepEqual(pieces[0]!.data, Buffer.concat(body));
      assert.ok(pieces[0]!.events < 100, `${pieces[0]!.events} 'data' events for 30,003 chunks`);
      // The body limit still counts every byte.
      const over = await exchange(s.port, [`POST /d HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`, "1\r\nx\r\n".repeat((1 << 20) + 1), "0\r\n\r\n"], 5000);
      assert.equal(statusOf(over.text), 413, over.text.slice(0, 200));
      assert.equal(pieces.length, 1, "the app never saw the end of the body over the limit");
    } finally {
      await s.close();
    }
  });
});
