import { SocketAddress, isIPv4, isIPv6 } from "node:net";
import { TCHAR } from "../http/chars.ts";
import type { TrustedPeers } from "./trust.ts";

/**
 * What a trusted proxy says about the client: from `Forwarded` (RFC 7239) when the request has one, else from the
 * de-facto X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host.
 *
 * Whoever connects to the first proxy can write any of these headers, so the chain is believed only from the right:
 * each proxy appends the peer it saw, and the client is the nearest hop that is not itself a trusted proxy.
 */

export interface ForwardedView {
  /** The client's address per the proxy chain, or null when the headers name none (or only "unknown"/obfuscated ones). */
  client: { address: string; port: number } | null;
  scheme: "http" | "https" | null;
  /** host[:port], validated (reg-name, IPv4 or [IPv6], optional port); null when absent or invalid. */
  host: string | null;
}

/**
 * Hops beyond this many from the right are never looked at: a client can send any number of them, and no real
 * chain of proxies is that long.
 */
const MAX_HOPS = 32;

/** One hop of the chain: where a proxy says a request came from. */
interface Hop {
  /** Null when the hop names no usable address: "unknown", obfuscated, malformed or absent. */
  address: string | null;
  port: number;
}

/** One forwarded-element of a `Forwarded` field, its parameters unescaped; null values were absent. */
interface ForwardedElement {
  hop: Hop;
  proto: string | null;
  host: string | null;
}

const NO_ADDRESS: Hop = { address: null, port: 0 };
const UNREADABLE: ForwardedElement = { hop: NO_ADDRESS, proto: null, host: null };

const PORT_RE = /^[0-9]{1,5}$/;
/** An RFC 7239 §6.3 obfuscated port: "_" then ALPHA / DIGIT / "." / "_" / "-". It says nothing, so it reads as 0. */
const OBFUSCATED_RE = /^_[A-Za-z0-9._-]+$/;
/** RFC 3986 reg-name (which includes IPv4), minus the comma that separates list entries, and an optional port. */
const REG_NAME_HOST_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+;=]|%[0-9A-Fa-f]{2})+(?::([0-9]{1,5}))?$/;
const IPV6_HOST_RE = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/;
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/**
 * `headers` is a flat list [name, value, name, value, ...] with lowercase names, as oryx's parser gives it
 * (a field may repeat). Call it only for requests from a trusted peer. Returns null when the request carries
 * none of Forwarded, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host.
 *
 * When `Forwarded` is present it alone counts. The client is the rightmost hop whose address is not trusted
 * (`trusted.allows(address, "tcp")`), or the leftmost of the last 32 hops when all of those are; a hop with no
 * usable address ("unknown", obfuscated, malformed) is never trusted, so choosing it gives a null client. With
 * `Forwarded`, scheme and host are the chosen element's own `proto=` and `host=`. With X-Forwarded-*, Proto and
 * Host entries line up with X-Forwarded-For's when they have as many, else their leftmost entry counts. Never throws.
 */
export function readForwarded(headers: readonly string[], trusted: TrustedPeers): ForwardedView | null {
  let forwarded: string[] | null = null;
  let forwardedFor: string[] | null = null;
  let forwardedProto: string[] | null = null;
  let forwardedHost: string[] | null = null;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    switch (headers[i]) {
      case "forwarded":
        (forwarded ??= []).push(headers[i + 1]!);
        break;
      case "x-forwarded-for":
        (forwardedFor ??= []).push(headers[i + 1]!);
        break;
      case "x-forwarded-proto":
        (forwardedProto ??= []).push(headers[i + 1]!);
        break;
      case "x-forwarded-host":
        (forwardedHost ??= []).push(headers[i + 1]!);
        break;
    }
  }
  if (forwarded !== null) return fromForwarded(forwarded, trusted);
  if (forwardedFor === null && forwardedProto === null && forwardedHost === null) return null;
  return fromXForwarded(forwardedFor ?? [], forwardedProto ?? [], forwardedHost ?? [], trusted);
}

// ─── Forwarded (RFC 7239) ───────────────────────────────────────────────────────────────────────────────────

function fromForwarded(lines: readonly string[], trusted: TrustedPeers): ForwardedView {
  // Lines are read from the last one back, each on its own: only the last 32 elements are needed, and an
  // unterminated quote in a line the client wrote cannot swallow the elements a proxy added on a later line.
  const lastLines: ForwardedElement[][] = [];
  let count = 0;
  for (let l = lines.length - 1; l >= 0 && count < MAX_HOPS; l--) {
    const parsed = parseForwardedLine(lines[l]!);
    lastLines.push(parsed);
    count += parsed.length;
  }
  const elements = lastLines.reverse().flat();
  const chosen = chooseHop(elements.length, (i) => elements[i]!.hop, trusted);
  if (chosen === -1) return { client: null, scheme: null, host: null };
  const element = elements[chosen]!;
  return {
    client: clientOf(element.hop),
    scheme: element.proto === null ? null : schemeOf(element.proto),
    host: element.host === null ? null : hostOf(element.host),
  };
}

/**
 * The forwarded-elements of one field line. Empty elements and empty pairs are skipped (list syntax, RFC 9110
 * §5.6.1), and optional whitespace is allowed around ";" as well as ",". From the first syntax error on, the rest of
 * the line is one element that names nothing: where it ends cannot be known.
 */
function parseForwardedLine(line: string): ForwardedElement[] {
  const out: ForwardedElement[] = [];
  const end = line.length;
  let i = skipOws(line, 0);
  while (i < end) {
    if (line.charCodeAt(i) === COMMA) {
      i = skipOws(line, i + 1);
      continue;
    }
    const params = new Map<string, string>();
    let malformed = false;
    for (;;) {
      i = skipOws(line, i);
      const c = line.charCodeAt(i);
      if (i >= end || c === COMMA) break;
      if (c === SEMICOLON) {
        i++;
        continue;
      }
      const nameStart = i;
      while (i < end && isTchar(line.charCodeAt(i))) i++;
      const name = line.slice(nameStart, i).toLowerCase();
      if (name === "" || line.charCodeAt(i) !== EQUALS) {
        malformed = true;
        break;
      }
      const value = readValue(line, i + 1);
      // RFC 7239 §4: a parameter must not occur more than once per element.
      if (value === null || params.has(name)) {
        malformed = true;
        break;
      }
      params.set(name, value.text);
      i = skipOws(line, value.next);
      const after = line.charCodeAt(i);
      if (i < end && after !== SEMICOLON && after !== COMMA) {
        malformed = true;
        break;
      }
    }
    if (malformed) {
      out.push(UNREADABLE);
      break;
    }
    const forNode = params.get("for");
    out.push({
      hop: forNode === undefined ? NO_ADDRESS : parseNode(forNode, false),
      proto: params.get("proto") ?? null,
      host: params.get("host") ?? null,
    });
  }
  return out;
}

/** A token or a quoted-string (unescaped) starting at `start`, and where it ends; null if neither is there. */
function readValue(line: string, start: number): { text: string; next: number } | null {
  const end = line.length;
  if (line.charCodeAt(start) !== DQUOTE) {
    let i = start;
    while (i < end && isTchar(line.charCodeAt(i))) i++;
    return i === start ? null : { text: line.slice(start, i), next: i };
  }
  let text = "";
  for (let i = start + 1; i < end; i++) {
    let c = line.charCodeAt(i);
    if (c === DQUOTE) return { text, next: i + 1 };
    if (c === BACKSLASH) {
      if (++i === end) return null;
      c = line.charCodeAt(i);
      if (!(c === HTAB || (c >= 0x20 && c !== 0x7f && c <= 0xff))) return null;
    } else if (!(c === HTAB || (c >= 0x20 && c !== 0x7f && c <= 0xff))) {
      return null;
    }
    text += line[i];
  }
  return null;
}

function isTchar(c: number): boolean {
  return c < 256 && TCHAR[c] === 1;
}

function skipOws(line: string, i: number): number {
  while (i < line.length && (line.charCodeAt(i) === SP || line.charCodeAt(i) === HTAB)) i++;
  return i;
}

// ─── X-Forwarded-* ──────────────────────────────────────────────────────────────────────────────────────────

function fromXForwarded(
  forLines: readonly string[],
  protoLines: readonly string[],
  hostLines: readonly string[],
  trusted: TrustedPeers,
): ForwardedView {
  const hops = listEntries(forLines);
  const chosen = chooseHop(hops.length, (i) => parseNode(hops[i]!, true), trusted);
  const protos = listEntries(protoLines);
  const hosts = listEntries(hostLines);
  const proto = entryFor(protos, hops.length, chosen);
  const host = entryFor(hosts, hops.length, chosen);
  return {
    client: chosen === -1 ? null : clientOf(parseNode(hops[chosen]!, true)),
    scheme: proto === null ? null : schemeOf(proto),
    host: host === null ? null : hostOf(host),
  };
}

/** A Proto or Host list that lines up with X-Forwarded-For gives the chosen hop's entry; any other, its leftmost. */
function entryFor(entries: readonly string[], hopCount: number, chosen: number): string | null {
  if (entries.length === 0) return null;
  return entries.length === hopCount && chosen !== -1 ? entries[chosen]! : entries[0]!;
}

/** Repeated fields as one comma-separated list, trimmed, without empty entries (RFC 9110 §5.6.1). */
function listEntries(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    for (const part of line.split(",")) {
      // Only SP and HTAB are optional whitespace; String.prototype.trim would also eat U+00A0.
      const t = part.replace(OWS_EDGES, "");
      if (t !== "") out.push(t);
    }
  }
  return out;
}

// ─── shared ─────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The index of the client among `count` hops: walking from the right, the first hop not trusted; if the last
 * MAX_HOPS all are, the leftmost of them. -1 when there are no hops.
 */
function chooseHop(count: number, hopAt: (i: number) => Hop, trusted: TrustedPeers): number {
  const leftmost = Math.max(0, count - MAX_HOPS);
  for (let i = count - 1; i >= leftmost; i--) {
    const { address } = hopAt(i);
    if (address === null || !trusted.allows(address, "tcp")) return i;
  }
  return count === 0 ? -1 : leftmost;
}

function clientOf(hop: Hop): { address: string; port: number } | null {
  if (hop.address === null) return null;
  // The form net.Socket.remoteAddress uses, so a forwarded client compares equal to the same client seen directly.
  if (!hop.address.includes(":")) return { address: hop.address, port: hop.port };
  try {
    return { address: new SocketAddress({ address: hop.address, family: "ipv6" }).address, port: hop.port };
  } catch {
    return null; // isIPv6 let through something Node's own parser refuses: no usable address after all
  }
}

/**
 * A node (RFC 7239 §6: IPv4, [IPv6], "unknown" or an obfuscated name, each with an optional port). X-Forwarded-For
 * also writes IPv6 without brackets, and then without a port. A hidden or malformed node gives no address.
 */
function parseNode(text: string, bareIPv6: boolean): Hop {
  let name: string;
  let portText: string | null = null;
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    const close = text.indexOf("]");
    if (close === -1) return NO_ADDRESS;
    name = text.slice(1, close);
    if (!isIPv6(name) || name.includes("%")) return NO_ADDRESS;
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (rest.charCodeAt(0) !== 0x3a /* : */) return NO_ADDRESS;
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(":");
    if (bareIPv6 && colon !== -1 && text.indexOf(":", colon + 1) !== -1) {
      return isIPv6(text) && !text.includes("%") ? { address: text, port: 0 } : NO_ADDRESS;
    }
    name = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? null : text.slice(colon + 1);
    if (!isIPv4(name)) return NO_ADDRESS;
  }
  const port = portText === null ? 0 : portOf(portText);
  return port === -1 ? NO_ADDRESS : { address: name, port };
}

/** A decimal port, 0 for an obfuscated one, -1 if neither. */
function portOf(text: string): number {
  if (OBFUSCATED_RE.test(text)) return 0;
  if (!PORT_RE.test(text)) return -1;
  const port = Number(text);
  return port <= 65535 ? port : -1;
}

function schemeOf(text: string): "http" | "https" | null {
  const lower = text.toLowerCase();
  return lower === "http" || lower === "https" ? lower : null;
}

/**
 * host[:port] as RFC 3986 defines it, which the request URL is then built from. URL.canParse is asked too: the
 * WHATWG parser refuses a few RFC-valid names (a malformed IPv4-like "999.1.1.1", "%00"), and a request whose URL
 * cannot be built would fail in the app instead of here.
 */
function hostOf(text: string): string | null {
  let port: string | undefined;
  const v6 = IPV6_HOST_RE.exec(text);
  if (v6 !== null) {
    if (!isIPv6(v6[1]!)) return null;
    port = v6[2];
  } else {
    const reg = REG_NAME_HOST_RE.exec(text);
    if (reg === null) return null;
    port = reg[1];
  }
  if (port !== undefined && Number(port) > 65535) return null;
  return URL.canParse(`http://${text}/`) ? text : null;
}
