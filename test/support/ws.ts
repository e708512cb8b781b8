/** Test clients for WebSockets: a raw one that sends any bytes and reads the server's frames, and `ws` wrapped. */
import net from "node:net";
import WebSocket from "ws";
import { FrameParser, type FrameSink } from "../../src/ws/frame-parser.ts";
import { encodeFrame } from "../../src/ws/frame-encoder.ts";

export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const MASK = Uint8Array.of(1, 2, 3, 4);

export function handshake(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n${extra}\r\n`;
}

/** A client frame (masked unless told). */
export function frame(opcode: number, payload: Uint8Array | string, opts: { fin?: boolean; masked?: boolean } = {}): Buffer {
  return encodeFrame(opcode, payload, opts.fin ?? true, opts.masked === false ? null : MASK);
}

export type ServerEvent = ["text", string] | ["binary", number] | ["ping", string] | ["pong", string] | ["close", number, string];

export interface RawSession {
  head: string;
  events: ServerEvent[];
  /** The server closed the TCP connection (before the timeout). */
  closed: boolean;
}

/**
 * Opens a WebSocket by hand, sends `frames` (each its own write), and reads the server's frames until it closes
 * the connection or `timeoutMs` passes. `read: false` reads nothing until `resumeAfterMs` (a slow reader).
 */
export function rawSession(port: number, path: string, frames: Buffer[], opts: { timeoutMs?: number; untilEvents?: number; answerPings?: boolean; extraHead?: string; deflate?: boolean } = {}): Promise<RawSession> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const events: ServerEvent[] = [];
    let head = "";
    let buf = Buffer.alloc(0);
    let done = false;
    const sink: FrameSink = {
      frameText: (m) => events.push(["text", m]),
      frameBinary: (m) => events.push(["binary", m.length]),
      framePing: (p) => {
        events.push(["ping", p.toString()]);
        if (opts.answerPings === true) sock.write(frame(10, p));
      },
      framePong: (p) => events.push(["pong", p.toString()]),
      frameClose: (code, reason) => events.push(["close", code, reason]),
    };
    const parser = new FrameParser({ maxMessage: 1 << 30, requireMask: false, deflate: opts.deflate === true }, sink);
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ head, events, closed });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 3000);
    sock.on("connect", () => sock.write(handshake(path, opts.extraHead)));
    sock.on("data", (d) => {
      if (head === "") {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        head = buf.subarray(0, end + 4).toString("latin1");
        const rest = buf.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) return;
        for (const f of frames) sock.write(f);
        if (rest.length > 0) parser.push(rest);
      } else {
        try {
          parser.push(d);
        } catch (err) {
          events.push(["close", -1, String(err)]);
        }
      }
      if (opts.untilEvents !== undefined && events.length >= opts.untilEvents) finish(false);
    });
    sock.on("error", () => {});
    sock.on("close", () => finish(true));
  });
}

export interface WsClient {
  ws: WebSocket;
  messages: Array<string | Buffer>;
  /** The next message (waits for it). */
  next(): Promise<string | Buffer>;
  closed: Promise<{ code: number; reason: string }>;
  upgradeHeaders: Record<string, string | string[] | undefined>;
}

export function connectWs(url: string, protocols?: string[]): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const messages: Array<string | Buffer> = [];
    const waiters: Array<(m: string | Buffer) => void> = [];
    let upgradeHeaders: Record<string, string | string[] | undefined> = {};
    ws.on("upgrade", (res) => (upgradeHeaders = res.headers));
    ws.on("message", (data, isBinary) => {
      const m = isBinary ? (data as Buffer) : data.toString();
      const w = waiters.shift();
      if (w !== undefined) w(m);
      else messages.push(m);
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    ws.on("error", reject);
    ws.on("open", () =>
      resolve({
        ws,
        messages,
        next: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise((r) => waiters.push(r))),
        closed,
        upgradeHeaders,
      }),
    );
  });
}
