import { SocketAddress, isIPv4, isIPv6 } from "node:net";
import { CR, LF } from "./chars.ts";
import { latin1 } from "./fields.ts";

/**
 * The PROXY protocol (HAProxy, versions 1 and 2): a header a proxy writes at the very start of a connection to
 * say whom it forwards for. Only peers trusted as proxies may send one; the caller checks that before believing it.
 */

export interface ProxyAddress {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** "local": a health check by the proxy itself; use the real peer address. */
  command: "proxy" | "local";
  /** "unknown" for v1 UNKNOWN and v2 AF_UNSPEC/LOCAL. */
  transport: "tcp4" | "tcp6" | "unix" | "unknown";
  /** Null unless the transport is tcp4, tcp6 or unix (a unix address is its path, with port 0). */
  source: ProxyAddress | null;
  destination: ProxyAddress | null;
  /** Bytes of the buffer the header took: the connection's data starts after them. */
  length: number;
}

/** A malformed PROXY header. The message never echoes the client's bytes. */
export class ProxyHeaderError extends Error {
  readonly code = "BAD_PROXY_HEADER";
  constructor(message: string) {
    super(message);
    this.name = "ProxyHeaderError";
  }
}

/** The longest v1 line the spec allows, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;

/**
 * The longest v2 header accepted: the fixed 16 bytes and at most 2048 of addresses and TLVs. The spec allows 64 KiB,
 * but a client controls the length field and we hold the whole header in memory before answering.
 */
export const PROXY_V2_MAX_BYTES = 16 + 2048;

const V1_PREFIX = bytes("PROXY ");
const V2_SIGNATURE = bytes("\r\n\r\n\0\r\nQUIT\n");
const V2_FIXED_BYTES = 16;

const AF_UNSPEC = 0;
const AF_INET = 1;
const AF_INET6 = 2;
const AF_UNIX = 3;
/** Bytes of the source and destination addresses (and ports) each v2 family carries, by family number. */
const V2_ADDRESS_BYTES = [0, 12, 36, 216];
const UNIX_PATH_BYTES = 108;

const TRANSPORT_UNSPEC = 0;
const TRANSPORT_STREAM = 1;
const TRANSPORT_DGRAM = 2;

const PORT_RE = /^(?:0|[1-9][0-9]{0,4})$/;

const utf8 = new TextDecoder();

/**
 * Looks at the first bytes of a connection (the caller accumulates bytes and calls again with the whole prefix
 * until it gets an answer). Returns "need-more" when the bytes so far could still be (or are an incomplete)
 * PROXY header, null when they cannot be the start of one (the connection speaks HTTP or TLS directly), or the
 * parsed header. Throws ProxyHeaderError for a malformed header.
 *
 * The answer never depends on how the bytes were split: once it is not "need-more", every longer prefix of the same
 * bytes gets the same answer. It comes after at most PROXY_V1_MAX_BYTES bytes for v1, PROXY_V2_MAX_BYTES for v2.
 */
export function parseProxyHeader(buf: Uint8Array): ProxyHeader | null | "need-more" {
  if (buf.length === 0) return "need-more";
  // One byte tells the versions apart and turns away nearly everything else (HTTP methods, a TLS record) at once.
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  return null;
}

// ─── version 1: one text line ───────────────────────────────────────────────────────────────────────────────

function parseV1(buf: Uint8Array): ProxyHeader | null | "need-more" {
  const start = matchPrefix(buf, V1_PREFIX);
  if (start !== "match") return start;
  const end = Math.min(buf.length, PROXY_V1_MAX_BYTES);
  for (let i = V1_PREFIX.length; i < end; i++) {
    const c = buf[i];
    if (c === LF) throw new ProxyHeaderError("a PROXY v1 line ends in a bare LF");
    if (c !== CR) continue;
    if (i + 2 > PROXY_V1_MAX_BYTES) break;
    if (i + 1 === buf.length) return "need-more";
    if (buf[i + 1] !== LF) throw new ProxyHeaderError("a PROXY v1 line holds a CR not followed by LF");
    return parseV1Line(latin1(buf, V1_PREFIX.length, i), i + 2);
  }
  if (buf.length < PROXY_V1_MAX_BYTES) return "need-more";
  throw new ProxyHeaderError(`a PROXY v1 line is longer than ${PROXY_V1_MAX_BYTES} bytes`);
}

/** `line`: what follows "PROXY " up to, without, the CRLF. */
function parseV1Line(line: string, length: number): ProxyHeader {
  // UNKNOWN says "use the real peer address"; the spec lets anything follow it, as the receiver ignores it.
  if (line === "UNKNOWN" || line.startsWith("UNKNOWN ")) {
    return { version: 1, command: "proxy", transport: "unknown", source: null, destination: null, length };
  }
  const family = line.startsWith("TCP4 ") ? 4 : line.startsWith("TCP6 ") ? 6 : 0;
  if (family === 0) throw new ProxyHeaderError("a PROXY v1 line names a protocol other than TCP4, TCP6 or UNKNOWN");
  const fields = line.slice(5).split(" ");
  if (fields.length !== 4) {
    throw new ProxyHeaderError("a PROXY v1 line must hold two addresses and two ports, separated by single spaces");
  }
  return {
    version: 1,
    command: "proxy",
    transport: family === 4 ? "tcp4" : "tcp6",
    source: { address: v1Address(fields[0]!, family), port: v1Port(fields[2]!) },
    destination: { address: v1Address(fields[1]!, family), port: v1Port(fields[3]!) },
    length,
  };
}

function v1Address(text: string, family: 4 | 6): string {
  if (family === 4) {
    if (!isIPv4(text)) throw new ProxyHeaderError("a PROXY v1 TCP4 line holds something other than an IPv4 address");
    return text;
  }
  // A zone index names an interface of the proxy's host, meaningless here.
  if (!isIPv6(text) || text.includes("%")) {
    throw new ProxyHeaderError("a PROXY v1 TCP6 line holds something other than an IPv6 address");
  }
  return canonicalIPv6(text);
}

function v1Port(text: string): number {
  const port = PORT_RE.test(text) ? Number(text) : -1;
  if (port < 0 || port > 65535) throw new ProxyHeaderError("a PROXY v1 line holds a bad port");
  return port;
}

// ─── version 2: binary ──────────────────────────────────────────────────────────────────────────────────────

function parseV2(buf: Uint8Array): ProxyHeader | null | "need-more" {
  const start = matchPrefix(buf, V2_SIGNATURE);
  if (start !== "match") return start;

  // Each fixed byte is judged as soon as it arrives, so a bad header is refused without waiting for its length.
  if (buf.length < 13) return "need-more";
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError("a PROXY v2 header has a version other than 2");
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyHeaderError("a PROXY v2 header has a command other than LOCAL or PROXY");
  const local = command === 0;

  if (buf.length < 14) return "need-more";
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  if (family > AF_UNIX || transport > TRANSPORT_DGRAM) {
    throw new ProxyHeaderError("a PROXY v2 header has an undefined address family or transport");
  }
  // LOCAL discards the address block, family and transport included (spec §2.2), so only PROXY has them checked.
  if (!local) {
    if (transport === TRANSPORT_DGRAM) throw new ProxyHeaderError("a PROXY v2 header forwards a datagram connection");
    if (transport === TRANSPORT_UNSPEC && family !== AF_UNSPEC) {
      throw new ProxyHeaderError("a PROXY v2 header has an address family but no transport");
    }
  }

  if (buf.length < V2_FIXED_BYTES) return "need-more";
  const blockLength = (buf[14]! << 8) | buf[15]!;
  const length = V2_FIXED_BYTES + blockLength;
  if (length > PROXY_V2_MAX_BYTES) {
    throw new ProxyHeaderError(`a PROXY v2 header is longer than ${PROXY_V2_MAX_BYTES} bytes`);
  }
  const addressBytes = V2_ADDRESS_BYTES[family]!;
  if (!local && blockLength < addressBytes) {
    throw new ProxyHeaderError("a PROXY v2 header is too short for its address family");
  }
  if (buf.length < length) return "need-more";

  if (local || family === AF_UNSPEC) {
    return { version: 2, command: local ? "local" : "proxy", transport: "unknown", source: null, destination: null, length };
  }
  const a = V2_FIXED_BYTES;
  checkTlvs(buf, a + addressBytes, length);
  // The addresses (source, then destination) come first, then the two ports.
  if (family === AF_INET || family === AF_INET6) {
    const v4 = family === AF_INET;
    const size = v4 ? 4 : 16;
    const addressAt = v4 ? ipv4At : ipv6At;
    return {
      version: 2,
      command: "proxy",
      transport: v4 ? "tcp4" : "tcp6",
      source: { address: addressAt(buf, a), port: u16At(buf, a + 2 * size) },
      destination: { address: addressAt(buf, a + size), port: u16At(buf, a + 2 * size + 2) },
      length,
    };
  }
  return {
    version: 2,
    command: "proxy",
    transport: "unix",
    source: { address: unixPathAt(buf, a), port: 0 },
    destination: { address: unixPathAt(buf, a + UNIX_PATH_BYTES), port: 0 },
    length,
  };
}

/**
 * TLVs (type, 2-byte length, value) fill the rest of the block. None is interpreted, but they must tile it exactly:
 * a length pointing past the block means the header was built wrong, and what follows it cannot be trusted.
 */
function checkTlvs(buf: Uint8Array, start: number, end: number): void {
  let p = start;
  while (p < end) {
    if (end - p < 3) throw new ProxyHeaderError("a PROXY v2 header ends inside a TLV");
    p += 3 + u16At(buf, p + 1);
    if (p > end) throw new ProxyHeaderError("a PROXY v2 TLV runs past the end of the header");
  }
}

function u16At(buf: Uint8Array, i: number): number {
  return (buf[i]! << 8) | buf[i + 1]!;
}

function ipv4At(buf: Uint8Array, i: number): string {
  return `${buf[i]}.${buf[i + 1]}.${buf[i + 2]}.${buf[i + 3]}`;
}

function ipv6At(buf: Uint8Array, i: number): string {
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(u16At(buf, i + 2 * g).toString(16));
  return canonicalIPv6(groups.join(":"));
}

/** The path runs to its first NUL; Linux allows one that fills all 108 bytes without one. */
function unixPathAt(buf: Uint8Array, i: number): string {
  let end = i;
  while (end < i + UNIX_PATH_BYTES && buf[end] !== 0) end++;
  return utf8.decode(buf.subarray(i, end));
}

// ─── shared ─────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * IPv6 text as net.Socket.remoteAddress gives it (compressed, lowercase, IPv4-mapped in dotted form), so that an
 * address from a PROXY header compares equal to the same address seen directly. Node's own formatter is the
 * only way to be sure of that.
 */
function canonicalIPv6(text: string): string {
  try {
    return new SocketAddress({ address: text, family: "ipv6" }).address;
  } catch {
    throw new ProxyHeaderError("a PROXY header holds a bad IPv6 address");
  }
}

/** Compares byte by byte so a mismatch is reported at the first byte that shows it. */
function matchPrefix(buf: Uint8Array, prefix: Uint8Array): "match" | "need-more" | null {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return null;
  return n === prefix.length ? "match" : "need-more";
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
