/**
 * Every reliance of oryx on Node.js internals that Node does not document, in one place: each one named, with why
 * oryx uses it, and checked at start-up (`checkNodeInternals`), so that a Node.js release that changes one stops
 * oryx with one clear sentence (a NodeInternalsError) instead of misbehaving under load. A leaf module: it
 * imports nothing of oryx but its error class, so every room may use it (`http/` included).
 *
 * Not here, because they are checked where they are used, against a real object of this Node at load time:
 * the symbol slots copied from a real ReadableStream or Response onto oryx's lighter ones (gateway/lazy-body.ts,
 * gateway/stand-in.ts, gateway/fetch.ts), and the 'data' and 'end' listeners Node's http.Server puts on a socket
 * it is handed (gateway/node-screen.ts, which refuses the socket with a ScreenError if they are missing).
 * Not checked at start-up because oryx works without them: reading a socket into a buffer of oryx's
 * (readSocketInto; without it a socket emits 'data' as usual), and telling Node's http.Server of a request oryx
 * has parsed (nodeRequestCalls; without it the screen gives Node the request's bytes to parse again).
 */
import http from "node:http";
import net from "node:net";
import { NodeInternalsError } from "./errors.ts";

declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    /** Node's own latin1 writer (what `write(s, offset, "latin1")` calls, without the argument parsing). */
    latin1Write(s: string, offset: number): number;
  }
}

// ─── Buffer#latin1Slice ────────────────────────────────────────────────────────────────────────────────────

/**
 * Bytes `start` to `end` of `buf` as a Latin-1 string, one char per byte (so obs-text survives and lengths stay
 * byte lengths). `Buffer#latin1Slice` is what `toString("latin1", start, end)` calls after parsing its
 * arguments; the parser calls it for every field, where the argument parsing showed in profiles. It works on any
 * Uint8Array.
 */
export function latin1Slice(buf: Uint8Array, start: number, end: number): string {
  return Buffer.prototype.latin1Slice.call(buf, start, end) as string;
}

// ─── a socket's output, as libuv holds it ──────────────────────────────────────────────────────────────────

type SocketInternals = { _bytesDispatched?: number; _handle?: { writeQueueSize?: number } | null; _parent?: net.Socket | null };

/**
 * How far a socket's output has got: bytes handed to libuv (`_bytesDispatched`) minus those libuv still holds
 * (`_handle.writeQueueSize`), so it grows exactly by what the kernel accepted. (Node's own `bufferSize` getter
 * reads the same writeQueueSize.) A TLS socket adds its underlying TCP socket's (`_parent`), where the encrypted
 * bytes wait. The send timeout compares two marks to tell a slow reader from one that reads nothing.
 */
export function socketSentMark(socket: net.Socket): number {
  const s = socket as unknown as SocketInternals;
  let mark = (s._bytesDispatched ?? 0) - (s._handle?.writeQueueSize ?? 0);
  const parent = s._parent;
  if (parent !== undefined && parent !== null) {
    const p = parent as unknown as SocketInternals;
    mark += (p._bytesDispatched ?? 0) - (p._handle?.writeQueueSize ?? 0);
  }
  return mark;
}

/** Bytes of output not yet taken by the kernel: the stream's buffer and libuv's write queue. */
export function socketQueuedBytes(socket: net.Socket): number {
  return socket.writableLength + ((socket as unknown as SocketInternals)._handle?.writeQueueSize ?? 0);
}

/**
 * The TCP socket a server-side TLS socket wraps (node:tls keeps it as `_parent`): the accepted socket oryx knew
 * before the handshake, with its arrival time and PROXY header. Undefined if this Node keeps it elsewhere.
 */
export function tlsUnderlyingSocket(socket: net.Socket): net.Socket | undefined {
  const parent = (socket as unknown as SocketInternals)._parent;
  return parent === null ? undefined : parent;
}

// ─── net._createServerHandle ───────────────────────────────────────────────────────────────────────────────

/** A libuv TCP or pipe handle, as `net._createServerHandle` returns it. */
export interface RawServerHandle {
  close(): void;
  getsockname?(out: Record<string, unknown>): number;
  fd?: number;
}

export type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => RawServerHandle | number;

/**
 * Node's cluster module binds shared sockets in its primary with `net._createServerHandle` and sends each
 * worker the handle; oryx's master does the same (arbiter/sockets.ts), so "address in use" is found once, at
 * start, and the sockets stay open while workers come and go.
 */
export function createServerHandle(): CreateServerHandle {
  const f = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof f !== "function") throw missing("net._createServerHandle", "which oryx's master uses to bind the sockets it shares with its workers");
  return f;
}

// ─── a socket read into a buffer of oryx's ─────────────────────────────────────────────────────────────────

interface ReadSlots {
  buffer: symbol;
  callback: symbol;
}
let readSlots: ReadSlots | null | undefined;

/** net.Socket's slots for the `onread` option (kBuffer, kBufferCb), found by their descriptions once. */
function readSlotsOf(socket: net.Socket): ReadSlots | null {
  if (readSlots !== undefined) return readSlots;
  const byName = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const buffer = byName.get("kBuffer");
  const callback = byName.get("kBufferCb");
  readSlots = buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
  return readSlots;
}

type ReadHandle = { useUserBuffer?: (buf: Uint8Array) => void; constructor: { name: string } } | null;

/** Called as the socket's method for each read: how many bytes were read into `buf`. */
export type SocketReadCallback = (this: net.Socket, nread: number, buf: Buffer) => unknown;

/**
 * Makes `socket` read into `buf` and call `onRead(nread, buf)` for each read (as the socket's method: that is how
 * net.Socket calls it) instead of emitting 'data'. This is what net.Socket does for the documented `onread`
 * option of `net.connect()` (its kBuffer and kBufferCb slots, and its handle's `useUserBuffer`), which Node offers
 * only for sockets it connects; oryx switches it on for sockets already accepted (gateway/read-buffer.ts: the
 * engine's connections, and a Node app's screen, read as Node's own parser does, without a Buffer per read).
 * net.Socket's pause(), resume() and end of input honour it as for `onread`. Only a plain TCP or Unix-socket
 * handle: a TLS socket's handle decrypts into buffers of its own.
 *
 * Returns false, changing nothing, where any of it is missing: the socket keeps emitting 'data', slower and
 * never wrong, so this is not part of the start-up check.
 */
export function readSocketInto(socket: net.Socket, buf: Buffer, onRead: SocketReadCallback): boolean {
  const handle = (socket as unknown as { _handle: ReadHandle })._handle;
  if (handle === null || typeof handle.useUserBuffer !== "function") return false;
  if (handle.constructor.name !== "TCP" && handle.constructor.name !== "Pipe") return false;
  const slots = readSlotsOf(socket);
  if (slots === null) return false;
  const slotted = socket as unknown as Record<symbol, unknown>;
  slotted[slots.buffer] = buf;
  slotted[slots.callback] = onRead;
  handle.useUserBuffer(buf);
  return true;
}

/**
 * Replaces the function a socket switched by readSocketInto calls for each read (its handle keeps reading into
 * the same buffer). Returning false from it stops reading until the socket is resumed, as for `onread`.
 */
export function setSocketReader(socket: net.Socket, onRead: SocketReadCallback): void {
  const slots = readSlotsOf(socket);
  if (slots !== null) (socket as unknown as Record<symbol, unknown>)[slots.callback] = onRead;
}

// ─── Node's HTTP parser, told of a request oryx parsed ──────────────────────────────────────────────────────

/**
 * The parser an http.Server puts on a socket it is handed (`socket.parser`, lib/_http_server.js): llhttp, whose
 * callbacks (lib/_http_common.js) sit in numbered slots, named by the statics of its class (`kOnHeadersComplete`
 * …). Those callbacks build the app's IncomingMessage, hand it to the server with its ServerResponse (every
 * listener, 'checkContinue', Expect, keep-alive, the request diagnostics channel), push the body into it and end
 * it: all of Node's semantics but the parsing itself.
 */
export interface NodeHttpParser {
  [slot: number]: unknown;
  incoming: unknown;
  _headers: string[];
  pause(): void;
  constructor: NodeHttpParserClass;
}

interface NodeHttpParserClass {
  new (): NodeHttpParser & { initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void; execute(b: Buffer): unknown; close?(): void };
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

/**
 * Node's own parser callbacks, called with what oryx's parser found, so that a request oryx accepted is not
 * parsed a second time (issue 16: Express behind oryx's parser paid llhttp's parse, its strings and a pass
 * through the socket's 'data' path on every request).
 */
export interface NodeRequestCalls {
  /** llhttp's number for a method (what parserOnHeadersComplete looks up), or undefined for one it does not know. */
  method(name: string): number | undefined;
  /** The head: `rawHeaders` flat (name as sent, value); returns what Node's onIncoming returned. */
  headersComplete(parser: NodeHttpParser, versionMinor: number, rawHeaders: string[], method: number, url: string, keepAlive: boolean): unknown;
  /** A piece of the body, the app's to keep (never a view of a buffer that is reused). */
  body(parser: NodeHttpParser, chunk: Buffer): void;
  /** The end of the body, with the trailer fields (flat; empty for none). */
  messageComplete(parser: NodeHttpParser, rawTrailers: string[]): void;
}

type ParserCallback = (this: NodeHttpParser, ...args: unknown[]) => unknown;

const requestCalls = new WeakMap<NodeHttpParserClass, NodeRequestCalls | null>();

/**
 * The calls for sockets whose `socket.parser` is `parser`, or null where this Node's parser does not look as
 * expected (the screen then gives Node bytes, as before). Learnt once per process: llhttp's method numbers are
 * not exported, so a parser of the same class parses one request line per method of `http.METHODS` and says
 * the number it was given.
 */
export function nodeRequestCalls(parser: NodeHttpParser | null | undefined): NodeRequestCalls | null {
  if (parser === null || parser === undefined) return null;
  const P = parser.constructor;
  let calls = requestCalls.get(P);
  if (calls === undefined) {
    calls = learnRequestCalls(parser);
    requestCalls.set(P, calls);
  }
  return calls;
}

function learnRequestCalls(parser: NodeHttpParser): NodeRequestCalls | null {
  const P = parser.constructor;
  const slots = [P.kOnHeaders, P.kOnHeadersComplete, P.kOnBody, P.kOnMessageComplete];
  if (!slots.every((k) => typeof k === "number" && typeof parser[k] === "function") || typeof P.REQUEST !== "number") return null;
  const { kOnHeadersComplete, kOnBody, kOnMessageComplete } = P;
  const numbers = new Map<string, number>();
  try {
    const probe = new P();
    probe.initialize(P.REQUEST, {}, 0, 0);
    let seen: unknown;
    probe[P.kOnHeaders] = () => {};
    probe[P.kOnHeadersComplete] = (_major: unknown, _minor: unknown, _headers: unknown, method: unknown) => {
      seen = method;
      return 0;
    };
    probe[P.kOnBody] = () => {};
    probe[P.kOnMessageComplete] = () => {};
    for (const m of http.METHODS) {
      if (m === "CONNECT") continue;
      seen = undefined;
      const r = probe.execute(Buffer.from(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`, "latin1"));
      if (r instanceof Error || typeof seen !== "number") return null;
      numbers.set(m, seen);
    }
    probe.close?.();
  } catch {
    return null;
  }
  return {
    method: (name) => numbers.get(name),
    // Each socket's parser's own callbacks (Node gives every parser the same ones), called as llhttp calls them.
    headersComplete: (p, versionMinor, rawHeaders, method, url, keepAlive) =>
      (p[kOnHeadersComplete] as ParserCallback).call(p, 1, versionMinor, rawHeaders, method, url, 0, "", false, keepAlive),
    body: (p, chunk) => {
      (p[kOnBody] as ParserCallback).call(p, chunk);
    },
    messageComplete: (p, rawTrailers) => {
      if (rawTrailers.length > 0) p._headers = rawTrailers;
      (p[kOnMessageComplete] as ParserCallback).call(p);
    },
  };
}

// ─── the start-up check ────────────────────────────────────────────────────────────────────────────────────

/** Which part of oryx is starting: a worker or serve() (an engine), or the master (which also binds). */
export type InternalsUser = "engine" | "master";

/**
 * Checks, once at start-up, that the internals the caller will use are there; throws a NodeInternalsError naming
 * the first one missing. Cheap: a few property reads on objects made here.
 */
export function checkNodeInternals(user: InternalsUser): void {
  if (user === "master") {
    createServerHandle();
    return;
  }
  if (typeof Buffer.prototype.latin1Slice !== "function") throw missing("Buffer#latin1Slice", "which oryx's request parser uses to read every field");
  if (typeof Buffer.prototype.latin1Write !== "function") throw missing("Buffer#latin1Write", "which oryx uses to write response heads");
  const probe = new net.Socket() as unknown as SocketInternals;
  if (typeof probe._bytesDispatched !== "number" || !("_parent" in probe)) {
    throw missing("net.Socket's _bytesDispatched and _parent", "which oryx's --send-timeout uses to see a client's progress");
  }
}

function missing(what: string, why: string): NodeInternalsError {
  return new NodeInternalsError(`this Node.js (${process.version}) has no ${what}, ${why}; oryx needs a Node.js it supports (see the README)`);
}
