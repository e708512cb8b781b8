/**
 * A client that sends a request body in the chunked coding, in chunks as small as 1 byte, and the /proc figures
 * to see what that costs a worker (bench/soak-body.ts and test/e2e/body-memory.test.ts, issue 18).
 *
 * The body is the bytes a..z repeated. Its chunk text is built once per call as a block of about 64 KiB (whole
 * chunks, a multiple of 26 bytes of data) and written again and again, so even millions of chunks cost the client
 * little time and no memory.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import net from "node:net";

export interface ChunkedPost {
  port: number;
  /** Request target, e.g. "/?via=text". */
  target: string;
  /** Bytes of pattern data in the body (besides `prefix` and `suffix`). */
  bytes: number;
  /** Data bytes per chunk; 1 by default. */
  chunk?: number;
  /** Sent as one chunk before the pattern (`"` for a JSON string, `a=` for a form), and after it. */
  prefix?: string;
  suffix?: string;
  contentType?: string;
  timeoutMs?: number;
}

export interface PostResult {
  /** The response's status, 0 if none came. */
  status: number;
  body: string;
  /** Why no complete response came: "", "timeout", an error code, "closed". */
  error: string;
  ms: number;
}

/** SHA-256 (hex) of the first `bytes` bytes of the pattern a..z repeated. */
export function patternSha256(bytes: number): string {
  const block = pattern(0, 26 * 2520);
  const hash = createHash("sha256");
  let left = bytes;
  while (left >= block.length) {
    hash.update(block);
    left -= block.length;
  }
  hash.update(block.subarray(0, left));
  return hash.digest("hex");
}

/** `n` bytes of the pattern, starting at pattern offset `from`. */
function pattern(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = 97 + ((from + i) % 26);
  return b;
}

/** The chunked coding of `data`, in chunks of `size` bytes (the last may be shorter). */
function chunked(data: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) {
    const piece = data.subarray(i, Math.min(i + size, data.length));
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, "latin1"), piece, CRLF);
  }
  return Buffer.concat(parts);
}
const CRLF = Buffer.from("\r\n");

/**
 * One POST on its own connection (`Connection: close`) with a chunked body of `bytes` pattern bytes in chunks of
 * `chunk` bytes; resolves with the response once the server closes, or with what went wrong.
 */
export function postChunked(o: ChunkedPost): Promise<PostResult> {
  const size = o.chunk ?? 1;
  // A block of whole chunks whose data is a multiple of 26 bytes (so every block starts the pattern over), ~64 KiB.
  const unitChunks = 26 / gcd(26, size);
  const wirePerChunk = size.toString(16).length + 4 + size;
  const perBlock = Math.max(unitChunks, Math.floor(65536 / wirePerChunk / unitChunks) * unitChunks) * size;
  const block = chunked(pattern(0, perBlock), size);
  const whole = Math.floor(o.bytes / perBlock);
  const tail = chunked(pattern(0, o.bytes - whole * perBlock), size);
  const head =
    `POST ${o.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n` +
    (o.contentType !== undefined ? `Content-Type: ${o.contentType}\r\n` : "") +
    "\r\n";
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect(o.port, "127.0.0.1");
    const got: Buffer[] = [];
    let done = false;
    const finish = (error: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(got).toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const split = text.indexOf("\r\n\r\n");
      const status = m !== null ? Number(m[1]) : 0;
      resolve({ status, body: split >= 0 ? text.slice(split + 4) : "", error: status === 0 && error === "" ? "closed" : error, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish("timeout"), o.timeoutMs ?? 120_000);
    sock.on("data", (d: Buffer) => got.push(d));
    sock.on("end", () => finish(""));
    sock.on("close", () => finish(""));
    sock.on("error", (e: NodeJS.ErrnoException) => finish(got.length > 0 ? "" : (e.code ?? e.message)));
    const write = (b: Buffer | string): Promise<void> | null => {
      if (sock.destroyed) return null;
      if (sock.write(b)) return null;
      return new Promise((resolve) => {
        const go = (): void => {
          sock.off("drain", go).off("close", go);
          resolve();
        };
        sock.on("drain", go).on("close", go);
      });
    };
    sock.on("connect", async () => {
      await write(head);
      if (o.prefix) await write(chunked(Buffer.from(o.prefix), o.prefix.length));
      for (let i = 0; i < whole && !sock.destroyed; i++) await write(block);
      await write(tail);
      if (o.suffix) await write(chunked(Buffer.from(o.suffix), o.suffix.length));
      await write("0\r\n\r\n");
    });
  });
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A process's peak and current resident set (VmHWM, VmRSS) in KiB, or null if it is gone. */
export function memoryKiB(pid: number): { peak: number; rss: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { peak: field("VmHWM"), rss: field("VmRSS") };
}

/** The live children of `ppid` (an oryx master's workers), from /proc. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) === ppid && rest[0] !== "Z") out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
