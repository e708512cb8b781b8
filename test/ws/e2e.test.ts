/**
 * WebSockets end to end, through the CLI: a Bun-shaped app served with 2 workers, real clients (`ws`, and
 * undici's WebSocket in a child Node), protocol violations on raw sockets, limits, and shutdown.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { type CliProcess, startCli } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { connectWs, frame, handshake, rawSession } from "../support/ws.ts";

const APP = "test/fixtures/ws/bun-chat.ts";

describe("a Bun-shaped app under oryx -w 2", () => {
  let cli: CliProcess;
  before(async () => {
    cli = await startCli([APP, "-w", "2", "-b", "127.0.0.1:0", "--ws-max-message", "1k"]);
  });
  after(async () => {
    cli.kill();
    await cli.exited;
  });

  test("echo: text, binary, the app's data and headers, and its close code", async () => {
    const c = await connectWs(`ws://127.0.0.1:${cli.port}/echo?name=bob`);
    assert.equal(c.upgradeHeaders["x-hello"], "bob");
    c.ws.send("hello");
    assert.equal(await c.next(), "hello");
    c.ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await c.next(), Buffer.from([1, 2, 3]));
    c.ws.send("data");
    const info = JSON.parse(String(await c.next())) as { data: unknown; remote: string; ready: number };
    assert.deepEqual(info.data, { name: "bob", path: "/echo" });
    assert.equal(info.remote, "127.0.0.1");
    assert.equal(info.ready, 1);
    c.ws.send("close-me");
    assert.deepEqual(await c.closed, { code: 4001, reason: "as asked" });
  });

  test("a handler that throws is logged; the socket and the worker carry on", async () => {
    const c = await connectWs(`ws://127.0.0.1:${cli.port}/echo`);
    c.ws.send("throw");
    c.ws.send("still here");
    assert.equal(await c.next(), "still here");
    c.ws.close(1000);
    assert.equal((await c.closed).code, 1000);
    assert.match(cli.stderr(), /WebSocket message handler failed/);
  });

  test("a client's Close is answered with its code, and the socket closes", async () => {
    const s = await rawSession(cli.port, "/echo", [frame(1, "one"), frame(8, Buffer.from([0x0f, 0xa0, 0x68, 0x69]))]);
    assert.match(s.head, /^HTTP\/1\.1 101 /);
    assert.match(s.head, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    assert.deepEqual(s.events, [["text", "one"], ["close", 4000, "hi"]]);
    assert.equal(s.closed, true);
  });

  test("pings are answered with pongs carrying the same payload", async () => {
    const s = await rawSession(cli.port, "/echo", [frame(9, "are you there"), frame(8, Buffer.from([0x03, 0xe8]))]);
    assert.deepEqual(s.events, [["pong", "are you there"], ["close", 1000, ""]]);
  });

  test("fragments, with a UTF-8 character split across them, make one message", async () => {
    const euro = Buffer.from("€");
    const s = await rawSession(cli.port, "/echo", [frame(1, Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)]), { fin: false }), frame(9, "p"), frame(0, euro.subarray(2))], { untilEvents: 2 });
    assert.deepEqual(s.events, [["pong", "p"], ["text", "a€"]]);
  });

  for (const [name, frames, code] of [
    ["an unmasked frame gets 1002", [frame(1, "hi", { masked: false })], 1002],
    ["text that is not UTF-8 gets 1007", [frame(1, Buffer.from([0xce, 0xba, 0xe1, 0xbd]))], 1007],
    ["a message over --ws-max-message gets 1009", [frame(2, Buffer.alloc(1025))], 1009],
    ["a message over the limit in fragments gets 1009", [frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(600))], 1009],
    ["a 126-byte ping gets 1002", [frame(9, Buffer.alloc(126))], 1002],
    ["a fragmented ping gets 1002", [frame(9, "x", { fin: false })], 1002],
    ["RSV1 without an extension gets 1002", [(() => { const f = frame(1, "x"); f[0]! |= 0x40; return f; })()], 1002],
    ["a close code that may not be sent gets 1002", [frame(8, Buffer.from([0x03, 0xee]))], 1002],
    ["a reserved opcode gets 1002", [frame(5, "x")], 1002],
  ] as const) {
    test(`protocol: ${name}, and the connection closes`, async () => {
      const s = await rawSession(cli.port, "/echo", [...frames]);
      assert.equal(s.events.length, 1, JSON.stringify(s.events));
      assert.equal(s.events[0]![0], "close");
      assert.equal(s.events[0]![1], code);
      assert.equal(s.closed, true);
    });
  }

  test("garbage after the handshake never takes a worker down", async () => {
    const pidsBefore = new Set<string>();
    for (let i = 0; i < 6; i++) pidsBefore.add(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text());
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
    await Promise.all(Array.from({ length: 20 }, () => rawSession(cli.port, "/echo", [junk], { timeoutMs: 2000 })));
    const pidsAfter = new Set<string>();
    for (let i = 0; i < 6; i++) pidsAfter.add(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text());
    for (const p of pidsAfter) assert.ok(pidsBefore.has(p) || pidsBefore.size < 2, `a new worker ${p} appeared: one crashed`);
    assert.doesNotMatch(cli.stderr(), /uncaught|exited with/i);
  });

  test("handshake: another version gets 426 naming 13 (as Bun answers); a bad key gets the app's answer", async () => {
    const v8 = await raw(cli.port, handshake("/echo").replace("Version: 13", "Version: 8"));
    assert.match(v8.text, /^HTTP\/1\.1 426 /);
    assert.match(v8.text, /sec-websocket-version: 13/i);
    const badKey = await raw(cli.port, handshake("/echo").replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="));
    assert.match(badKey.text, /^HTTP\/1\.1 400 /);
    assert.match(badKey.text, /expected a WebSocket handshake/);
    const noUpgradeToken = await raw(cli.port, handshake("/echo").replace("Connection: Upgrade", "Connection: keep-alive"));
    assert.match(noUpgradeToken.text, /^HTTP\/1\.1 400 /);
    const plain = await fetch(`http://127.0.0.1:${cli.port}/`);
    assert.match(await plain.text(), /^pid \d+$/);
  });

  test("a subprotocol the client asks for is chosen when the app chooses none (as Bun does)", async () => {
    const c = await connectWs(`ws://127.0.0.1:${cli.port}/echo`, ["chat", "superchat"]);
    assert.equal(c.ws.protocol, "chat");
    c.ws.close();
    await c.closed;
  });

  test("undici's WebSocket (Node's own) talks to it", async () => {
    const script = `
      const ws = new WebSocket("ws://127.0.0.1:${cli.port}/echo");
      ws.binaryType = "arraybuffer";
      const got = [];
      ws.onopen = () => { ws.send("from undici"); ws.send(new Uint8Array([9, 8, 7])); };
      ws.onmessage = (e) => { got.push(typeof e.data === "string" ? e.data : [...new Uint8Array(e.data)]); if (got.length === 2) ws.close(4002, "done"); };
      ws.onclose = (e) => { console.log(JSON.stringify({ got, code: e.code, reason: e.reason, clean: e.wasClean })); };
      ws.onerror = (e) => { console.log(JSON.stringify({ error: String(e.message ?? e) })); };
    `;
    const child = spawn(process.execPath, ["--experimental-websocket", "--no-warnings", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill(), 10_000);
    await new Promise((r) => child.on("exit", r));
    clearTimeout(timer);
    assert.deepEqual(JSON.parse(out), { got: ["from undici", [9, 8, 7]], code: 4002, reason: "done", clean: true });
  });
});

describe("one worker: topics, backpressure, idle timeout, shutdown", () => {
  // Topics reach the subscribers of one worker (see the README): one worker, so every client shares it.
  let cli: CliProcess;
  before(async () => {
    cli = await startCli([APP, "-w", "1", "-b", "127.0.0.1:0", "--ws-backpressure-limit", "1m", "--ws-idle-timeout", "1s"]);
  });
  after(async () => {
    cli.kill();
    await cli.exited;
  });

  test("chat: publish reaches the other subscribers, not the sender; server.publish reaches all", async () => {
    const a = await connectWs(`ws://127.0.0.1:${cli.port}/chat?name=a`);
    assert.equal(await a.next(), "welcome a");
    const b = await connectWs(`ws://127.0.0.1:${cli.port}/chat?name=b`);
    assert.equal(await b.next(), "welcome b");
    assert.equal(await a.next(), "b joined");
    a.ws.send("hi all");
    assert.equal(await b.next(), "a: hi all");
    const res = await fetch(`http://127.0.0.1:${cli.port}/announce?text=x`);
    assert.equal(await res.text(), "published 11");
    assert.equal(await a.next(), "announce: x");
    assert.equal(await b.next(), "announce: x");
    b.ws.close();
    await b.closed;
    assert.equal(await a.next(), "b left");
    assert.equal(a.messages.length, 0, "the sender got its own message");
    a.ws.close();
    await a.closed;
  });

  test("backpressure: a client that does not read makes send return -1, then 0 (dropped) near the limit; drain fires once it reads", async () => {
    // A raw client that reads nothing for a while: the kernel's buffers fill, then oryx's queue up to 1 MiB.
    const net = await import("node:net");
    const sock = net.connect(cli.port, "127.0.0.1");
    sock.write(handshake("/flood"));
    sock.pause();
    let stats = { sent: 0, backpressured: 0, dropped: 0, drained: 0 };
    for (let i = 0; i < 50 && stats.dropped === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stats = (await (await fetch(`http://127.0.0.1:${cli.port}/stats`)).json()) as typeof stats;
    }
    assert.equal(stats.dropped, 1);
    assert.ok(stats.backpressured > 0);
    // Queued in oryx: at most the limit (1 MiB) plus one message; the kernel holds the rest of what was "sent".
    assert.ok(stats.backpressured * 64 <= 1024 + 64, JSON.stringify(stats));
    let got = 0;
    sock.on("data", (d: Buffer) => {
      got += d.length;
      if (d.includes("drained")) sock.destroy();
    });
    sock.resume();
    await new Promise((r) => sock.on("close", r));
    stats = (await (await fetch(`http://127.0.0.1:${cli.port}/stats`)).json()) as typeof stats;
    assert.equal(stats.drained, 1);
    assert.ok(got > 0);
  });

  test("idle timeout: a quiet client is pinged; one that stays quiet is closed with 1001", async () => {
    const s = await rawSession(cli.port, "/echo", [], { timeoutMs: 5000 });
    assert.deepEqual(s.events, [["ping", ""], ["close", 1001, "idle timeout"]]);
    assert.equal(s.closed, true);
  });

  test("shutdown: an open WebSocket gets 1001 once the graceful timeout is over, and the server exits", async () => {
    const other = await startCli([APP, "-w", "1", "-b", "127.0.0.1:0", "--graceful-timeout", "1s"]);
    const c = await connectWs(`ws://127.0.0.1:${other.port}/echo`);
    c.ws.send("x");
    assert.equal(await c.next(), "x");
    other.kill("SIGTERM");
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    const exit = await other.exited;
    assert.equal(exit.code, 0);
  });
});

describe("apps without WebSocket handlers", () => {
  test("a fetch-only app gets an Upgrade request as a plain GET", async () => {
    const cli = await startCli(["test/fixtures/whoami.ts", "-w", "1", "-b", "127.0.0.1:0"]);
    try {
      const r = await raw(cli.port, handshake("/x"));
      assert.match(r.text, /^HTTP\/1\.1 200 /);
    } finally {
      cli.kill();
      await cli.exited;
    }
  });
});

describe("a Hono app upgrading through its env (Bun's server.upgrade)", () => {
  test("it upgrades after an await, and echoes", async () => {
    const cli = await startCli(["test/fixtures/ws/hono-env.ts", "-w", "2", "-b", "127.0.0.1:0"]);
    try {
      const c = await connectWs(`ws://127.0.0.1:${cli.port}/ws?name=hono`);
      assert.equal(await c.next(), "hello hono");
      c.ws.send("x");
      assert.equal(await c.next(), "echo: x");
      c.ws.send(Buffer.from([5]));
      assert.deepEqual(await c.next(), Buffer.from([5]));
      c.ws.close();
      await c.closed;
      assert.equal(await (await fetch(`http://127.0.0.1:${cli.port}/`)).text(), "hono here");
      const notWs = await fetch(`http://127.0.0.1:${cli.port}/ws`);
      assert.equal(notWs.status, 400);
    } finally {
      cli.kill();
      await cli.exited;
    }
  });
});

describe("Deno's shape: upgradeWebSocket from oryx", () => {
  test("a standard WebSocket on the server: open, messages (text and arraybuffer), close", async () => {
    const cli = await startCli(["test/fixtures/ws/deno-echo.ts", "-w", "2", "-b", "127.0.0.1:0"]);
    try {
      const c = await connectWs(`ws://127.0.0.1:${cli.port}/`);
      assert.equal(c.upgradeHeaders["x-shape"], "deno");
      assert.equal(await c.next(), "open, readyState 1");
      c.ws.send("hi");
      assert.equal(await c.next(), "echo: hi");
      c.ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await c.next(), Buffer.from([3, 2, 1]));
      c.ws.send("bye");
      assert.deepEqual(await c.closed, { code: 4100, reason: "bye to you" });
      const plain = await fetch(`http://127.0.0.1:${cli.port}/`);
      assert.equal(plain.status, 400);
      for (let i = 0; i < 50 && !/deno-echo: closed 4100/.test(cli.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(cli.stderr(), /deno-echo: closed 4100/);
    } finally {
      cli.kill();
      await cli.exited;
    }
  });
});

describe("serve() with websocket handlers, in this process", () => {
  test("upgrade through the info argument, echo, close", async () => {
    const { serve } = await import("../../src/index.ts");
    const server = serve({
      port: 0,
      onListen: false,
      fetch: (req, info) => (info.upgrade(req, { data: { n: 7 } }) ? (undefined as unknown as Response) : new Response("plain")),
      websocket: {
        message(ws, msg) {
          ws.send(`${String((ws.data as { n: number }).n)}:${String(msg)}`);
        },
      },
    });
    await server.ready();
    try {
      const c = await connectWs(`ws://127.0.0.1:${server.port}/`);
      c.ws.send("a");
      assert.equal(await c.next(), "7:a");
      c.ws.close(1000);
      assert.equal((await c.closed).code, 1000);
      assert.equal(await (await fetch(server.url)).text(), "plain");
    } finally {
      await server.close(500);
    }
  });
});

describe("permessage-deflate (the app's perMessageDeflate)", () => {
  let cli: CliProcess;
  before(async () => {
    cli = await startCli(["test/fixtures/ws/deflate.ts", "-w", "2", "-b", "127.0.0.1:0", "--ws-max-message", "1m"]);
  });
  after(async () => {
    cli.kill();
    await cli.exited;
  });

  test("negotiated with ws (which compresses what it sends over 1 KiB); messages both ways are compressed and come back whole", async () => {
    const c = await connectWs(`ws://127.0.0.1:${cli.port}/`);
    assert.match(String(c.upgradeHeaders["sec-websocket-extensions"]), /^permessage-deflate; server_no_context_takeover; client_no_context_takeover$/);
    const big = "compress me ".repeat(10_000);
    c.ws.send(big);
    assert.equal(await c.next(), big);
    c.ws.send("small");
    assert.equal(await c.next(), "small");
    const bin = Buffer.alloc(50_000, 7);
    c.ws.send(bin);
    assert.deepEqual(await c.next(), bin);
    c.ws.close();
    await c.closed;
  });

  test("the server's frames carry RSV1 and inflate to what was sent", async () => {
    const { deflateMessage } = await import("../../src/ws/deflate.ts");
    const { encodeFrame } = await import("../../src/ws/frame-encoder.ts");
    const ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    const text = "ab".repeat(500);
    const sent = encodeFrame(1, deflateMessage(Buffer.from(text)), true, Uint8Array.of(9, 9, 9, 9), true);
    const s = await rawSession(cli.port, "/", [sent], { extraHead: ext, untilEvents: 1, deflate: true });
    assert.match(s.head, /sec-websocket-extensions: permessage-deflate/i);
    assert.deepEqual(s.events, [["text", text]]);
    // Without deflate the same reader refuses the server's frame: it did come compressed (RSV1).
    const plainReader = await rawSession(cli.port, "/", [sent], { extraHead: ext, untilEvents: 1 });
    assert.match(String(plainReader.events[0]![2]), /RSV/);
  });

  test("a decompression bomb is refused with 1009 once it inflates past --ws-max-message", async () => {
    const { deflateMessage } = await import("../../src/ws/deflate.ts");
    const { encodeFrame } = await import("../../src/ws/frame-encoder.ts");
    const bomb = deflateMessage(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros: about 64 KiB compressed
    const s = await rawSession(cli.port, "/", [encodeFrame(2, bomb, true, Uint8Array.of(1, 2, 3, 4), true)], { extraHead: "Sec-WebSocket-Extensions: permessage-deflate\r\n", timeoutMs: 5000 });
    assert.deepEqual(s.events.map((e) => e.slice(0, 2)), [["close", 1009]]);
    assert.equal(s.closed, true);
  });

  test("a client that does not offer it gets plain frames", async () => {
    const s = await rawSession(cli.port, "/", [frame(1, "plain")], { untilEvents: 1 });
    assert.doesNotMatch(s.head, /sec-websocket-extensions/i);
    assert.deepEqual(s.events, [["text", "plain"]]);
  });
});
