/**
 * WebSocket echo throughput, and memory per idle WebSocket. Not (yet) a scenario of `npm run bench`: a script.
 *
 *   node --import tsx bench/ws/echo.ts echo [SECONDS] [CONNECTIONS]   oryx -w 1, ws on node:http, Bun.serve
 *   node --import tsx bench/ws/echo.ts idle [COUNT]                   RSS of an oryx worker before/after COUNT idle sockets
 *   node --import tsx bench/ws/echo.ts idle-http [COUNT]              the same with idle keep-alive HTTP connections (one GET each)
 *   node --import tsx bench/ws/echo.ts broadcast [SECONDS] [SUBSCRIBERS]  one publisher, each message to every subscriber
 *
 * Broadcast: SUBSCRIBERS sockets (default 1,000) subscribe; one of them sends a 64-byte message each time the
 * previous one has reached every subscriber; deliveries per second are counted across all of them.
 *
 * Echo: CONNECTIONS clients (raw sockets, in this process) each keep one 64-byte binary message in flight: send,
 * wait for the echo, send again, for SECONDS. Servers run one at a time on 127.0.0.1, one process each. On a small
 * machine the client (one Node process) limits the rate, so the server's CPU time per message (user + system,
 * from /proc, its whole process tree: oryx's master and worker) is reported too: it compares the servers' costs.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { encodeFrame } from "../../src/ws/frame-encoder.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function handshake(): string {
  return `GET / HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.destroy();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Opens a WebSocket by hand (or, `http`, a keep-alive connection after one GET); resolves once answered. */
function open(port: number, http = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.setNoDelay(true);
    let head = Buffer.alloc(0);
    s.on("error", reject);
    s.write(http ? "GET / HTTP/1.1\r\nHost: b\r\n\r\n" : handshake());
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      s.off("data", onData);
      if (!head.subarray(0, 12).toString().includes(http ? "200" : "101")) reject(new Error(`no 101: ${head.toString()}`));
      else resolve(s);
    };
    s.on("data", onData);
  });
}

async function echo(port: number, seconds: number, conns: number, pid: number): Promise<[number, number]> {
  const frame = encodeFrame(2, Buffer.alloc(64, 0x61), true, Uint8Array.of(1, 2, 3, 4));
  const SERVER_FRAME = 66; // 2-byte header + 64
  const sockets = await Promise.all(Array.from({ length: conns }, () => open(port)));
  let count = 0;
  let running = true;
  for (const s of sockets) {
    let have = 0;
    s.on("data", (d: Buffer) => {
      have += d.length;
      while (have >= SERVER_FRAME) {
        have -= SERVER_FRAME;
        count++;
        if (running) s.write(frame);
      }
    });
  }
  // Warm up 1 s, then count.
  for (const s of sockets) s.write(frame);
  await new Promise((r) => setTimeout(r, 1000));
  const start = count;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = count - start;
  const cpu = cpuSeconds(pid) - cpu0;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  for (const s of sockets) s.destroy();
  return [n / dt, (cpu / n) * 1e6];
}

function start(cmd: string, args: string[], port: number): ChildProcess {
  return spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "inherit"] });
}

async function stop(p: ChildProcess): Promise<void> {
  p.kill("SIGTERM");
  await new Promise((r) => p.once("exit", r));
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? 0 : Number(m[1]);
}

/** CPU time (user + system) of a process and its descendants, in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks = Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
  let total = ticks / 100; // USER_HZ is 100 on Linux
  for (const c of childrenOf(pid)) total += cpuSeconds(c);
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function broadcast(port: number, seconds: number, subs: number, pid: number): Promise<[number, number]> {
  const frame = encodeFrame(2, Buffer.alloc(64, 0x62), true, Uint8Array.of(1, 2, 3, 4));
  const SERVER_FRAME = 66;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < subs; i += 200) sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, subs - i) }, () => open(port)))));
  await new Promise((r) => setTimeout(r, 500));
  let delivered = 0;
  let pendingRound = subs;
  let running = true;
  const publisher = sockets[0]!;
  for (const s of sockets) {
    let have = 0;
    s.on("data", (d: Buffer) => {
      have += d.length;
      while (have >= SERVER_FRAME) {
        have -= SERVER_FRAME;
        delivered++;
        // Once every subscriber has this message, the next one goes out.
        if (--pendingRound === 0 && running) {
          pendingRound = subs;
          publisher.write(frame);
        }
      }
    });
  }
  publisher.write(frame);
  await new Promise((r) => setTimeout(r, 1000));
  const start = delivered;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = delivered - start;
  const cpu = cpuSeconds(pid) - cpu0;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  for (const s of sockets) s.destroy();
  return [n / dt, (cpu / n) * 1e6];
}

const mode = process.argv[2] ?? "echo";
const port = 19000 + Math.floor(Math.random() * 500);

/** The three servers of a WebSocket scenario: oryx and Bun.serve running the same app, `ws` on node:http beside. */
function peersFor(app: string, wsNode: string): Array<[string, () => ChildProcess]> {
  return [
    ["oryx -w 1", () => start(process.execPath, ["dist/cli.js", app, "-w", "1", "-b", `127.0.0.1:${port}`, "--log-level", "warning"], port)],
    ["ws on node:http", () => start(process.execPath, [wsNode], port)],
    ["Bun.serve", () => start(path.join(ROOT, "node_modules/.bin/bun"), ["run", app], port)],
  ];
}

/** Starts each peer in turn, measures it once it listens, prints the line `report` makes, stops it. */
async function measureEach(peers: Array<[string, () => ChildProcess]>, measure: (pid: number) => Promise<[number, number]>, report: (name: string, rate: number, cpuUs: number) => string): Promise<void> {
  for (const [name, make] of peers) {
    const p = make();
    await waitPort(port);
    await new Promise((r) => setTimeout(r, 500));
    const [rate, cpuUs] = await measure(p.pid!);
    console.log(report(name, rate, cpuUs));
    await stop(p);
  }
}

if (mode === "broadcast") {
  const seconds = Number(process.argv[3] ?? 5);
  const subs = Number(process.argv[4] ?? 1000);
  await measureEach(
    peersFor("bench/ws/broadcast-app.ts", "bench/ws/ws-node-broadcast.mjs"),
    (pid) => broadcast(port, seconds, subs, pid),
    (name, rate, cpuUs) => `${name}: ${Math.round(rate).toLocaleString("en")} deliveries/s, server CPU ${cpuUs.toFixed(2)} µs per delivery (${subs} subscribers, 64 B, ${seconds} s)`,
  );
} else if (mode === "echo") {
  const seconds = Number(process.argv[3] ?? 5);
  const conns = Number(process.argv[4] ?? 50);
  await measureEach(
    peersFor("bench/ws/echo-app.ts", "bench/ws/ws-node.mjs"),
    (pid) => echo(port, seconds, conns, pid),
    (name, rate, cpuUs) => `${name}: ${Math.round(rate).toLocaleString("en")} messages/s echoed, server CPU ${cpuUs.toFixed(2)} µs per message (${conns} connections, 64 B, ${seconds} s)`,
  );
} else {
  const count = Number(process.argv[3] ?? 10_000);
  const http = mode === "idle-http";
  // A long keep-alive timeout, so idle HTTP connections stay while measured.
  const p = start(process.execPath, ["dist/cli.js", "bench/ws/echo-app.ts", "-w", "1", "-b", `127.0.0.1:${port}`, "--log-level", "warning", "--keep-alive-timeout", "60"], port);
  await waitPort(port);
  await new Promise((r) => setTimeout(r, 1000));
  const worker = childrenOf(p.pid!)[0]!;
  // Warm the worker with a few sockets first, so the baseline includes the code paths' own memory.
  const warm = await Promise.all(Array.from({ length: 50 }, () => open(port, http)));
  for (const s of warm) s.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssKiB(worker);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += 500) sockets.push(...(await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => open(port, http)))));
  await new Promise((r) => setTimeout(r, 3000));
  const after = rssKiB(worker);
  const what = http ? "idle keep-alive HTTP connections" : "idle WebSockets";
  console.log(`oryx worker RSS: ${before} KiB before, ${after} KiB with ${count} ${what}: ${((after - before) / count).toFixed(2)} KiB each`);
  for (const s of sockets) s.destroy();
  await stop(p);
}
