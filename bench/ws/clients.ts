/**
 * The WebSocket scenario's load generator (bench/ws-scenario.ts runs it as a child pinned to CPU 1), and the
 * client side of bench/ws/idle-memory.ts. Raw sockets, no WebSocket library: a client's own costs stay small
 * and the same for every server.
 *
 *   node --import tsx bench/ws/clients.ts echo PORT SECONDS CONNECTIONS
 *   node --import tsx bench/ws/clients.ts broadcast PORT SECONDS SUBSCRIBERS
 *
 * Echo: CONNECTIONS sockets on /echo each keep one 64-byte binary message in flight: send, wait for the echo,
 * send again. Broadcast: SUBSCRIBERS sockets on /broadcast; one of them sends a 64-byte message each time the
 * previous one has reached every subscriber; deliveries are counted across all of them. After 1 s of warm-up
 * it prints `{"measuring":true}`, and after SECONDS more `{"messages":N,"seconds":S}` (messages received).
 */
import net from "node:net";
import { fileURLToPath } from "node:url";
import { encodeFrame } from "../../src/ws/frame-encoder.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** A server's frame for a 64-byte message: 2-byte header + 64. */
const SERVER_FRAME = 66;

/** Opens a WebSocket on `path` by hand (or, `http`, a keep-alive connection after one GET); resolves once answered. */
export function open(port: number, path: string, http = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.setNoDelay(true);
    let head = Buffer.alloc(0);
    s.on("error", reject);
    s.write(
      http
        ? `GET ${path} HTTP/1.1\r\nHost: b\r\n\r\n`
        : `GET ${path} HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`,
    );
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      s.off("data", onData);
      if (!head.subarray(0, 12).toString().includes(http ? "200" : "101")) reject(new Error(`no ${http ? 200 : 101}: ${head.toString().slice(0, 200)}`));
      else resolve(s);
    };
    s.on("data", onData);
  });
}

/** Opens `count` sockets, `batch` at a time (a burst of thousands would overflow the listen backlog). */
export async function openMany(port: number, path: string, count: number, batch: number, http = false): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += batch) sockets.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => open(port, path, http)))));
  return sockets;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a load on `sockets`: `onFrame(socket)` is called per 64-byte frame received (each counts as a message);
 * `kick` sends the first message(s). 1 s of warm-up, then SECONDS measured (the measuring line marks the start).
 */
async function measure(sockets: net.Socket[], seconds: number, onFrame: (s: net.Socket) => void, kick: () => void): Promise<void> {
  let received = 0;
  for (const s of sockets) {
    let have = 0;
    s.on("data", (d: Buffer) => {
      have += d.length;
      while (have >= SERVER_FRAME) {
        have -= SERVER_FRAME;
        received++;
        onFrame(s);
      }
    });
  }
  kick();
  await sleep(1000);
  const start = received;
  const t0 = process.hrtime.bigint();
  process.stdout.write(`${JSON.stringify({ measuring: true })}\n`);
  await sleep(seconds * 1000);
  const n = received - start;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ messages: n, seconds: dt })}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [mode, portText, secondsText, countText] = argv;
  const port = Number(portText);
  const seconds = Number(secondsText ?? 5);
  const frame = encodeFrame(2, Buffer.alloc(64, 0x61), true, Uint8Array.of(1, 2, 3, 4));
  let running = true;
  let sockets: net.Socket[];
  if (mode === "echo") {
    sockets = await openMany(port, "/echo", Number(countText ?? 50), 200);
    await measure(sockets, seconds, (s) => running && s.write(frame), () => sockets.forEach((s) => s.write(frame)));
  } else if (mode === "broadcast") {
    const subs = Number(countText ?? 1000);
    sockets = await openMany(port, "/broadcast", subs, 200);
    await sleep(500); // every subscription made before the first message
    const publisher = sockets[0]!;
    let pending = subs;
    // Once every subscriber has this message, the next one goes out.
    const onFrame = (): void => {
      if (--pending === 0 && running) {
        pending = subs;
        publisher.write(frame);
      }
    };
    await measure(sockets, seconds, onFrame, () => publisher.write(frame));
  } else {
    throw new Error(`usage: clients.ts echo|broadcast PORT SECONDS COUNT (got ${JSON.stringify(mode)})`);
  }
  running = false;
  for (const s of sockets) s.destroy();
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
