/**
 * Fixed servers for the bench tests: a raw node:net server that cuts the request stream into request heads
 * (the bench sends no bodies in these tests) and lets the test decide, request by request, what to send back.
 * Counts are exact because nothing here is HTTP-library magic.
 */
import net from "node:net";
import type { Merged } from "../../src/bench/stats.ts";
import type { RunPlan } from "../../src/bench/run.ts";
import { requestBytes } from "../../src/bench/request.ts";

export interface Req {
  /** Request number over the whole server, from 0. */
  seq: number;
  /** Request number on its connection, from 0. */
  connSeq: number;
  head: string;
}

/** What to do with one request: bytes to write, and whether to close (end) or reset the connection after. */
export type Answer = { write?: string | Buffer; then?: "end" | "reset" | "hold" } | null;

export interface FixedServer {
  port: number;
  url: string;
  /** Requests received (heads). */
  received: number;
  connections: number;
  close(): Promise<void>;
}

export const OK = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

export function ok(body = "hello", status = 200): string {
  return `HTTP/1.1 ${status} OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Starts a server on 127.0.0.1:0; `answer` is called for every request in order of arrival on each connection. */
export function fixedServer(answer: (req: Req) => Answer): Promise<FixedServer> {
  const sockets = new Set<net.Socket>();
  const state = { received: 0, connections: 0 };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    state.connections++;
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let buf = "";
    let connSeq = 0;
    let done = false;
    sock.on("data", (d) => {
      if (done) return;
      buf += d.toString("latin1");
      let out = "";
      for (;;) {
        const i = buf.indexOf("\r\n\r\n");
        if (i < 0) break;
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        const a = answer({ seq: state.received++, connSeq: connSeq++, head });
        if (a === null) continue;
        if (a.write !== undefined) out += typeof a.write === "string" ? a.write : a.write.toString("latin1");
        if (a.then !== undefined) {
          done = true;
          if (out !== "") sock.write(Buffer.from(out, "latin1"));
          out = "";
          if (a.then === "end") sock.end();
          else if (a.then === "reset") sock.resetAndDestroy();
          break;
        }
      }
      if (out !== "") sock.write(Buffer.from(out, "latin1"));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}/`,
        get received() {
          return state.received;
        },
        get connections() {
          return state.connections;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
export function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A plan for runLoad/Runner against 127.0.0.1:port. */
export function plan(port: number, over: Partial<RunPlan> = {}): RunPlan {
  const request = requestBytes({ url: `http://127.0.0.1:${port}/`, hostname: "127.0.0.1", port, host: `127.0.0.1:${port}`, path: "/" }, { method: over.headRequests ? "HEAD" : "GET", headers: [], body: null });
  return { address: "127.0.0.1", port, request, headRequests: false, connections: 1, pipelining: 1, durationMs: null, requests: 10, rate: null, timeoutMs: 5000, warmupMs: 0, ...over };
}

export function errorTotal(m: Merged): number {
  return m.errors.refused + m.errors.reset + m.errors.timeout + m.errors.malformed + m.errors.other;
}

/** Captures benchMain's output. */
export function captureIO(): { io: { stdout: { write(s: string): boolean; isTTY: boolean }; stderr: { write(s: string): boolean } }; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true), isTTY: false },
      stderr: { write: (s: string) => ((err += s), true) },
    },
    out: () => out,
    err: () => err,
  };
}
