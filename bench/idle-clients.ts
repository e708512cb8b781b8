/**
 * The idle-connection opener, a child of the suite (started with a raised `ulimit -n`, pinned to CPU 1):
 *
 *   node --import tsx bench/idle-clients.ts PORT COUNT [BUDGET_MS]
 *
 * Opens COUNT keep-alive connections to 127.0.0.1:PORT, a few hundred at a time; on each sends one GET / and
 * reads its response, so every connection is a served keep-alive connection waiting for its next request.
 * Opening stops after BUDGET_MS (default: no budget; each connection still has 10 s): a connection not served
 * by then is closed and counted as failed, and no new one is started (the suite measures within the servers'
 * default keep-alive timeout, so a connection served later than that would not be an idle one anyway).
 * Then prints one JSON line {"event":"ready","open":N,"failed":F,"attempted":A,"ms":T} and holds them. A line
 * "count" on stdin prints {"event":"count","open":N} (connections the server has not closed); the end of stdin
 * closes everything and exits. It exits by itself after 15 minutes.
 */
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const budgetMs = process.argv[4] !== undefined ? Number(process.argv[4]) : Infinity;
const CONCURRENCY = 256;
const CONNECT_TIMEOUT_MS = 10_000;
const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

if (!(port > 0) || !(count > 0) || !(budgetMs > 0)) {
  process.stderr.write("usage: idle-clients.ts PORT COUNT [BUDGET_MS]\n");
  process.exit(2);
}

const sockets = new Set<Socket>();
let failed = 0;
let firstError: string | null = null;
/** When opening must stop (performance.now() clock). */
let deadline = Infinity;

/** One connection: connect, one request, its whole response; resolves true if it is then held open. */
function openOne(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let got = "";
    let settled = false;
    const done = (ok: boolean, why?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      } else {
        firstError ??= why ?? "closed";
        s.destroy();
      }
      resolve(ok);
    };
    const left = deadline - performance.now();
    const timer = setTimeout(() => done(false, left < CONNECT_TIMEOUT_MS ? `not served within the ${budgetMs} ms opening budget` : "timed out"), Math.max(1, Math.min(CONNECT_TIMEOUT_MS, left)));
    s.on("error", (err) => done(false, err.message));
    s.on("close", () => done(false, "closed by the server before the response"));
    s.on("connect", () => s.write(REQUEST));
    s.on("data", (chunk: Buffer) => {
      if (settled) return;
      got += chunk.toString("latin1");
      // The hello body ends the response (chunked or not, the final chunk's few bytes may follow; harmless).
      if (got.includes("\r\n\r\n") && got.includes("Hello, World!")) done(true);
    });
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  deadline = started + budgetMs;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      next++;
      if (!(await openOne())) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lane));
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify({ event: "ready", open: sockets.size, failed, attempted: next, firstError, ms })}\n`);

  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (line.trim() === "count") process.stdout.write(`${JSON.stringify({ event: "count", open: sockets.size })}\n`);
  });
  rl.on("close", () => finish(0));
  setTimeout(() => finish(0), 15 * 60_000).unref();
}

function finish(code: number): void {
  for (const s of sockets) s.destroy();
  process.exit(code);
}

main().catch((err: unknown) => {
  process.stderr.write(`idle-clients: ${(err as Error).stack ?? String(err)}\n`);
  finish(1);
});
