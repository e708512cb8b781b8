/**
 * The engine reads its connections into one buffer shared by the whole process (src/gateway/read-buffer.ts):
 * whatever outlives a read must be a copy, or one client's bytes would turn up in another's request. These tests
 * keep a request's bytes waiting (a body the app reads after an await, a body gathered across reads, pipelined
 * requests behind a slow answer) while other connections' reads overwrite the shared buffer, and check that every
 * byte comes back as sent. Also: a client that pipelines and then half-closes gets every answer, in order (its end
 * waits behind the requests it sent before it), through the CLI with -w 2 as well; and one that half-closes while a
 * large answer is still queued gets all of it. And a WebSocket's messages, whose
 * reads stay in the shared buffer: what the WebSocket keeps it copies.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { raw } from "../support/client.ts";
import { ensureBuilt, startCli, type CliProcess } from "../support/cli.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { sleep } from "../support/wait.ts";
import { frame, handshake } from "../support/ws.ts";
import { serve, type OryxServer } from "../../src/serve.ts";
import { selfSigned } from "../support/certs.ts";

/** `n` bytes of a pattern that differs per `seed`, so a byte from the wrong request shows. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 33 + ((i * 7 + seed * 13) % 90);
  return b;
}

const post = (target: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"), body]);

/** Requests from another client, each with an 8 KiB header of its own letter: they fill the shared buffer. */
async function overwrite(port: number, rounds = 6): Promise<void> {
  const fill = "Z".repeat(8000);
  for (let i = 0; i < rounds; i++) {
    const r = await raw(port, `GET /noise HTTP/1.1\r\nHost: t\r\nX-Fill: ${fill}\r\n\r\n`, { responses: 1, timeoutMs: 3000 });
    assert.equal(r.responses, 1, "the other client's request was answered");
  }
}

/** An app that echoes bodies, some only once `gate` opens; `seen` counts requests that reached it. */
function echoApp(gate: Promise<void>, arrived: () => void) {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === "/late") {
      arrived();
      await gate; // the body waits, kept aside, while other clients' reads come in
      return new Response(await request.arrayBuffer());
    }
    if (url.pathname === "/now") return new Response(await request.arrayBuffer());
    if (url.pathname === "/big") return new Response(new Uint8Array(Number(url.searchParams.get("size"))));
    if (url.pathname === "/slow") await sleep(60);
    return new Response(`ok ${url.pathname}`);
  };
}

describe("reads into the shared buffer", { timeout: 30_000 }, () => {
  let s: TestServer;
  let open!: () => void;
  let arrived!: () => void;
  let reached!: Promise<void>;

  before(async () => {
    const gate = new Promise<void>((r) => (open = r));
    reached = new Promise<void>((r) => (arrived = r));
    s = await startServer(echoApp(gate, () => arrived()));
  });
  after(() => s.close());

  test("a body the app reads only after an await is intact after other clients' reads", async () => {
    const body = pattern(3000, 1);
    const answer = raw(s.port, [post("/late", body)], { responses: 1, timeoutMs: 5000 });
    await reached;
    await overwrite(s.port);
    open();
    const r = await answer;
    assert.equal(r.responses, 1);
    const [res] = parseResponses(r.text);
    assert.equal(res!.status, 200);
    assert.equal(res!.body, body.toString("latin1"), "the body came back with another client's bytes in it");
  });

  test("a body gathered across reads keeps its first part while other clients' reads come between", async () => {
    const body = pattern(6000, 2);
    const whole = post("/now", body);
    const cut = whole.length - 2500;
    // The first part (head and the start of the body) is one read, handed to the app's arrayBuffer() at once;
    // the other client's requests are read before the rest arrives.
    const answer = raw(s.port, [whole.subarray(0, cut), whole.subarray(cut)], { responses: 1, gapMs: 400, timeoutMs: 5000 });
    await sleep(100);
    await overwrite(s.port, 3);
    const r = await answer;
    assert.equal(r.responses, 1);
    const [res] = parseResponses(r.text);
    assert.equal(res!.body, body.toString("latin1"), "the body came back with another client's bytes in it");
  });

  test("pipelined requests behind a slow answer, then the client's end: every one answered, in order", async () => {
    for (const paths of [["/slow", "/b", "/c"], ["/a", "/b", "/slow"], ["/slow", "/slow"], ["/a", "/slow", "/b", "/c"]]) {
      const bytes = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`).join("");
      const r = await raw(s.port, [bytes], { end: true, timeoutMs: 3000 });
      assert.equal(r.closed, true, "the server closed after the last answer");
      const got = parseResponses(r.text).map((x) => x.body);
      assert.deepEqual(got, paths.map((p) => `ok ${p}`), `answers to ${paths.join(" ")} then FIN`);
    }
  });

  test("an answer made asynchronously is written before the close when the client's end follows a partial head", async () => {
    // The partial head waits behind /slow; the end waits behind it. When /slow's answer is made (collected for the
    // end of the turn), the partial head is parsed and the end acted on: the answer must leave before the close.
    const r = await raw(s.port, ["GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /cut HTT"], { end: true, timeoutMs: 3000 });
    assert.equal(r.closed, true, "the server closed");
    assert.deepEqual(parseResponses(r.text).map((x) => x.body), ["ok /slow"]);
  });

  test("a client that half-closes while a large answer is still queued, then reads, gets all of it", async () => {
    // The answer is made and handed to the socket at once; the client reads nothing until it has sent its FIN, so
    // most of it is still queued in the server when the end arrives (the connection is idle by then).
    const size = 8 * 1024 * 1024;
    const sock = net.connect(s.port, "127.0.0.1");
    try {
      await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
      sock.pause();
      sock.write(`GET /big?size=${size} HTTP/1.1\r\nHost: t\r\n\r\n`);
      await sleep(300);
      sock.end();
      let got = 0;
      const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
      sock.on("data", (d: Buffer) => (got += d.length));
      sock.on("error", () => {});
      sock.resume();
      await closed;
      assert.ok(got > size, `the client got ${got} bytes of an answer whose body alone is ${size}`);
    } finally {
      sock.destroy();
    }
  });

  test("pipelined requests whose bodies wait behind a slow answer come back as sent", async () => {
    const bodies = [pattern(1500, 3), pattern(2500, 4), pattern(700, 5)];
    const bytes = Buffer.concat([Buffer.from("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n", "latin1"), ...bodies.map((b) => post("/now", b))]);
    const answer = raw(s.port, [bytes], { responses: 4, timeoutMs: 5000 });
    await overwrite(s.port, 3);
    const r = await answer;
    const got = parseResponses(r.text).map((x) => x.body);
    assert.deepEqual(got, ["ok /slow", ...bodies.map((b) => b.toString("latin1"))]);
  });
});

describe("over TLS (read through 'data' events, not the shared buffer)", { timeout: 30_000 }, () => {
  let server: OryxServer;
  before(async () => {
    const pem = selfSigned(mkdtempSync(path.join(os.tmpdir(), "oryx-shared-reads-tls-")), "server");
    server = serve({ port: 0, onListen: false, tls: { cert: pem.cert, key: pem.key }, fetch: echoApp(Promise.resolve(), () => {}) });
    await server.ready();
  });
  after(() => server.close(1000));

  test("pipelined requests behind a slow answer, then the client's end: every one answered, in order", async () => {
    const paths = ["/slow", "/b", "/c"];
    const text = await new Promise<string>((resolve, reject) => {
      let got = "";
      const s = tls.connect({ port: server.port, host: "127.0.0.1", rejectUnauthorized: false }, () => {
        s.end(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`).join(""));
      });
      const timer = setTimeout(() => reject(new Error(`no close in time; got ${got}`)), 5000);
      s.on("data", (d: Buffer) => (got += d.toString("latin1")));
      s.on("error", () => {});
      s.on("close", () => {
        clearTimeout(timer);
        resolve(got);
      });
    });
    assert.deepEqual(parseResponses(text).map((x) => x.body), paths.map((p) => `ok ${p}`));
  });
});

/** Reads from `sock` until `n` bytes after the 101's head have come; resolves with them. */
function afterHead(sock: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length} bytes: ${got.toString("latin1").slice(0, 200)}`)), 5000);
    sock.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf("\r\n\r\n");
      if (end >= 0 && got.length - end - 4 >= n) {
        clearTimeout(timer);
        resolve(got.subarray(end + 4));
      }
    });
  });
}

describe("a WebSocket on shared reads", { timeout: 30_000 }, () => {
  let server: OryxServer;
  before(async () => {
    server = serve({
      port: 0,
      onListen: false,
      fetch: (request, info) => (info.upgrade?.(request) === true ? undefined : new Response("plain")) as Response,
      websocket: { message: (ws, message) => void ws.send(message) },
    });
    await server.ready();
  });
  after(() => server.close(1000));

  test("a message split across reads, other clients' reads between its parts, is echoed as sent", async () => {
    const msg = pattern(5000, 21);
    const bytes = frame(2, msg);
    const sock = net.connect(server.port, "127.0.0.1");
    try {
      const echo = afterHead(sock, 4 + msg.length);
      sock.write(handshake("/echo"));
      await sleep(50);
      sock.write(bytes.subarray(0, 1000));
      await overwrite(server.port, 2);
      sock.write(bytes.subarray(1000, 3000));
      await overwrite(server.port, 2);
      sock.write(bytes.subarray(3000));
      const got = await echo;
      assert.deepEqual([got[0], got[1], got.readUInt16BE(2)], [0x82, 126, msg.length], "one binary frame of the message's length");
      assert.ok(got.subarray(4, 4 + msg.length).equals(msg), "the echoed message differs from the one sent");
    } finally {
      sock.destroy();
    }
  });

  test("a message in the same read as the handshake is echoed as sent", async () => {
    const msg = pattern(300, 22);
    const sock = net.connect(server.port, "127.0.0.1");
    try {
      const echo = afterHead(sock, 4 + msg.length);
      sock.write(Buffer.concat([Buffer.from(handshake("/echo"), "latin1"), frame(2, msg)]));
      const got = await echo;
      assert.ok(got.subarray(4, 4 + msg.length).equals(msg), "the echoed message differs from the one sent");
    } finally {
      sock.destroy();
    }
  });
});

describe("through the CLI with -w 2", { timeout: 60_000 }, () => {
  let cli: CliProcess;
  before(async () => {
    ensureBuilt();
    const dir = mkdtempSync(path.join(os.tmpdir(), "oryx-shared-reads-"));
    const app = path.join(dir, "app.ts");
    writeFileSync(
      app,
      `export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/slow") await new Promise((r) => setTimeout(r, 40));
    if (request.method === "POST") {
      await new Promise((r) => setTimeout(r, 5));
      return new Response(await request.arrayBuffer(), { headers: { "content-type": "application/octet-stream" } });
    }
    return new Response("ok " + url.pathname, { headers: { "content-type": "text/plain" } });
  },
};
`,
    );
    cli = await startCli([app, "-w", "2", "-b", "127.0.0.1:0"]);
  });
  after(async () => {
    cli.kill("SIGTERM");
    await cli.exited;
  });

  test("many clients' bodies, each sent in parts, all come back as sent", async () => {
    const clients = Array.from({ length: 24 }, (_, i) => {
      const body = pattern(2000 + i * 300, 10 + i);
      const whole = post("/echo", body);
      const parts = [whole.subarray(0, 90), whole.subarray(90, 1200), whole.subarray(1200)];
      return raw(cli.port, parts, { responses: 1, gapMs: 15, timeoutMs: 10_000 }).then((r) => ({ r, body }));
    });
    for (const { r, body } of await Promise.all(clients)) {
      assert.equal(r.responses, 1);
      assert.equal(parseResponses(r.text)[0]!.body, body.toString("latin1"));
    }
  });

  test("pipelined requests then FIN: every answer, in order", async () => {
    const paths = ["/slow", "/b", "/c", "/slow", "/e"];
    const r = await raw(cli.port, [paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`).join("")], { end: true, timeoutMs: 5000 });
    assert.equal(r.closed, true);
    assert.deepEqual(parseResponses(r.text).map((x) => x.body), paths.map((p) => `ok ${p}`));
  });
});
