import type net from "node:net";
import { readSocketInto, setSocketReader, type SocketReadCallback } from "../node-internals.ts";

/**
 * Reads sockets into one buffer shared by the whole process, as Node's http.Server reads its own sockets natively
 * into one buffer (parser.consume): the engine's connections (server/connection.ts) and the screens in front of
 * Node apps (node-screen.ts). A socket read through 'data' events instead costs a new ArrayBuffer per read and a
 * trip through the Readable stream; with the shared buffer a read is one call, nothing allocated. On the engine
 * that was about a tenth of the CPU time of a small request (README, Performance); next to Express's own work per
 * request it is small (issue 16).
 *
 * The price is the rule that makes it safe: the bytes are valid only during the call. Whoever reads them hands
 * them on synchronously (oryx's parser keeps strings and copies a partial line; Node's parser copies what it
 * keeps) and copies whatever it keeps longer (ownBytes): bytes kept aside, body chunks handed to an app, a
 * WebSocket's reads. Where Node does not let a socket be read this way (node-internals.ts: readSocketInto; a TLS
 * socket) it stays on 'data' events, which both readers handle too.
 */

/** Called for each read with the bytes read; they are valid only until it returns. */
export type OnRead = (bytes: Buffer) => void;


const SIZE = 64 * 1024;

/**
 * Bytes kept aside while a connection waits (pipelined requests behind an answer being made, a body the app has
 * not asked for yet) up to which reads from its socket go on: stopping and restarting reads costs two system
 * calls, and a pipelining client sends its next requests while one is answered. Past it the socket is paused, as
 * a socket's Readable stops at its high-water mark, so what a client makes oryx hold stays bounded.
 */
export const READ_AHEAD_BYTES = 16 * 1024;
let shared: Buffer | null = null;

/**
 * Switches `socket` to reads into the shared buffer, each given to `reader` (called as the socket's own method:
 * one function may serve every socket, no closure per connection; calling this again changes the reader); false
 * where it cannot be.
 */
export function readSharedWith(socket: net.Socket, reader: SocketReadCallback): boolean {
  return readSocketInto(socket, (shared ??= Buffer.allocUnsafeSlow(SIZE)), reader);
}

/** Switches `socket` to reads into the shared buffer, each given to `onRead`; false where it cannot be. */
export function readIntoShared(socket: net.Socket, onRead: OnRead): boolean {
  return readSharedWith(socket, (nread, buf) => onRead(buf.subarray(0, nread)));
}

/**
 * Puts a shared-buffer socket back on 'data' events for the code that takes it over (an app's upgrade, a
 * WebSocket): each read is copied and pushed into the socket's stream, with its back-pressure (push's false stops
 * reading).
 */
export function readIntoStream(socket: net.Socket): void {
  const buf = shared;
  if (buf !== null) setSocketReader(socket, (nread) => socket.push(Buffer.from(buf.subarray(0, nread))));
}

/** Whether `bytes` are a view of the shared buffer (valid only during the read that gave them). */
export function inSharedBuffer(bytes: Uint8Array): boolean {
  return shared !== null && bytes.buffer === shared.buffer;
}

/**
 * `bytes`, or a copy of them if they are in the shared buffer. The copy fills an ArrayBuffer of its own, as a read
 * through 'data' events would have (so whoever takes it may keep its whole buffer without holding anything more).
 */
export function ownBytes(bytes: Buffer): Buffer {
  if (!inSharedBuffer(bytes)) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(own, 0, 0, bytes.length);
  return own;
}
