// The Node.js internals oryx relies on (src/node-internals.ts): each works on this Node, and the start-up check
// names the one that is missing when it is taken away (so a Node.js release that drops one stops oryx clearly).
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { NodeInternalsError } from "../src/errors.ts";
import { checkNodeInternals, createServerHandle, latin1Slice, nodeRequestCalls, type NodeHttpParser, readSocketInto, setSocketReader, socketQueuedBytes, socketSentMark, tlsUnderlyingSocket } from "../src/node-internals.ts";

describe("Node internals", () => {
  it("are all present on this Node.js", () => {
    checkNodeInternals("engine");
    checkNodeInternals("master");
  });

  it("latin1Slice reads one char per byte, obs-text included, from any Uint8Array", () => {
    const bytes = new Uint8Array([0x47, 0x45, 0x54, 0x20, 0xe9, 0xff]);
    assert.equal(latin1Slice(bytes, 0, 3), "GET");
    assert.equal(latin1Slice(bytes, 4, 6), "\u00e9\u00ff");
  });

  it("a socket's sent mark grows by what the kernel took; its queue is empty once flushed", async () => {
    const server = net.createServer((c) => c.resume());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    await new Promise<void>((r) => client.once("connect", r));
    const before = socketSentMark(client);
    await new Promise<void>((r) => client.write(Buffer.alloc(1000), () => r()));
    assert.equal(socketSentMark(client) - before, 1000);
    assert.equal(socketQueuedBytes(client), 0);
    assert.equal(tlsUnderlyingSocket(client), undefined); // a plain socket wraps none
    client.destroy();
    server.close();
  });

  it("readSocketInto reads an accepted socket into the given buffer, with no 'data' event; pause() stops it, and end comes as ever", async () => {
    const buf = Buffer.alloc(64);
    const got: string[] = [];
    const events: string[] = [];
    let accepted!: net.Socket;
    const switched = new Promise<boolean>((resolve) => {
      const server = net.createServer((c) => {
        accepted = c;
        c.on("data", () => events.push("data"));
        c.on("end", () => {
          events.push("end");
          c.end();
          server.close();
        });
        resolve(readSocketInto(c, buf, (n) => got.push(buf.toString("latin1", 0, n))));
      });
      server.listen(0, "127.0.0.1", () => {
        const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
        client.once("connect", async () => {
          await switched;
          client.write("one");
          for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
          accepted.pause();
          client.write("two");
          await new Promise((r) => setTimeout(r, 50));
          events.push(`paused: ${got.join("|")}`);
          setSocketReader(accepted, (n) => got.push(`again ${buf.toString("latin1", 0, n)}`));
          accepted.resume();
          client.end();
        });
      });
    });
    assert.equal(await switched, true);
    for (let i = 0; i < 200 && !events.includes("end"); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(events, ["paused: one", "end"]);
    assert.deepEqual(got, ["one", "again two"]);
  });

  it("readSocketInto leaves a socket with no handle as it is", () => {
    assert.equal(readSocketInto(new net.Socket(), Buffer.alloc(8), () => {}), false);
  });

  it("createServerHandle binds a listening handle as the master does", () => {
    const h = createServerHandle()("127.0.0.1", 0, 4);
    assert.notEqual(typeof h, "number");
    (h as { close(): void }).close();
  });

  for (const [what, breakIt, user] of [
    ["Buffer#latin1Slice", "delete Buffer.prototype.latin1Slice", "engine"],
    ["net._createServerHandle", "delete require('node:net')._createServerHandle", "master"],
    ["net.Socket's _bytesDispatched and _parent", "const net = require('node:net'); const Real = net.Socket; net.Socket = function () { const s = new Real(); delete s._parent; return s; }", "engine"],
  ] as const) {
    it(`names ${what} when this Node has none`, () => {
      const script = `${breakIt}; import("${new URL("../src/node-internals.ts", import.meta.url).href}").then((m) => { try { m.checkNodeInternals("${user}"); console.log("passed"); } catch (e) { console.log(e.name, e.code, e.message); } });`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8", timeout: 20_000 });
      assert.match(r.stdout, new RegExp(`^NodeInternalsError ORYX_ERR_NODE_INTERNALS this Node\\.js \\(v[\\d.]+\\) has no ${what.replace(/[.#]/g, "\\$&")},`), r.stdout + r.stderr);
    });
  }

  it("a NodeInternalsError is an OryxError with its code", () => {
    const e = new NodeInternalsError("x");
    assert.equal(e.code, "ORYX_ERR_NODE_INTERNALS");
  });

  it("nodeRequestCalls: Node's parser callbacks, told of a request, give the app the request Node would have built", async () => {
    const seen: Array<{ method?: string; url?: string; version: string; raw: string[]; headers: http.IncomingHttpHeaders; body: string; trailers: string[] }> = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, version: req.httpVersion, raw: req.rawHeaders, headers: req.headers, body: Buffer.concat(chunks).toString(), trailers: req.rawTrailers });
        res.end("ok");
      });
    });
    const listener = net.createServer((socket) => server.emit("connection", socket));
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const client = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
    const [socket] = (await new Promise((r) => listener.once("connection", (s: net.Socket) => r([s])))) as [net.Socket];
    try {
      const parser = (socket as unknown as { parser: NodeHttpParser }).parser;
      const calls = nodeRequestCalls(parser);
      assert.ok(calls !== null, "this Node's parser is as expected");
      assert.equal(nodeRequestCalls(parser), calls, "learnt once per process");
      assert.equal(calls.method("CONNECT"), undefined, "CONNECT is never told (Node hands it to the app with the socket)");
      assert.equal(calls.method("BREW"), undefined);
      const numbers = http.METHODS.filter((m) => m !== "CONNECT").map((m) => calls.method(m));
      assert.ok(numbers.every((n) => typeof n === "number"), "every other method llhttp knows has its number");
      assert.equal(new Set(numbers).size, numbers.length, "and the numbers differ");

      const got = new Promise<void>((r) => client.once("data", () => r()));
      calls.headersComplete(parser, 1, ["Host", "a.test", "x-Mixed", " kept "], calls.method("PATCH")!, "/p?q=1", true);
      calls.body(parser, Buffer.from("hello "));
      calls.body(parser, Buffer.from("world"));
      calls.messageComplete(parser, ["X-Sum", "2"]);
      await got;
      assert.deepEqual(seen, [{ method: "PATCH", url: "/p?q=1", version: "1.1", raw: ["Host", "a.test", "x-Mixed", " kept "], headers: { host: "a.test", "x-mixed": " kept " }, body: "hello world", trailers: ["X-Sum", "2"] }]);
    } finally {
      client.destroy();
      socket.destroy();
      listener.close();
    }
  });

  it("nodeRequestCalls: null for no parser or one not shaped like Node's", () => {
    assert.equal(nodeRequestCalls(null), null);
    class NotAParser {}
    assert.equal(nodeRequestCalls(new NotAParser() as unknown as NodeHttpParser), null);
  });
});
