/**
 * A ReadableStream that is built only when somebody reads it: the `body` of a LiteResponse whose body is a
 * string or bytes.
 *
 * Why: middleware very often rebuilds a response around the one it got, `new Response(res.body, res)`, to change
 * its headers (Hono's `c.header()` after `next()`, its `c.res = …`, a timing or an ETag middleware). On Node 20 a
 * ReadableStream costs more to build than the whole rest of a small exchange (about 5 µs, mostly in
 * `makeTransferable`), and the real undici Response around it as much again. A LazyBodyStream costs an object:
 * passed straight to `new Response()` untouched, the new response takes the bytes it stands for and no stream is
 * ever made. Anything else done with it (getReader, pipeTo, for await, Readable.fromWeb, a native Response or
 * Request body, …) builds the owner's real body stream once and works on that one: the stream's internal slots
 * (Node's own symbols, found on a sample stream, so a later Node's set is found too) are getters that answer
 * with the real stream's, so Node's own ReadableStream methods and helpers, which read the slots of `this`,
 * behave as on the real stream.
 */

type Materialize = (owner: object) => ReadableStream;

/** The own symbol slots of a ReadableStream in this Node (kState, kType, …). */
const SLOTS: readonly symbol[] = Object.getOwnPropertySymbols(new ReadableStream());

export class LazyBodyStream {
  readonly #owner: object;
  readonly #materialize: Materialize;
  #real: ReadableStream | undefined;

  constructor(owner: object, materialize: Materialize) {
    this.#owner = owner;
    this.#materialize = materialize;
  }

  static isOne(v: unknown): v is LazyBodyStream {
    return typeof v === "object" && v !== null && #owner in v;
  }

  /** The response whose body this is, while nobody has made its real stream; else undefined. */
  static untouchedOwner(s: LazyBodyStream): object | undefined {
    return s.#real === undefined ? s.#owner : undefined;
  }

  /** Makes `real` the stream this one stands for, unless it already has one (its owner built its real form). */
  static bind(s: LazyBodyStream, real: ReadableStream | null): void {
    if (real !== null) s.#real ??= real;
  }

  /** The real stream, built once. */
  static real(s: LazyBodyStream): ReadableStream {
    s.#real ??= s.#materialize(s.#owner);
    return s.#real;
  }
}

for (const slot of SLOTS) {
  Object.defineProperty(LazyBodyStream.prototype, slot, {
    configurable: true,
    get(this: LazyBodyStream) {
      return (LazyBodyStream.real(this) as unknown as Record<symbol, unknown>)[slot];
    },
  });
}
Object.defineProperty(LazyBodyStream.prototype, "constructor", { value: ReadableStream, configurable: true, writable: true });
Object.setPrototypeOf(LazyBodyStream.prototype, ReadableStream.prototype);

/**
 * Checks once that a lazy stream passes for a real one where code can tell: Node's methods and helpers work
 * through it and see the real stream's state. If this Node keeps something elsewhere, lazy bodies are not used.
 */
export function lazyBodiesWork(): boolean {
  try {
    const bytes = new Uint8Array([111, 107]);
    const make = (): LazyBodyStream =>
      new LazyBodyStream({}, () => new ReadableStream({ start: (c) => (c.enqueue(bytes), c.close()) }));
    const s = make() as unknown as ReadableStream<Uint8Array>;
    if (!(s instanceof ReadableStream) || Object.prototype.toString.call(s) !== "[object ReadableStream]" || s.locked) return false;
    const reader = s.getReader();
    if (!s.locked) return false;
    reader.releaseLock();
    if (s.locked) return false;
    // Tee: Node's internals build the branches from this stream's slots.
    const [a] = s.tee();
    return a instanceof ReadableStream && LazyBodyStream.untouchedOwner(make()) !== undefined;
  } catch {
    return false;
  }
}
