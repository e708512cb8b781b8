import type { Logger } from "../log.ts";
import type { ConnectionInfo, Exchange, RequestHandler } from "./exchange.ts";
import { createRequest, requestUrl } from "./request.ts";
import { LiteResponse, isLiteResponse } from "./response.ts";

/** A WHATWG fetch handler, as Bun, Deno, Cloudflare Workers and Hono's `app.fetch` speak it. */
export type FetchHandler = (request: Request, info: ConnectionInfo) => Response | PromiseLike<Response>;

const EMPTY = new Uint8Array(0);
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
// Field values oryx will put on the wire: HTAB, visible ASCII, SP and obs-text. (Headers already refuses CR,
// LF and NUL; this also refuses chars above U+00FF, which have no single-byte form.)
const UNSENDABLE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The fetch gateway: turns each exchange into a real `Request`, calls the app, and writes the `Response` it
 * gives back. A handler that throws, rejects or returns something else gets a 500 and the server goes on.
 */
export function fetchGateway(handler: FetchHandler, log: Logger): RequestHandler {
  return (ex: Exchange): void => {
    // A fetch Request cannot carry these methods (the Fetch standard forbids them), nor a URL it cannot parse.
    const method = ex.head.method;
    if (method !== "GET" && method !== "POST" && FORBIDDEN_METHODS.has(method.toUpperCase())) {
      ex.fail(501, true);
      return;
    }
    const url = requestUrl(ex);
    if (url === null) {
      ex.fail(400, true);
      return;
    }
    let request: Request;
    try {
      request = createRequest(ex, url);
    } catch (err) {
      log.debug(`could not build a Request for ${ex.head.method} ${ex.head.target}: ${(err as Error).message}`);
      ex.fail(400, true);
      return;
    }
    let result: Response | PromiseLike<Response>;
    try {
      result = handler(request, ex.info);
    } catch (err) {
      appFailed(ex, err, log);
      return;
    }
    if (result instanceof Response) {
      sendResponse(ex, result, log);
    } else if (result !== null && typeof result === "object" && typeof (result as PromiseLike<Response>).then === "function") {
      (result as PromiseLike<Response>).then(
        (res) => sendResponse(ex, res, log),
        (err: unknown) => appFailed(ex, err, log),
      );
    } else {
      appFailed(ex, new TypeError(`the handler returned ${describeValue(result)}, not a Response`), log);
    }
  };
}

function appFailed(ex: Exchange, err: unknown, log: Logger): void {
  log.error(`the app failed on ${ex.head.method} ${ex.head.target}`, err);
  ex.fail(500);
}

function sendResponse(ex: Exchange, res: unknown, log: Logger): void {
  if (!(res instanceof Response)) {
    appFailed(ex, new TypeError(`the handler resolved to ${describeValue(res)}, not a Response`), log);
    return;
  }
  if (isLiteResponse(res)) {
    const simple = LiteResponse.simple(res);
    if (simple !== null) {
      if (ex.closed) return;
      let flat: string[];
      try {
        flat = simple.fields ?? flattenHeaders(res.headers);
      } catch (err) {
        appFailed(ex, err, log);
        return;
      }
      ex.respond(simple.status, simple.statusText, flat, simple.body);
      return;
    }
  }
  if (ex.closed) {
    res.body?.cancel().catch(noop);
    return;
  }
  let headers: string[];
  try {
    headers = flattenHeaders(res.headers);
  } catch (err) {
    appFailed(ex, err, log);
    return;
  }
  const body = res.body;
  if (body === null) {
    ex.respond(res.status, res.statusText, headers, null);
    return;
  }
  const known = knownBody(res);
  if (known !== null) {
    ex.respond(res.status, res.statusText, headers, known);
    return;
  }
  void streamBody(ex, res.status, res.statusText, headers, body.getReader(), log);
}

const IMMEDIATE = Symbol("immediate");
const nextMacrotask = (): Promise<typeof IMMEDIATE> => new Promise((resolve) => setImmediate(resolve, IMMEDIATE));

/**
 * Streams a response body with backpressure. A stream that is already finished once its first chunk is read
 * (and the microtasks that follow have run) is sent with Content-Length in one write; any other goes out at once,
 * chunked (HTTP/1.1) or close-delimited (HTTP/1.0), each chunk as it comes.
 */
async function streamBody(
  ex: Exchange,
  status: number,
  reason: string,
  headers: string[],
  reader: ReadableStreamDefaultReader<unknown>,
  log: Logger,
): Promise<void> {
  let first: Uint8Array;
  let next: ReturnType<ReadableStreamDefaultReader<unknown>["read"]>;
  try {
    const r = await reader.read();
    if (r.done) {
      ex.respond(status, reason, headers, EMPTY);
      return;
    }
    first = toBytes(r.value);
    next = reader.read();
    const settled = await Promise.race([next, nextMacrotask()]);
    if (settled !== IMMEDIATE && settled.done) {
      ex.respond(status, reason, headers, first);
      return;
    }
  } catch (err) {
    appFailed(ex, err, log);
    reader.cancel().catch(noop);
    return;
  }
  if (ex.closed) {
    next.catch(noop);
    reader.cancel().catch(noop);
    return;
  }
  ex.begin(status, reason, headers, -1);
  if (ex.head.method === "HEAD") {
    next.catch(noop);
    reader.cancel().catch(noop);
    ex.end();
    return;
  }
  try {
    let chunk: Uint8Array | null = first;
    for (;;) {
      if (chunk !== null && !ex.write(chunk)) await ex.drained();
      if (ex.closed) {
        next.catch(noop);
        reader.cancel().catch(noop);
        return;
      }
      const r = await next;
      if (r.done) break;
      chunk = toBytes(r.value);
      next = reader.read();
    }
  } catch (err) {
    ex.destroy(err instanceof Error ? err : new Error(String(err)));
    reader.cancel().catch(noop);
    return;
  }
  ex.end();
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`a response body chunk is ${describeValue(value)}, not bytes`);
}

function flattenHeaders(h: Headers): string[] {
  const out: string[] = [];
  for (const [name, value] of h) {
    if (name === "set-cookie") continue;
    if (UNSENDABLE_VALUE.test(value)) throw new TypeError(`the response header ${name} holds a character that cannot be sent`);
    out.push(name, value);
  }
  // Each Set-Cookie stays its own field: joining them with commas would corrupt cookies that hold dates.
  for (const cookie of h.getSetCookie()) {
    if (UNSENDABLE_VALUE.test(cookie)) throw new TypeError("a Set-Cookie header holds a character that cannot be sent");
    out.push("set-cookie", cookie);
  }
  return out;
}

// undici keeps a Response's original body source (string or bytes) in an internal state object. Reading it
// skips a web-stream round trip for the most common responses. Found by feature test, not by name alone, so a
// Node whose internals differ simply takes the general streaming path.
const stateSymbol: symbol | undefined = (() => {
  const probe = new Response("probe");
  for (const sym of Object.getOwnPropertySymbols(probe)) {
    const v = (probe as unknown as Record<symbol, { body?: { source?: unknown } }>)[sym];
    if (v !== null && typeof v === "object" && v.body?.source === "probe") return sym;
  }
  return undefined;
})();

function knownBody(res: Response): Uint8Array | null {
  if (stateSymbol === undefined || res.bodyUsed || res.body?.locked) return null;
  const state = (res as unknown as Record<symbol, { body?: { source?: unknown } } | undefined>)[stateSymbol];
  const source = state?.body?.source;
  if (typeof source === "string") return Buffer.from(source, "utf8");
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return null;
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "object") return `an object (${v.constructor?.name ?? "Object"})`;
  return `a ${typeof v}`;
}

function noop(): void {}
