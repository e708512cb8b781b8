/**
 * Topics across workers: with -w 2, a publish reaches subscribers in the other worker too (the master relays
 * WebSocket publishes between workers; see src/ws/topics.ts), from a socket's publish and from server.publish in
 * an HTTP request alike. The Bun-shaped chat app (test/fixtures/ws/bun-chat.ts) says which process serves a
 * socket when sent "pid".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startCli } from "../support/cli.ts";
import { connectWs, type WsClient } from "../support/ws.ts";

/** Reads `c`'s messages until one satisfies `pred` (others, such as "X joined" from anyone, are skipped). */
async function until(c: WsClient, pred: (m: string) => boolean): Promise<string> {
  for (;;) {
    const m = String(await c.next());
    if (pred(m)) return m;
  }
}

test("with -w 2, publish reaches the topic's subscribers in both workers", { timeout: 60_000 }, async () => {
  const cli = await startCli(["test/fixtures/ws/bun-chat.ts", "-w", "2", "-b", "127.0.0.1:0"]);
  const clients: WsClient[] = [];
  try {
    let a: { c: WsClient; name: string; pid: string } | undefined;
    let b: { c: WsClient; name: string; pid: string } | undefined;
    for (let i = 0; i < 60 && b === undefined; i++) {
      const name = `c${i}`;
      const c = await connectWs(`ws://127.0.0.1:${cli.port}/chat?name=${name}`);
      clients.push(c);
      c.ws.send("pid");
      const pid = await until(c, (m) => m.startsWith("pid "));
      if (a === undefined) a = { c, name, pid };
      else if (pid !== a.pid) b = { c, name, pid };
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(a !== undefined && b !== undefined, `two of ${clients.length} connections were served by different workers`);

    a.c.ws.send("hello from the first worker");
    assert.equal(await until(b.c, (m) => m.includes("hello from")), `${a.name}: hello from the first worker`);
    b.c.ws.send("and back");
    assert.equal(await until(a.c, (m) => m.includes("and back")), `${b.name}: and back`);

    // server.publish in an HTTP request, on whichever worker serves it: both sockets get it.
    const res = await fetch(`http://127.0.0.1:${cli.port}/announce?text=all`);
    assert.equal(res.status, 200);
    assert.equal(await until(a.c, (m) => m.startsWith("announce")), "announce: all");
    assert.equal(await until(b.c, (m) => m.startsWith("announce")), "announce: all");
  } finally {
    for (const c of clients) c.ws.terminate();
    cli.kill();
    await cli.exited;
  }
});
