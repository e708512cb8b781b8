import type { Logger } from "../log.ts";
import { bodyOnWire } from "../http/index.ts";
import { asciiText, type ConnectionInfo, type Exchange, type RequestHandler } from "./exchange.ts";
import { createRequest, requestUrl } from "./request.ts";
import { LiteHeaders } from "./lite-headers.ts";
import { LiteResponse, NativeResponse, isLiteResponse } from "./response.ts";
import { markUpgradable } from "../ws/upgrade.ts";
import { completeUpgrade } from "../ws/deno.ts";

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
    // A request that may become a WebSocket is noted, so server.upgrade(req) can find its connection.
    if (ex.head.upgrade) markUpgradable(request, ex);
    let result: Response | PromiseLike<Response>;
    try {
      result = handler(request, ex.info);
    } catch (err) {
      appFailed(ex, err, log);
      return;
    }
    // A promise (an async handler) or a Response, whoever made it; sendResponse tells a Response from anything else.
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<Response>).then === "function") {
      (result as PromiseLike<Response>).then(
        (res) => sendResponse(ex, res, log),
        (err: unknown) => appFailed(ex, err, log),
      );
    } else {
      sendResponse(ex, result, log);
    }
  };
}

function appFailed(ex: Exchange, err: unknown, log: Logger): void {
  if (ex.aborted) {
    // The client went away (an upload cut short, a reader that left): the app's failure is its consequence,
    // not an application error, and nobody is left to answer.
    clientWentAway(ex, err, log);
    return;
  }
  log.error(`the app failed on ${ex.head.method} ${ex.head.target}`, err);
  ex.fail(500);
}

/**
 * A line at info, without a stack, for a client that left before its response was complete; at most
 * GONE_PER_SECOND lines a second, then one line counting the rest, so that a flood of aborted uploads cannot
 * fill the log (a line with a stack each was 94 MB in 3 minutes of such traffic).
 */
function clientWentAway(ex: Exchange, err: unknown, log: Logger): void {
  const now = Date.now();
  if (now - gone.windowStart >= 1000) {
    if (gone.suppressed > 0) log.info(`${gone.suppressed} more clients went away before their responses were complete`);
    gone.windowStart = now;
    gone.shown = 0;
    gone.suppressed = 0;
  }
  if (gone.shown < GONE_PER_SECOND) {
    gone.shown++;
    const why = err instanceof Error ? err.message : String(err);
    log.info(`a client went away before its response to ${ex.head.method} ${ex.head.target} was complete (${why})`);
  } else {
    gone.suppressed++;
  }
}
const GONE_PER_SECOND = 5;
const gone = { windowStart: 0, shown: 0, suppressed: 0 };

/**
 * Sends what the app answered. Any Response is sent as its `status`, `statusText`, `headers` and `body` say:
 * oryx's own LiteResponse (its simple bodies go out with the head in one write), undici's (`fetch()` results,
 * `Response.redirect()`, clones), subclasses, and other classes that implement the Fetch standard's Response
 * interface (srvx's and h3's NodeResponse, @whatwg-node's PonyfillResponse in GraphQL Yoga, …). Anything else
 * gets a 500 and a sentence in the error log naming what it was.
 */
function sendResponse(ex: Exchange, value: unknown, log: Logger): void {
  let res = value;
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
    res = LiteResponse.realOf(res);
  }
  if (!isResponseLike(res)) {
    // `if (server.upgrade(req)) return;`: after an upgrade the handler's answer is ignored, as in Bun.
    if (ex.closed && ex.upgrade !== undefined && res === undefined) return;
    appFailed(ex, new TypeError(`the handler resolved to ${describeValue(res)}, not a Response`), log);
    return;
  }
  if (typeof (res as Partial<NodeResponseSource>)._toNodeResponse === "function") {
    sendNodeResponseParts(ex, res as ResponseLike & NodeResponseSource, log);
    return;
  }
  const status = res.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    // upgradeWebSocket()'s response (Deno's shape): the handshake is answered and the socket opens.
    if (status === 101 && completeUpgrade(ex, res)) return;
    const what = status === 0 ? "Response.error() (a network error, status 0)" : `a Response with status ${String(status)}`;
    appFailed(ex, new TypeError(`the handler resolved to ${what}, which cannot be sent`), log);
    cancelBody(res);
    return;
  }
  if (ex.closed) {
    cancelBody(res);
    return;
  }
  // The body before the headers: a lazy class may settle its headers only when its body is asked for (srvx's
  // NodeResponse, in h3, adds a string body's content-type then, as undici's constructor does).
  const body = res.body;
  let headers: string[];
  try {
    headers = flattenHeaders(res.headers);
  } catch (err) {
    appFailed(ex, err, log);
    cancelBody(res);
    return;
  }
  const statusText = typeof res.statusText === "string" ? res.statusText : "";
  if (body === null || body === undefined) {
    ex.respond(status, statusText, headers, null);
    return;
  }
  const known = knownBody(res);
  if (known !== null) {
    ex.respond(status, statusText, headers, known);
    return;
  }
  let reader: BodyReader | null;
  try {
    // A body already read, or locked by a reader the app took, cannot be sent: getReader() throws.
    reader = readerOf(body);
  } catch (err) {
    appFailed(ex, new TypeError(`the Response's body cannot be read (was it read or locked already?): ${(err as Error).message}`), log);
    return;
  }
  if (reader === null) {
    appFailed(ex, new TypeError(`the Response's body is ${describeValue(body)}, not a ReadableStream`), log);
    return;
  }
  void streamBody(ex, status, statusText, headers, reader, log);
}

/**
 * srvx's lazy Response (h3 v2 answers with it) hands a Node server its parts without building a web stream:
 * `_toNodeResponse()`, which srvx's own Node adapter calls. oryx calls it too, so an h3 app's responses go out
 * exactly as under srvx (its content-type for a string body included) and as cheaply.
 */
interface NodeResponseSource {
  _toNodeResponse(): { status: number; statusText?: string; headers: unknown[]; body?: unknown };
}

function sendNodeResponseParts(ex: Exchange, res: ResponseLike & NodeResponseSource, log: Logger): void {
  const status = res.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    appFailed(ex, new TypeError(`the handler resolved to a Response with status ${String(status)}, which cannot be sent`), log);
    return;
  }
  let parts: ReturnType<NodeResponseSource["_toNodeResponse"]>;
  const headers: string[] = [];
  try {
    parts = res._toNodeResponse();
    const flat = parts.headers;
    for (let i = 0; i + 1 < flat.length; i += 2) pushChecked(headers, flat[i], flat[i + 1]);
  } catch (err) {
    appFailed(ex, err, log);
    return;
  }
  const body = parts.body;
  const statusText = typeof parts.statusText === "string" ? parts.statusText : "";
  if (ex.closed) {
    if (body !== null && typeof body === "object") cancelBody({ body });
    return;
  }
  if (body === null || body === undefined) ex.respond(status, statusText, headers, null);
  else if (typeof body === "string") ex.respond(status, statusText, headers, asciiText(body) ?? Buffer.from(body, "utf8"));
  else if (body instanceof Uint8Array) ex.respond(status, statusText, headers, body);
  else {
    let reader: BodyReader | null = null;
    try {
      reader = readerOf(body);
    } catch (err) {
      appFailed(ex, err, log);
      return;
    }
    if (reader === null) appFailed(ex, new TypeError(`the Response's body is ${describeValue(body)}, not a stream`), log);
    else void streamBody(ex, status, statusText, headers, reader, log);
  }
}

/** What oryx reads of a Response (the Fetch standard's interface), whichever class made it. */
interface ResponseLike {
  readonly status: number;
  readonly statusText?: unknown;
  readonly headers: HeadersLike;
  readonly body: unknown;
}

interface HeadersLike {
  forEach?(cb: (value: string, name: string) => void): void;
  getSetCookie?(): string[];
  [Symbol.iterator]?(): Iterator<[string, string]>;
}

function isResponseLike(v: unknown): v is ResponseLike {
  if (v === null || typeof v !== "object") return false;
  const r = v as Partial<ResponseLike>;
  const h = r.headers as HeadersLike | null | undefined;
  return (
    typeof r.status === "number" &&
    h !== null &&
    typeof h === "object" &&
    (typeof h.forEach === "function" || typeof h[Symbol.iterator] === "function") &&
    "body" in v
  );
}

function cancelBody(res: unknown): void {
  try {
    const body = (res as { body?: { cancel?: () => Promise<unknown> } | null }).body;
    if (body !== null && body !== undefined && typeof body.cancel === "function") body.cancel().catch(noop);
  } catch {
    // A body that cannot even be asked for has nothing to release.
  }
}

type BodyReader = Pick<ReadableStreamDefaultReader<unknown>, "read" | "cancel">;

/** A reader for a web stream (undici's or a ponyfill's), or for any async iterable of chunks; else null. */
function readerOf(body: unknown): BodyReader | null {
  if (body === null || typeof body !== "object") return null;
  const stream = body as { getReader?: () => BodyReader; [Symbol.asyncIterator]?: () => AsyncIterator<unknown> };
  if (typeof stream.getReader === "function") return stream.getReader();
  if (typeof stream[Symbol.asyncIterator] === "function") {
    const it = stream[Symbol.asyncIterator]!();
    return {
      read: async () => {
        const r = await it.next();
        return r.done === true ? { done: true, value: undefined } : { done: false, value: r.value };
      },
      cancel: async () => {
        await it.return?.();
      },
    };
  }
  return null;
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
  reader: BodyReader,
  log: Logger,
): Promise<void> {
  let first: Uint8Array;
  let next: ReturnType<BodyReader["read"]>;
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
  // No body goes on the wire (HEAD, 204, 304: http/framing.ts decides): the stream is not read at all.
  if (!bodyOnWire(ex.head.method === "HEAD", status)) {
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

const NativeHeaders = globalThis.Headers;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A Response's header fields as a flat list (name, value, …), lowercase names, each Set-Cookie its own field
 * (joining them with commas would corrupt cookies that hold dates). undici's Headers have checked names and
 * values already; another class's (a ponyfill's) are checked here.
 */
function flattenHeaders(h: HeadersLike): string[] {
  if (LiteHeaders.isOne(h)) {
    // Names and values checked as undici checks them; a value may still hold a control character.
    const flat = LiteHeaders.flat(h);
    for (let i = 1; i < flat.length; i += 2) {
      if (UNSENDABLE_VALUE.test(flat[i]!)) throw new TypeError(`the response header ${flat[i - 1]!} holds a character that cannot be sent`);
    }
    return flat;
  }
  const out: string[] = [];
  if (Object.getPrototypeOf(h) === NativeHeaders.prototype) {
    for (const [name, value] of h as Headers) {
      if (name === "set-cookie") continue;
      if (UNSENDABLE_VALUE.test(value)) throw new TypeError(`the response header ${name} holds a character that cannot be sent`);
      out.push(name, value);
    }
    pushCookies(out, (h as Headers).getSetCookie());
    return out;
  }
  const cookies = typeof h.getSetCookie === "function" ? h.getSetCookie() : null;
  const add = (value: unknown, key: unknown): void => {
    if (cookies === null || String(key).toLowerCase() !== "set-cookie") pushChecked(out, key, value);
  };
  if (typeof h.forEach === "function") h.forEach(add);
  else for (const [name, value] of h as Iterable<[string, string]>) add(value, name);
  if (cookies !== null) pushCookies(out, cookies);
  return out;
}

/** Adds a field that no Headers object has checked: its name must be a token, its value sendable. */
function pushChecked(out: string[], key: unknown, value: unknown): void {
  const name = String(key).toLowerCase();
  if (!HEADER_NAME.test(name)) throw new TypeError(`the response has a header named ${JSON.stringify(String(key))}, which is not a field name`);
  const text = String(value).trim();
  if (UNSENDABLE_VALUE.test(text) || /[\r\n\0]/.test(text)) throw new TypeError(`the response header ${name} holds a character that cannot be sent`);
  out.push(name, text);
}

function pushCookies(out: string[], cookies: readonly string[]): void {
  for (const cookie of cookies) {
    if (UNSENDABLE_VALUE.test(cookie)) throw new TypeError("a Set-Cookie header holds a character that cannot be sent");
    out.push("set-cookie", cookie);
  }
}

// undici keeps a Response's original body source (string or bytes) in an internal state object. Reading it
// skips a web-stream round trip for the most common responses. Found by feature test, not by name alone, so a
// Node whose internals differ simply takes the general streaming path.
const stateSymbol: symbol | undefined = (() => {
  const probe = new NativeResponse("probe");
  for (const sym of Object.getOwnPropertySymbols(probe)) {
    const v = (probe as unknown as Record<symbol, { body?: { source?: unknown } }>)[sym];
    if (v !== null && typeof v === "object" && v.body?.source === "probe") return sym;
  }
  return undefined;
})();

function knownBody(res: ResponseLike): Uint8Array | null {
  if (stateSymbol === undefined || Object.getPrototypeOf(res) !== NativeResponse.prototype) return null;
  const native = res as Response;
  if (native.bodyUsed || native.body?.locked) return null;
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
