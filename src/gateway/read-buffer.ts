import type net from "node:net";

/**
 * Reads a screened socket into one buffer shared by every screen of the process, as node:net's documented
 * `onread` option does for a socket it connects (net.connect({ onread })), here switched on for a socket already
 * accepted. Node's own http.Server reads its sockets natively into one shared buffer (parser.consume); a socket
 * read through 'data' events instead costs a new ArrayBuffer per read and a trip through the Readable stream,
 * which made Express on oryx some 8 % slower per request (issue 16). With the shared buffer a read is one call,
 * nothing allocated.
 *
 * The price is the rule that makes it safe: the bytes are valid only during the call. The screen hands them on
 * synchronously (Node's parser copies what it keeps: strings for the head, a copy per body chunk) and copies
 * whatever it keeps longer (ownBytes).
 *
 * It uses what `onread` uses inside node:net (the socket's kBuffer/kBufferCb slots, the handle's
 * useUserBuffer), found by their names; where they are missing (another Node, a TLS socket, whose handle is not
 * a plain stream) the socket stays on 'data' events, which the screen handles too.
 */

/** Called for each read with the bytes read; they are valid only until it returns. */
export type OnRead = (bytes: Buffer) => void;

const SIZE = 64 * 1024;
let shared: Buffer | null = null;

interface Handle {
  useUserBuffer?: (buf: Uint8Array) => void;
  constructor: { name: string };
}

interface Slots {
  buffer: symbol;
  callback: symbol;
}
let slots: Slots | null | undefined;

function slotsOf(socket: net.Socket): Slots | null {
  if (slots !== undefined) return slots;
  const byName = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const buffer = byName.get("kBuffer");
  const callback = byName.get("kBufferCb");
  slots = buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
  return slots;
}

/**
 * Switches `socket` to reads into the shared buffer, each given to `onRead`. Returns false (and changes nothing)
 * where that is not possible: the socket keeps emitting 'data'.
 */
export function readIntoShared(socket: net.Socket, onRead: OnRead): boolean {
  const handle = (socket as unknown as { _handle: Handle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== "function") return false;
  // Only plain TCP and Unix-socket handles: a TLS socket's handle decrypts into buffers of its own.
  if (handle.constructor.name !== "TCP" && handle.constructor.name !== "Pipe") return false;
  const s = slotsOf(socket);
  if (s === null) return false;
  const buf = (shared ??= Buffer.allocUnsafeSlow(SIZE));
  const slotted = socket as unknown as Record<symbol, unknown>;
  slotted[s.buffer] = buf;
  slotted[s.callback] = (nread: number): void => onRead(buf.subarray(0, nread));
  handle.useUserBuffer(buf);
  return true;
}

/**
 * Puts a shared-buffer socket back on 'data' events as far as can be (the handle keeps reading into the shared
 * buffer): each read is copied and pushed into the socket's stream, with its back-pressure. For a socket the app
 * takes over (an upgrade).
 */
export function readIntoStream(socket: net.Socket): void {
  const s = slotsOf(socket);
  if (s === null) return;
  const slotted = socket as unknown as Record<symbol, unknown>;
  const buf = slotted[s.buffer] as Buffer | null;
  if (buf === null) return;
  slotted[s.callback] = (nread: number): boolean => socket.push(Buffer.from(buf.subarray(0, nread)));
}

/** `bytes`, or a copy of them if they are in the shared buffer (valid only during the read). */
export function ownBytes(bytes: Buffer): Buffer {
  return shared !== null && bytes.buffer === shared.buffer ? Buffer.from(bytes) : bytes;
}
