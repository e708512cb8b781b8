import type { Socket } from "node:net";
import { parseProxyHeader, type ProxyHeader } from "../http/proxy-protocol.ts";
import { simpleResponse } from "../http/response.ts";

// The most a PROXY header may take (v2's cap in src/http/proxy-protocol.ts, plus its 16-byte preamble).
const MAX_PREAMBLE_BYTES = 16 + 2048;

export type PreambleResult =
  | { ok: true; header: ProxyHeader | null }
  | { ok: false; reason: string };

/**
 * Reads what comes before HTTP (or TLS) on a connection when `--proxy-protocol` is on: a PROXY header from a
 * trusted proxy is taken off the stream; from anyone else it is refused (a client must not choose its own
 * address); a connection that starts any other way is left as it was. Bytes read past the header are put back
 * (`unshift`), so what follows never notices. The socket is left paused: the caller resumes it.
 */
export function readPreamble(socket: Socket, trusted: boolean, timeoutMs: number, done: (r: PreambleResult) => void): void {
  let buf: Buffer | null = null;
  let over = false;
  const finish = (r: PreambleResult, rest: Buffer | null): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    socket.pause();
    if (rest !== null && rest.length > 0) socket.unshift(rest);
    done(r);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
    let header: ProxyHeader | null | "need-more";
    try {
      header = parseProxyHeader(buf);
    } catch (err) {
      finish({ ok: false, reason: (err as Error).message }, null);
      return;
    }
    if (header === "need-more") {
      if (buf.length > MAX_PREAMBLE_BYTES) finish({ ok: false, reason: "PROXY header too long" }, null);
      return;
    }
    if (header === null) {
      finish({ ok: true, header: null }, buf);
      return;
    }
    if (!trusted) {
      finish({ ok: false, reason: "a PROXY header from a peer not in --forwarded-allow-ips" }, null);
      return;
    }
    finish({ ok: true, header }, buf.subarray(header.length));
  };
  const onEnd = (): void => finish({ ok: false, reason: "the connection ended before its first request" }, null);
  const timer = setTimeout(() => finish({ ok: false, reason: "no PROXY header or request in time" }, null), timeoutMs);
  socket.on("data", onData);
  socket.on("end", onEnd);
}

/** The plain-HTTP answer to a refused preamble. */
export const PREAMBLE_REFUSAL = simpleResponse(400, true, "");
