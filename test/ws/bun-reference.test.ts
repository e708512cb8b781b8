/**
 * Bun as the reference: the same app run by `bun run` and by oryx -w 2 (through the built CLI) gives the same
 * transcript to the same client. The Bun-shaped app (test/fixtures/ws/bun-chat.ts): messages, the 101's headers
 * the app set, subprotocol, close codes and reasons both ways, 426 for another version. The Hono app written for
 * Bun with `hono/bun` (test/fixtures/ws/hono-bun.ts): the same, through Hono's upgradeWebSocket.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ROOT, startCli } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { accepting, freePort } from "../support/wait.ts";
import { connectWs, handshake } from "../support/ws.ts";

const BUN = path.join(ROOT, "node_modules", ".bin", "bun");

async function bunChatTranscript(port: number): Promise<unknown[]> {
  const out: unknown[] = [];
  const c = await connectWs(`ws://127.0.0.1:${port}/echo?name=ref`, ["chat", "superchat"]);
  out.push(["x-hello", c.upgradeHeaders["x-hello"]], ["protocol", c.ws.protocol]);
  c.ws.send("text ☃");
  out.push(await c.next());
  c.ws.send(Buffer.from([0, 1, 2, 255]));
  out.push(await c.next());
  c.ws.send("data");
  const data = JSON.parse(String(await c.next())) as { data: unknown; ready: number; sub: boolean };
  out.push(["data", data.data, data.ready, data.sub]);
  c.ws.send("close-me");
  out.push(["closed by server", await c.closed]);
  const d = await connectWs(`ws://127.0.0.1:${port}/echo`);
  d.ws.close(4321, "client says bye");
  out.push(["closed by client", await d.closed]);
  const v8 = await raw(port, handshake("/echo").replace("Version: 13", "Version: 8"));
  out.push(["version 8", v8.text.slice(0, 12), /sec-websocket-version: 13/i.test(v8.text)]);
  return out;
}

async function honoTranscript(port: number): Promise<unknown[]> {
  const out: unknown[] = [];
  const page = await fetch(`http://127.0.0.1:${port}/`);
  out.push(["GET /", page.status, await page.text()]);
  const plain = await fetch(`http://127.0.0.1:${port}/ws`);
  out.push(["GET /ws without a handshake", plain.status]);
  const c = await connectWs(`ws://127.0.0.1:${port}/ws?name=ref`, ["chat"]);
  out.push(["protocol", c.ws.protocol], await c.next());
  c.ws.send("text ☃");
  out.push(await c.next());
  c.ws.send(Buffer.from([0, 1, 2, 255]));
  const bin = await c.next();
  out.push(["binary", Buffer.isBuffer(bin) ? [...bin] : bin]);
  c.ws.send("protocol");
  out.push(await c.next());
  c.ws.send("close-me");
  out.push(["closed by server", await c.closed]);
  const d = await connectWs(`ws://127.0.0.1:${port}/ws`);
  out.push(await d.next());
  d.ws.close(4321, "client says bye");
  out.push(["closed by client", await d.closed]);
  const v8 = await raw(port, handshake("/ws").replace("Version: 13", "Version: 8"));
  out.push(["version 8", v8.text.slice(0, 12), /sec-websocket-version: 13/i.test(v8.text)]);
  return out;
}

/** The transcript of `app` on `bun run`, then under oryx -w 2; they must be equal. */
async function sameOnBunAndOryx(app: string, transcript: (port: number) => Promise<unknown[]>): Promise<void> {
  const port = await freePort();
  const bun = spawn(BUN, ["run", app], { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
  let onBun: unknown[];
  try {
    await accepting(port, 10_000, () => bun.exitCode === null, () => `nothing listens on ${port}`);
    onBun = await transcript(port);
  } finally {
    bun.kill();
    await new Promise((r) => bun.once("exit", r));
  }
  const cli = await startCli([app, "-w", "2", "-b", "127.0.0.1:0"]);
  try {
    const onOryx = await transcript(cli.port);
    assert.deepEqual(onOryx, onBun);
  } finally {
    cli.kill();
    await cli.exited;
  }
}

const NO_BUN = existsSync(BUN) ? false : "no bun binary in node_modules/.bin";

test("the Bun-shaped app gives the same transcript on Bun and on oryx -w 2", { skip: NO_BUN }, () => sameOnBunAndOryx("test/fixtures/ws/bun-chat.ts", bunChatTranscript));

test("the Hono app written for Bun (hono/bun's upgradeWebSocket and websocket) gives the same transcript on Bun and on oryx -w 2", { skip: NO_BUN }, () =>
  sameOnBunAndOryx("test/fixtures/ws/hono-bun.ts", honoTranscript),
);
