// The Node.js internals oryx relies on (src/node-internals.ts): each works on this Node, and the start-up check
// names the one that is missing when it is taken away (so a Node.js release that drops one stops oryx clearly).
import assert from "node:assert/strict";
import net from "node:net";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { NodeInternalsError } from "../src/errors.ts";
import { checkNodeInternals, createServerHandle, latin1Slice, socketQueuedBytes, socketSentMark, tlsUnderlyingSocket } from "../src/node-internals.ts";

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
});
