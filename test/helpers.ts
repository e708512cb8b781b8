/**
 * Test helpers: an in-process server around a fetch handler (fast, and the test sees what the app saw), the
 * real CLI as a child process, and a raw socket client for byte-exact cases.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultSettings, type Settings } from "../src/config/settings.ts";
import { fetchGateway, type FetchHandler } from "../src/gateway/fetch.ts";
import { createLogger, type Logger } from "../src/log.ts";
import type { AccessRecord } from "../src/server/connection.ts";
import { Server } from "../src/server/server.ts";
import { connectionOptions } from "../src/server/from-settings.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = path.join(ROOT, "dist", "cli.js");

export interface TestServer {
  port: number;
  url: string;
  server: Server;
  /** Every Request the app was handed, in order. */
  seen: Request[];
  /** Error-log lines. */
  logs: string[];
  access: AccessRecord[];
  close(): Promise<void>;
}

/** Starts oryx's engine in this process on 127.0.0.1:0 with `handler`; `overrides` change settings. */
export async function startServer(handler: FetchHandler, overrides: Partial<Settings> = {}): Promise<TestServer> {
  const s = { ...defaultSettings(), ...overrides };
  const logs: string[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(line));
  const seen: Request[] = [];
  const access: AccessRecord[] = [];
  const handlerSeen: FetchHandler = (req, info) => {
    seen.push(req);
    return handler(req, info);
  };
  const server = new Server({
    binds: [{ kind: "tcp", host: "127.0.0.1", port: 0 }],
    backlog: s.backlog,
    connection: { ...connectionOptions(s, fetchGateway(handlerSeen, log), log, null), onAccess: (r) => access.push(r) },
  });
  const [url] = await server.listen();
  const port = Number(new URL(url!).port);
  return { port, url: url!, server, seen, logs, access, close: () => server.close(1000) };
}

export interface RawResult {
  /** Everything the server sent, as latin1. */
  text: string;
  /** True if the server closed the connection (EOF or reset) before the timeout. */
  closed: boolean;
  reset: boolean;
}

/**
 * Sends `chunks` on one connection (each written separately, `gapMs` apart) and collects what comes back until
 * the server closes or `timeoutMs` passes.
 */
export function raw(port: number, chunks: Array<string | Buffer> | string, opts: { timeoutMs?: number; gapMs?: number; end?: boolean } = {}): Promise<RawResult> {
  const list = typeof chunks === "string" ? [chunks] : chunks;
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let reset = false;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(got).toString("latin1"), closed, reset });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("data", (d) => got.push(d));
    sock.on("error", () => {
      reset = true;
    });
    sock.on("close", () => finish(true));
    sock.on("end", () => finish(true));
    sock.on("connect", async () => {
      for (const c of list) {
        if (sock.destroyed) return;
        sock.write(typeof c === "string" ? Buffer.from(c, "latin1") : c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.end) sock.end();
    });
  });
}

export interface ParsedResponse {
  status: number;
  reason: string;
  headers: Record<string, string[]>;
  body: string;
}

/** Parses the responses in `text` (Content-Length, chunked, or to the end), for assertions. */
export function parseResponses(text: string, headRequests = 0): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  let heads = headRequests;
  while (pos < text.length) {
    const end = text.indexOf("\r\n\r\n", pos);
    if (end < 0) throw new Error(`incomplete response head at ${pos}: ${JSON.stringify(text.slice(pos, pos + 200))}`);
    const lines = text.slice(pos, end).split("\r\n");
    const m = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string[]> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      const k = l.slice(0, i).toLowerCase();
      (headers[k] ??= []).push(l.slice(i + 1).trim());
    }
    pos = end + 4;
    const status = Number(m[1]);
    let body = "";
    const noBody = status < 200 || status === 204 || status === 304 || (heads > 0 && status >= 200);
    if (status >= 200 && heads > 0) heads--;
    if (noBody) {
      // nothing
    } else if (headers["content-length"]) {
      const n = Number(headers["content-length"][0]);
      body = text.slice(pos, pos + n);
      pos += n;
    } else if (headers["transfer-encoding"]?.[0] === "chunked") {
      for (;;) {
        const le = text.indexOf("\r\n", pos);
        const size = parseInt(text.slice(pos, le), 16);
        pos = le + 2;
        if (size === 0) {
          pos = text.indexOf("\r\n", pos) + 2;
          break;
        }
        body += text.slice(pos, pos + size);
        pos += size + 2;
      }
    } else {
      body = text.slice(pos);
      pos = text.length;
    }
    out.push({ status, reason: m[2]!, headers, body });
  }
  return out;
}

export interface CliProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Runs the built CLI and waits for its startup line. */
export async function startCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  let out = "";
  proc.stderr!.on("data", (d) => (err += d));
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oryx did not start in time; stderr: ${err}`)), opts.timeoutMs ?? 15000);
    const check = (): void => {
      const m = / on ((?:https?:\/\/|unix:|fd:\/\/)[^\s,]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stderr!.on("data", check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`oryx exited with ${code} before starting; stderr: ${err}`));
    });
  });
  const port = url.startsWith("http") ? Number(new URL(url).port) : 0;
  return { proc, port, url, stderr: () => err, stdout: () => out, exited, kill: (s = "SIGTERM") => proc.kill(s) };
}

/** Runs the built CLI to completion (for error paths). */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`oryx ${args.join(" ")} did not exit in time; stderr: ${err}`));
    }, opts.timeoutMs ?? 15000);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether `p` settles within `ms` (the timer is cleared either way, so nothing lingers). */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}
