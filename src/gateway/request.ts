import * as nodeStream from "node:stream";
import { forwardToReal } from "./stand-in.ts";
import { serializeUrl } from "./url.ts";
import type { BodySink, Exchange, RequestBody } from "./exchange.ts";
import { ConnectionInfo } from "./info.ts";

/**
 * The `Request` an app gets. Building undici's Request, its Headers and its AbortSignal costs more than the rest
 * of a small exchange put together, and most handlers read only a few of its parts. So oryx hands over a
 * `LazyRequest`: `instanceof Request` holds, `method`, `url`, `headers`, `signal` and `body` are built on first
 * use, `text()`, `json()`, `arrayBuffer()` and `bytes()` read the body straight from the socket, and anything
 * else (clone, formData, blob, mode, …) builds the real Request once and asks it.
 *
 * `new Request(lazy)` and `fetch(lazy)` work through undici's internal slots, which the lazy request forwards to
 * its real Request. Whether that holds on this Node is tested once at startup (`lazyRequestsWork`); where it does
 * not, every request is built eagerly as a real Request instead. Correctness first.
 */

// node:stream's isDisturbed reads a web stream's "disturbed" flag, as undici's bodyUsed does (untyped in @types/node 20).
const isDisturbed = (nodeStream as unknown as { isDisturbed(s: unknown): boolean }).isDisturbed;

const STANDARD_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** Fetch normalizes these methods' case (Fetch standard, "normalize a method"); the others stay as sent. */
function normalizeMethod(method: string): string {
  if (method === "GET" || method === "POST" || STANDARD_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return STANDARD_METHODS.has(upper) ? upper : method;
}

/**
 * The request's URL, serialized as `Request.url` is (dot segments resolved, host lowercased, default port
 * dropped), or null when the target and Host make no URL: the target when absolute, else built from the scheme,
 * Host (or the host a trusted proxy names) and the target.
 */
export function requestUrl(ex: Exchange): string | null {
  const { target } = ex.head;
  if (target.charCodeAt(0) === 0x2f /* / */ || target === "*") {
    const host = ex.forwardedHost ?? (ex.head.host || fallbackHost(ex.info));
    const scheme = ex.scheme;
    if (target === lastTarget && host === lastHost && scheme === lastScheme) return lastUrl;
    const path = target === "*" ? "/*" : target;
    const url = serializeUrl(scheme, host, path, `${scheme}://${host}${path}`);
    if (url !== null) {
      // (The app's first look flattens the concatenation in place, so later requests get a flat string.)
      lastUrl = url;
      lastTarget = target;
      lastHost = host;
      lastScheme = scheme;
      return lastUrl;
    }
    return url;
  }
  // absolute-form (RFC 9112 §3.2.2: its authority wins over Host). Its scheme is only what the client claims: the
  // URL's is the connection's (or a trusted proxy's), so a plain-TCP client cannot make request.url say https.
  const rest = target.slice(target.indexOf("://"));
  return serializeUrl(ex.scheme, "", target, `${ex.scheme}${rest}`);
}

// The last URL built from an origin-form target, and what from: the same URL asked again (a client polling, a
// benchmark, a health check) is neither built nor checked again.
let lastUrl = "";
let lastTarget = "";
let lastHost = "";
let lastScheme = "";

function fallbackHost(info: ConnectionInfo): string {
  if (info.remoteAddr.transport === "unix") return "localhost";
  return info.localAddress.includes(":") ? `[${info.localAddress}]:${info.localPort}` : `${info.localAddress}:${info.localPort}`;
}

function buildHeaders(list: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < list.length; i += 2) headers.append(list[i]!, list[i + 1]!);
  return headers;
}

/**
 * The request body as a web stream, pulled straight from the socket. highWaterMark 0: nothing is read until the
 * app asks, which is when `100 Continue` goes out, and a full stream stops reads from the socket.
 */
export function bodyStream(body: RequestBody): ReadableStream<Uint8Array> {
  let started = false;
  let done = false;
  let ctrl: ReadableStreamDefaultController<Uint8Array>;
  const sink: BodySink = {
    data(chunk) {
      if (done) return false;
      ctrl.enqueue(chunk);
      return (ctrl.desiredSize ?? 0) > 0;
    },
    end() {
      if (done) return;
      done = true;
      ctrl.close();
    },
    error(err) {
      if (done) return;
      done = true;
      ctrl.error(err);
    },
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctrl = c;
      },
      pull() {
        if (!started) {
          started = true;
          body.start(sink);
        } else {
          body.resume();
        }
      },
      cancel() {
        done = true;
        body.discard();
      },
    },
    { highWaterMark: 0 },
  );
}

const GATHER_BELOW = 4096;
const TAIL_SIZE = 64 * 1024;

/**
 * Reads a whole request body straight from the connection, without a web stream, and resolves with what
 * `convert` makes of its bytes (converted here rather than in a `then`, which would cost a promise and a tick).
 */
function readAll<T>(body: RequestBody, convert: (b: Buffer) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Short pieces after the first (a body arriving a few bytes a read) are copied into `tail` rather than kept
    // as a Buffer each, which would cost far more than their bytes.
    let tail: Buffer | null = null;
    let tailLen = 0;
    body.start({
      data(chunk) {
        size += chunk.length;
        if (chunk.length >= GATHER_BELOW || chunks.length === 0) {
          if (tailLen !== 0) {
            chunks.push(tail!.subarray(0, tailLen));
            tail = null;
            tailLen = 0;
          }
          chunks.push(chunk);
          return true;
        }
        if (tail === null || tailLen + chunk.length > tail.length) {
          if (tail !== null) chunks.push(tail.subarray(0, tailLen));
          tail = Buffer.allocUnsafeSlow(TAIL_SIZE);
          tailLen = 0;
        }
        chunk.copy(tail, tailLen);
        tailLen += chunk.length;
        return true;
      },
      end() {
        try {
          if (tailLen !== 0) chunks.push(tail!.subarray(0, tailLen));
          resolve(convert(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
        } catch (err) {
          reject(err);
        }
      },
      error: reject,
    });
  });
}

/** A real undici Request for the exchange, built at once. */
export function eagerRequest(ex: Exchange, url: string): Request {
  const head = ex.head;
  const controller = new AbortController();
  ex.onAbort = () => controller.abort();
  const init: RequestInit & { duplex?: "half" } = { method: head.method, headers: buildHeaders(head.headers), signal: controller.signal };
  if (ex.body !== null && head.method !== "GET" && head.method !== "HEAD") {
    init.body = bodyStream(ex.body);
    init.duplex = "half";
  }
  return new Request(url, init);
}

const EMPTY = Buffer.alloc(0);

const utf8 = (b: Buffer): string => b.toString("utf8");
const ownBytes = (b: Buffer): Uint8Array => new Uint8Array(ownArrayBuffer(b));
const parseJson = (b: Buffer): unknown => JSON.parse(b.toString("utf8")) as unknown;

/**
 * The body's bytes as an ArrayBuffer of their own. A body that fills its buffer exactly (gathered from several
 * reads, or read alone) is handed over as is: nobody else holds it. Otherwise (a view into a read that also held
 * the head) the bytes are copied out.
 */
function ownArrayBuffer(b: Buffer): ArrayBuffer {
  if (b.length === 0) return new ArrayBuffer(0);
  if (b.byteOffset === 0 && b.length === b.buffer.byteLength) return b.buffer as ArrayBuffer;
  // Uninitialized memory of its own (ArrayBuffer.slice would zero it first), then filled: the same bytes, cheaper.
  const own = Buffer.allocUnsafeSlow(b.length);
  own.set(b);
  return own.buffer as ArrayBuffer;
}

export class LazyRequest {
  readonly #ex: Exchange;
  /** The URL, serialized (see requestUrl). */
  readonly #url: string;
  #method: string | undefined;
  #headers: Headers | undefined;
  #controller: AbortController | undefined;
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #used = false;
  #real: Request | undefined;

  constructor(ex: Exchange, url: string) {
    this.#ex = ex;
    this.#url = url;
  }

  get method(): string {
    return (this.#method ??= normalizeMethod(this.#ex.head.method));
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return (this.#headers ??= buildHeaders(this.#ex.head.headers));
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      // Made when first asked for (most apps never ask): aborted now if the client has already gone, else when it goes.
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#ex.aborted) controller.abort();
      else this.#ex.onAbort = () => controller.abort();
    }
    return this.#controller.signal;
  }

  /** The body source, or null for a request without one (GET and HEAD never have one, as in fetch). */
  #source(): RequestBody | null {
    const m = this.#ex.head.method;
    return m === "GET" || m === "HEAD" ? null : this.#ex.body;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream === undefined) {
      const source = this.#source();
      this.#stream = source === null || this.#used ? null : bodyStream(source);
    }
    return this.#stream;
  }

  get bodyUsed(): boolean {
    if (this.#real !== undefined) return this.#real.bodyUsed;
    if (this.#used) return true;
    const s = this.#stream;
    // A stream handed out and read from (or cancelled) counts as used, as in fetch.
    return s !== undefined && s !== null && isDisturbed(s);
  }

  get duplex(): "half" {
    return "half";
  }

  /**
   * Reads the body directly, or through the web stream / real Request if those were already handed out. Plain
   * promise chains, not async functions: a body read is on the hot path of every POST, and each async layer
   * costs promises and ticks. Never throws: every failure is a rejection, as the Fetch methods promise.
   */
  #read<T>(convert: (b: Buffer) => T): Promise<T> {
    try {
      if (this.#real !== undefined || this.#stream !== undefined) {
        return this.#realRequest().arrayBuffer().then((ab) => convert(Buffer.from(ab)));
      }
      if (this.#used) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
      this.#used = true;
      const source = this.#source();
      return source === null ? Promise.resolve(convert(EMPTY)) : readAll(source, convert);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  text(): Promise<string> {
    return this.#read(utf8);
  }

  json(): Promise<unknown> {
    return this.#read(parseJson);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#read(ownArrayBuffer);
  }

  bytes(): Promise<Uint8Array> {
    return this.#read(ownBytes);
  }

  /** The real undici Request, built once, sharing this request's headers, body stream and signal. */
  #realRequest(): Request {
    if (this.#real === undefined) {
      const init: RequestInit & { duplex?: "half" } = { method: this.method, headers: this.headers, signal: this.signal };
      const body = this.body;
      if (body !== null) {
        init.body = body;
        init.duplex = "half";
      }
      this.#real = new Request(this.url, init);
    }
    return this.#real;
  }

  static realOf(req: LazyRequest): Request {
    return req.#realRequest();
  }
}

// Everything else Request.prototype has (clone, formData, blob, cache, mode, …, and whatever a later Node adds)
// is forwarded to the real Request; so are undici's internal slots, which `new Request(lazy)` reads.
forwardToReal(LazyRequest, Request, new Request("http://probe.invalid/"), (self) => LazyRequest.realOf(self as LazyRequest));

/** Checks once that a lazy request passes for a real one where apps can tell: `new Request(lazy)` and friends. */
function lazyRequestsWork(): boolean {
  try {
    const head = {
      method: "POST", target: "/probe?x=1", versionMinor: 1 as const, headers: ["host", "probe.invalid", "x-probe", "1"],
      host: "probe.invalid", framing: "none" as const, contentLength: 0, keepAlive: true, expectContinue: false,
    };
    const ex = { head, info: ConnectionInfo.of("", 0, "", 0), body: null, onAbort: null, scheme: "http", forwardedHost: null } as unknown as Exchange;
    const lazy = new LazyRequest(ex, requestUrl(ex)!) as unknown as Request;
    const copy = new Request(lazy, { headers: { "x-copy": "1" } });
    return (
      lazy instanceof Request &&
      copy.url === "http://probe.invalid/probe?x=1" &&
      copy.method === "POST" &&
      copy.headers.get("x-copy") === "1" &&
      lazy.clone().headers.get("x-probe") === "1" &&
      Object.prototype.toString.call(lazy) === "[object Request]"
    );
  } catch {
    return false;
  }
}

export const LAZY_REQUESTS = lazyRequestsWork();

/** The Request for an exchange: lazy where this Node allows it, else real. */
export function createRequest(ex: Exchange, url: string): Request {
  return LAZY_REQUESTS ? (new LazyRequest(ex, url) as unknown as Request) : eagerRequest(ex, url);
}
