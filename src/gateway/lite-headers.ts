/**
 * The header list of a LiteResponse: the Fetch standard's Headers behaviour (names case-insensitive, values
 * normalised and checked, Set-Cookie kept apart, iteration sorted by name with values combined) on a plain Map.
 *
 * Why: middleware sets headers on the response it got (cors, secure headers, a timing header, an ETag): a
 * production-shaped Hono app sets a dozen per request. On Node 20 each undici `Headers#set` costs about 0.3 µs
 * (webidl conversions, a brand check, a sorted-list cache dropped and rebuilt) and copying a Headers into a new
 * Response re-validates every field; together that was half of such an app's own time per request. The
 * Headers an app builds itself (`new Headers()`) stay undici's; this class only backs `response.headers` of the
 * responses oryx's LiteResponse stands in for, and oryx's gateway reads its fields straight from the Map.
 *
 * It passes for a Headers (`instanceof`, toStringTag, `constructor`): every public member is its own. Handed to
 * undici (a native Response's or Request's init, fetch()), it is read as an iterable of pairs, as any HeadersInit
 * is. What it cannot do: be the `this` of undici's own methods (`Headers.prototype.get.call(h, …)`), which find
 * their private list missing and throw.
 */

const NativeHeaders = globalThis.Headers;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// A value the Fetch standard keeps as given: no whitespace to strip at either end, no NUL, CR or LF, all bytes.
const CLEAN_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;
const HTTP_WS_ENDS = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const FORBIDDEN_IN_VALUE = /[\0\r\n]/;
const NOT_BYTE = /[^\0-\xff]/;
const SET_COOKIE = "set-cookie";

function byteString(v: unknown, what: string): string {
  const s = typeof v === "string" ? v : String(v);
  if (NOT_BYTE.test(s)) throw new TypeError(`${what}: Cannot convert argument to a ByteString because it holds a character greater than 255.`);
  return s;
}

function headerName(v: unknown, method: string): string {
  if (typeof v === "string" && LOWER_TOKEN.test(v)) return v;
  const s = byteString(v, `Headers.${method}`);
  if (!TOKEN.test(s)) throw new TypeError(`Headers.${method}: "${s}" is an invalid header name.`);
  return s.toLowerCase();
}

function headerValue(v: unknown, method: string, name: string): string {
  if (typeof v === "string" && CLEAN_VALUE.test(v)) return v;
  const s = byteString(v, `Headers.${method}`).replace(HTTP_WS_ENDS, "");
  if (FORBIDDEN_IN_VALUE.test(s)) throw new TypeError(`Headers.${method}: "${s}" is an invalid header value for "${name}".`);
  return s;
}

/** Whether a value starts or ends with HTTP whitespace (only a combined one with an empty part can). */
function hasEdgeSpace(v: string): boolean {
  if (v.length === 0) return false;
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(v.length - 1);
  return first === 32 || first === 9 || first === 10 || first === 13 || last === 32 || last === 9 || last === 10 || last === 13;
}

function needArgs(n: number, got: number, method: string): void {
  if (got < n) throw new TypeError(`Headers.${method}: ${n} argument${n === 1 ? "" : "s"} required, but only ${got} present.`);
}

export class LiteHeaders {
  /** Lowercase name → combined value, Set-Cookie excepted; in the order names were first added. */
  #fields = new Map<string, string>();
  #cookies: string[] = [];

  constructor(init?: ConstructorParameters<typeof Headers>[0]) {
    if (init === undefined) return;
    if (LiteHeaders.isOne(init)) {
      this.#fields = new Map(init.#fields);
      this.#cookies = init.#cookies.slice();
      // A copy appends each combined value, normalised again: "a, " (an empty value appended last) becomes "a,".
      for (const [name, value] of this.#fields) if (hasEdgeSpace(value)) this.#fields.set(name, value.replace(HTTP_WS_ENDS, ""));
      return;
    }
    if (init instanceof NativeHeaders) {
      // Checked already; each Set-Cookie comes as its own pair; a combined value is normalised again, as above.
      for (const [name, value] of init) this.#add(name, hasEdgeSpace(value) ? value.replace(HTTP_WS_ENDS, "") : value);
      return;
    }
    if (init !== null && typeof init === "object" && Object.getPrototypeOf(init) === Object.prototype) {
      for (const key in init) {
        if (!Object.prototype.hasOwnProperty.call(init, key)) continue;
        const name = headerName(key, "constructor");
        this.#add(name, headerValue((init as Record<string, unknown>)[key], "constructor", name));
      }
      return;
    }
    // Sequences of pairs, records of other shapes, and every wrong kind of init: undici's checks and errors.
    for (const [name, value] of new NativeHeaders(init)) this.#add(name, value);
  }

  static isOne(v: unknown): v is LiteHeaders {
    return typeof v === "object" && v !== null && #fields in v;
  }

  /**
   * The fields as oryx's gateway sends them: (name, value, …), lowercase names in the order first added, each
   * Set-Cookie its own field, last.
   */
  static flat(h: LiteHeaders): string[] {
    const out: string[] = [];
    for (const [name, value] of h.#fields) out.push(name, value);
    for (const cookie of h.#cookies) out.push(SET_COOKIE, cookie);
    return out;
  }

  #add(name: string, value: string): void {
    if (name === SET_COOKIE) {
      this.#cookies.push(value);
      return;
    }
    const had = this.#fields.get(name);
    this.#fields.set(name, had === undefined ? value : `${had}, ${value}`);
  }

  append(name: string, value: string): void {
    needArgs(2, arguments.length, "append");
    const n = headerName(name, "append");
    this.#add(n, headerValue(value, "append", n));
  }

  set(name: string, value: string): void {
    needArgs(2, arguments.length, "set");
    const n = headerName(name, "set");
    const v = headerValue(value, "set", n);
    if (n === SET_COOKIE) this.#cookies = [v];
    else this.#fields.set(n, v);
  }

  delete(name: string): void {
    needArgs(1, arguments.length, "delete");
    const n = headerName(name, "delete");
    if (n === SET_COOKIE) this.#cookies = [];
    else this.#fields.delete(n);
  }

  get(name: string): string | null {
    needArgs(1, arguments.length, "get");
    const n = headerName(name, "get");
    if (n === SET_COOKIE) return this.#cookies.length === 0 ? null : this.#cookies.join(", ");
    return this.#fields.get(n) ?? null;
  }

  has(name: string): boolean {
    needArgs(1, arguments.length, "has");
    const n = headerName(name, "has");
    return n === SET_COOKIE ? this.#cookies.length > 0 : this.#fields.has(n);
  }

  getSetCookie(): string[] {
    return this.#cookies.slice();
  }

  /** The Fetch standard's "sort and combine": by name, Set-Cookie values each their own pair. */
  #sorted(): Array<[string, string]> {
    const names = [...this.#fields.keys()];
    if (this.#cookies.length > 0) names.push(SET_COOKIE);
    names.sort();
    const out: Array<[string, string]> = [];
    for (const name of names) {
      if (name === SET_COOKIE) for (const c of this.#cookies) out.push([SET_COOKIE, c]);
      else out.push([name, this.#fields.get(name)!]);
    }
    return out;
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    needArgs(1, arguments.length, "forEach");
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: Argument 1 could not be converted to: Function.");
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this as unknown as Headers);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#sorted()[Symbol.iterator]();
  }

  keys(): IterableIterator<string> {
    return this.#sorted()
      .map(([name]) => name)
      [Symbol.iterator]();
  }

  values(): IterableIterator<string> {
    return this.#sorted()
      .map(([, value]) => value)
      [Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): object {
    return new NativeHeaders(this.#sorted());
  }
}

Object.defineProperty(LiteHeaders.prototype, Symbol.toStringTag, { value: "Headers", configurable: true });
Object.defineProperty(LiteHeaders.prototype, "constructor", { value: NativeHeaders, configurable: true, writable: true });
Object.setPrototypeOf(LiteHeaders.prototype, NativeHeaders.prototype);
