/**
 * A lighter `Response` for apps running under oryx. On Node 20, `new Response("hi")` builds a web
 * ReadableStream (and its transfer machinery) for a body that oryx will write in one go: for a small response
 * that is most of the cost of the whole exchange. So workers install `LiteResponse` as the global `Response`
 * (as @hono/node-server does by default): for a string, bytes (not copied; see `keep`) or null body it keeps the body and init as given;
 * oryx's gateway writes them straight to the socket; anything else an app asks of it (body, clone(), text(), …)
 * builds the real undici Response once and asks that. Other bodies (streams, Blob, FormData, …) build the real
 * Response at once. `instanceof Response`, the static methods and the constructor's errors behave as before.
 */

import { asciiText, type AsciiText } from "./exchange.ts";
import { LazyBodyStream, lazyBodiesWork } from "./lazy-body.ts";
import { LiteHeaders } from "./lite-headers.ts";
import { forwardToReal } from "./stand-in.ts";

/** undici's Response, as this process had it before any stand-in was installed. */
export const NativeResponse: typeof Response = globalThis.Response;

const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A null body status (Fetch standard) that the constructor's range 200..599 lets through: 204, 205 or 304. */
const isNullBodyStatus = (status: number): boolean => status === 204 || status === 205 || status === 304;

type SimpleBody = string | Uint8Array | null;

function isSimpleBody(body: unknown): boolean {
  return body === undefined || body === null || typeof body === "string" || body instanceof ArrayBuffer || ArrayBuffer.isView(body);
}

/**
 * The body as kept: strings as given; bytes as a view of the app's own memory, not copied. undici copies a byte
 * body (the Fetch standard says to), which for a 64 KiB body served from memory costs more than the rest of the
 * exchange, with its garbage; @hono/node-server's and srvx's light responses do not copy either, nor does Node's
 * `res.end(buffer)`. The README says so: change a buffer after handing it to a Response and the client may see
 * the change.
 */
function keep(body: unknown): SimpleBody {
  if (body === undefined || body === null) return null;
  if (typeof body === "string") return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  const view = body as ArrayBufferView;
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

const TEXT_FIELDS: readonly string[] = ["content-type", "text/plain;charset=UTF-8"];
// Shared by every Response.json(): never changed (a Headers built from it is a copy).
const JSON_FIELDS: Readonly<Record<string, string>> = Object.freeze({ "content-type": "application/json" });
const JSON_FLAT: readonly string[] = ["content-type", "application/json"];
// What `new Headers({...})` would keep as given: a lowercase token name, a value with nothing to trim or refuse.
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const CLEAN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

/**
 * The header fields of `init.headers` as a flat list, in the cases where `new Headers(init.headers)` would hold
 * exactly those (plus the text content type a string body gets); null for anything else (a Headers object, an
 * array, names in capitals, values with spaces to trim), which takes the Headers path.
 */
function plainFields(init: ResponseInit["headers"], textBody: boolean): string[] | null {
  if (init === undefined) return textBody ? (TEXT_FIELDS as string[]) : [];
  if (init === JSON_FIELDS) return JSON_FLAT as string[];
  if (init === null || typeof init !== "object" || Array.isArray(init)) return null;
  const proto = Object.getPrototypeOf(init);
  if (proto !== Object.prototype && proto !== null) return null;
  const out: string[] = [];
  let hasType = false;
  for (const name in init) {
    const value = (init as Record<string, unknown>)[name];
    if (typeof value !== "string" || !LOWER_TOKEN.test(name) || !CLEAN_VALUE.test(value)) return null;
    if (name === "content-type") hasType = true;
    out.push(name, value);
  }
  if (textBody && !hasType) out.push("content-type", "text/plain;charset=UTF-8");
  return out;
}

/** What the gateway needs of a simple LiteResponse (see `LiteResponse.simple`). */
export interface SimpleParts {
  status: number;
  statusText: string;
  fields: string[] | null;
  body: Uint8Array | AsciiText | null;
}
const SIMPLE_PARTS: SimpleParts = { status: 200, statusText: "", fields: null, body: null };

/** Whether `body` hands out LazyBodyStreams (this Node lets them pass for real streams), checked once. */
const LAZY_BODIES = lazyBodiesWork();
const realBodyOf = (owner: object): ReadableStream => LiteResponse.realOf(owner as LiteResponse).body!;

export class LiteResponse {
  #body: SimpleBody;
  #init: ResponseInit | undefined;
  #status: number;
  #headers: Headers | undefined;
  #real: Response | undefined;
  /** A string body gets `text/plain;charset=UTF-8` unless the headers name a type: not one taken from a stream. */
  #textType = false;
  #lazyBody: LazyBodyStream | undefined;

  constructor(body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) {
    let textType = typeof body === "string";
    if (LazyBodyStream.isOne(body)) {
      // `new Response(res.body, …)` with the untouched body of another lite response: its bytes, as they are
      // (a body given as a stream gets no content type of its own). Else the real stream it stands for.
      const owner = LazyBodyStream.untouchedOwner(body);
      body = owner !== undefined && LiteResponse.isOne(owner) && owner.#real === undefined ? owner.#body : LazyBodyStream.real(body);
      textType = false;
    }
    if (!isSimpleBody(body) || (init !== undefined && (init === null || typeof init !== "object"))) {
      // Anything unusual: the real thing, now (its validation, its errors).
      this.#real = new NativeResponse(body, init);
      this.#body = null;
      this.#status = this.#real.status;
      return;
    }
    const status = init?.status ?? 200;
    // The constructor's checks, with its error types (Fetch standard, "initialize a response").
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
    }
    if (init?.statusText !== undefined && !REASON_PHRASE.test(String(init.statusText))) throw new TypeError("Invalid statusText");
    const b = keep(body);
    if (b !== null && isNullBodyStatus(status)) throw new TypeError(`Response constructor: Invalid response status code ${status}`);
    this.#body = b;
    this.#init = init;
    this.#status = status;
    this.#textType = textType;
    // A Headers object (another Response's, say) may change after this; the constructor copies it now.
    if (init?.headers instanceof Headers) this.#headers = this.#ownHeaders();
  }

  #ownHeaders(): Headers {
    const h = new LiteHeaders(this.#init?.headers) as unknown as Headers;
    if (this.#textType && !h.has("content-type")) h.set("content-type", "text/plain;charset=UTF-8");
    return h;
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    if (this.#real !== undefined) return this.#real.statusText;
    const text = this.#init?.statusText;
    return text === undefined ? "" : String(text);
  }

  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    this.#headers ??= this.#ownHeaders();
    return this.#headers;
  }

  /** The body stream: once handed out, always the same object; built only when somebody reads it. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real !== undefined) {
      // The stand-in handed out stays the body while it is the real response's (clone() replaces that).
      const body = this.#real.body;
      return this.#lazyBody !== undefined && LazyBodyStream.real(this.#lazyBody) === body ? (this.#lazyBody as unknown as ReadableStream<Uint8Array>) : body;
    }
    if (this.#lazyBody !== undefined) return this.#lazyBody as unknown as ReadableStream<Uint8Array>;
    if (this.#body === null) return null;
    if (!LAZY_BODIES) return this.#realResponse().body;
    this.#lazyBody = new LazyBodyStream(this, realBodyOf);
    return this.#lazyBody as unknown as ReadableStream<Uint8Array>;
  }

  /** Nobody can have read a body whose real form was never built. */
  get bodyUsed(): boolean {
    return this.#real !== undefined && this.#real.bodyUsed;
  }

  /** The real undici Response, built once from what this one holds (including any header changes made). */
  #realResponse(): Response {
    if (this.#real === undefined) {
      const init: ResponseInit = { status: this.#status, statusText: this.statusText, headers: this.headers };
      // A string taken from a stream goes as bytes, which get no content type of their own.
      const body = typeof this.#body === "string" && !this.#textType ? Buffer.from(this.#body, "utf8") : this.#body;
      this.#real = new NativeResponse(body, init);
      // A body stream already handed out is this real response's from now on.
      if (this.#lazyBody !== undefined) LazyBodyStream.bind(this.#lazyBody, this.#real.body);
    }
    return this.#real;
  }

  static isOne(v: unknown): v is LiteResponse {
    return typeof v === "object" && v !== null && #body in v;
  }

  static realOf(res: LiteResponse): Response {
    return res.#realResponse();
  }

  /**
   * For oryx's gateway: status, reason, the header fields and the bytes to send, if this response still holds a
   * simple body nobody has read; else null (then the gateway reads it as any Response). `fields` is the flat
   * list (name, value, …) when the headers could be read without building a Headers object (the app never
   * touched them and gave none, or a plain object of lowercase names and clean values); else null, and the
   * gateway reads `headers`. The answer is one object reused by every call: read it before the next.
   */
  static simple(res: LiteResponse): SimpleParts | null {
    if (res.#real !== undefined) return null;
    const b = res.#body;
    const parts = SIMPLE_PARTS;
    parts.status = res.#status;
    parts.statusText = res.statusText;
    parts.fields = res.#headers === undefined ? plainFields(res.#init?.headers, res.#textType) : null;
    parts.body = b === null ? null : typeof b === "string" ? (asciiText(b) ?? Buffer.from(b, "utf8")) : b;
    return parts;
  }

  static json(data: unknown, init?: ResponseInit): Response {
    const body = JSON.stringify(data);
    if (body === undefined) return NativeResponse.json(data, init); // let undici throw its TypeError
    if (init?.headers === undefined) return new LiteResponse(body, { ...init, headers: JSON_FIELDS }) as unknown as Response;
    const headers = new LiteHeaders(init.headers) as unknown as Headers;
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new LiteResponse(body, { ...init, headers }) as unknown as Response;
  }

  static error(): Response {
    return NativeResponse.error();
  }

  static redirect(url: string | URL, status?: number): Response {
    return NativeResponse.redirect(url, (status ?? 302) as Parameters<typeof Response.redirect>[1]);
  }
}

// Everything else of Response.prototype (body, bodyUsed, clone, text, json, type, url, …, and what a later Node
// adds) goes to the real Response; so do undici's internal slots, which other undici code reads.
forwardToReal(LiteResponse, NativeResponse, new NativeResponse(null), (self) => LiteResponse.realOf(self as LiteResponse));
Object.setPrototypeOf(LiteResponse, NativeResponse);

/**
 * Installed as the global `Response`, LiteResponse must not change what `x instanceof Response` answers: a
 * Response that Node itself made (`fetch()`, `Response.redirect()`, `Response.error()`, a clone) is a Response,
 * as is one of another lazy class built on the native prototype (srvx's, h3's). So `instanceof LiteResponse`
 * asks what `instanceof` the native class would; a subclass an app declares (`class R extends Response`)
 * inherits this static method and keeps the ordinary answer for itself.
 */
const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];
Object.defineProperty(LiteResponse, Symbol.hasInstance, {
  configurable: true,
  value(this: unknown, value: unknown): boolean {
    return ordinaryHasInstance.call(this === LiteResponse ? NativeResponse : this, value);
  },
});

/** Checks once that a lite response passes for a real one where code can tell. */
function liteResponsesWork(): boolean {
  try {
    const r = new LiteResponse("probe", { status: 201, headers: { "x-probe": "1" } }) as unknown as Response;
    const copy = r.clone();
    return (
      r instanceof NativeResponse &&
      NativeResponse.redirect("http://probe.invalid/", 302) instanceof LiteResponse &&
      Object.prototype.toString.call(r) === "[object Response]" &&
      copy.status === 201 &&
      copy.headers.get("x-probe") === "1" &&
      r.headers.get("content-type") === "text/plain;charset=UTF-8"
    );
  } catch {
    return false;
  }
}

/** Makes `Response` in this process the lite one (workers do this before loading the app). */
export function installLiteResponse(): boolean {
  if (globalThis.Response !== NativeResponse || !liteResponsesWork()) return false;
  globalThis.Response = LiteResponse as unknown as typeof Response;
  return true;
}

/** A LiteResponse (or an app's subclass of it) by its brand: `instanceof` answers for every Response. */
export function isLiteResponse(v: unknown): v is LiteResponse {
  return LiteResponse.isOne(v);
}
