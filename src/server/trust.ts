/**
 * Which peers are trusted as proxies: only their forwarding headers and PROXY headers are believed.
 *
 * IPv4 and IPv6 share one address space here, IPv4 living at ::ffff:0:0/96 (RFC 4291 §2.5.5.2), because a
 * dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d: 127.0.0.1 and ::ffff:127.0.0.1 are the same peer and
 * must get the same answer from every entry, whichever form the entry or the peer is written in. So "::/0" trusts
 * IPv4 peers too, while "0.0.0.0/0" trusts only them.
 */

/** An IPv4 block: a peer is in it when `(address & mask) === network`. */
interface V4Block {
  network: number;
  mask: number;
}

/** An IPv6 block as four 32-bit words, most significant first, so matching needs no bigint arithmetic. */
interface V6Block {
  network: Uint32Array;
  mask: Uint32Array;
}

const MAPPED_PREFIX_BITS = 96;

/**
 * Whether the peer of `socket` (on a listener of `transport`) is one of `peers`: the one trusted-peer check, asked
 * at accept when a PROXY header must be judged, else of a request that carries forwarding headers.
 */
export function peerIsTrusted(peers: TrustedPeers | null | undefined, socket: { readonly remoteAddress?: string | undefined }, transport: "tcp" | "unix"): boolean {
  return peers !== null && peers !== undefined && !peers.none && peers.allows(socket.remoteAddress ?? "", transport);
}

export class TrustedPeers {
  /** True when nothing is trusted (so callers can skip work). */
  readonly none: boolean;
  readonly #everyone: boolean;
  readonly #unix: boolean;
  readonly #v4: V4Block[] = [];
  /** Only blocks holding some non-IPv4-mapped address; their IPv4-mapped part is in #v4. */
  readonly #v6: V6Block[] = [];

  /**
   * Built from entries already validated by the settings: IPv4/IPv6 addresses, CIDR blocks ("10.0.0.0/8",
   * "fd00::/8"), "unix" (peers on Unix sockets), "*" (everyone). Host bits under a prefix are ignored
   * ("10.1.2.3/8" is 10.0.0.0/8), as is an IPv6 zone index. Throws an Error naming an entry it cannot read.
   */
  constructor(entries: readonly string[]) {
    let everyone = false;
    let unix = false;
    for (const entry of entries) {
      if (entry === "*") everyone = true;
      else if (entry === "unix") unix = true;
      else this.#addBlock(entry);
    }
    this.#everyone = everyone;
    this.#unix = unix || everyone;
    this.none = !everyone && !unix && this.#v4.length === 0 && this.#v6.length === 0;
  }

  /**
   * transport "unix": trusted iff "unix" or "*" is listed. For tcp: `address` as net.Socket.remoteAddress gives it
   * (IPv4, IPv6 with or without a zone index, or IPv4-mapped IPv6, which matches IPv4 entries). Anything that is
   * not an address is not trusted.
   */
  allows(address: string, transport: "tcp" | "unix"): boolean {
    if (this.#everyone) return true;
    if (transport === "unix") return this.#unix;
    if (address.includes(":")) {
      const words = parseIPv6(address);
      if (words === null) return false;
      return isMapped(words) ? this.#allowsV4(words[3]!) : this.#allowsV6(words);
    }
    const v4 = parseIPv4(address);
    return v4 !== -1 && this.#allowsV4(v4);
  }

  #allowsV4(address: number): boolean {
    for (const b of this.#v4) if (((address & b.mask) >>> 0) === b.network) return true;
    return false;
  }

  #allowsV6(words: Uint32Array): boolean {
    for (const b of this.#v6) {
      if (
        ((words[0]! & b.mask[0]!) >>> 0) === b.network[0] &&
        ((words[1]! & b.mask[1]!) >>> 0) === b.network[1] &&
        ((words[2]! & b.mask[2]!) >>> 0) === b.network[2] &&
        ((words[3]! & b.mask[3]!) >>> 0) === b.network[3]
      ) {
        return true;
      }
    }
    return false;
  }

  #addBlock(entry: string): void {
    const slash = entry.indexOf("/");
    const text = slash === -1 ? entry : entry.slice(0, slash);
    const bitsText = slash === -1 ? null : entry.slice(slash + 1);
    const bad = (): Error => new Error(`trusted peer "${entry}" is not an IP address, a CIDR block, unix or *`);

    if (!text.includes(":")) {
      const address = parseIPv4(text);
      const bits = prefixBits(bitsText, 32);
      if (address === -1 || bits === -1) throw bad();
      this.#addV4(address, bits);
      return;
    }
    const words = parseIPv6(text);
    const bits = prefixBits(bitsText, 128);
    if (words === null || bits === -1) throw bad();
    if (bits >= MAPPED_PREFIX_BITS) {
      // Inside ::ffff:0:0/96 the block is an IPv4 block; checking it there keeps IPv4 peers off the IPv6 path.
      if (isMapped(words)) this.#addV4(words[3]!, bits - MAPPED_PREFIX_BITS);
      else this.#addV6(words, bits);
      return;
    }
    this.#addV6(words, bits);
    // A block this wide holds either all IPv4-mapped addresses or none of them.
    const mask = v6Mask(bits);
    const mappedNetwork = new Uint32Array([0, 0, 0xffff, 0]);
    if (mask.every((m, i) => ((mappedNetwork[i]! & m) >>> 0) === ((words[i]! & m) >>> 0))) this.#addV4(0, 0);
  }

  #addV4(address: number, bits: number): void {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    this.#v4.push({ network: (address & mask) >>> 0, mask });
  }

  #addV6(words: Uint32Array, bits: number): void {
    const mask = v6Mask(bits);
    this.#v6.push({ network: words.map((w, i) => (w & mask[i]!) >>> 0), mask });
  }
}

function v6Mask(bits: number): Uint32Array {
  const mask = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Math.min(32, Math.max(0, bits - 32 * i));
    mask[i] = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  }
  return mask;
}

function isMapped(words: Uint32Array): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

/** No prefix means a single address. The same forms the settings accept: 1 to 3 digits, within the family. */
function prefixBits(text: string | null, max: number): number {
  if (text === null) return max;
  if (!/^[0-9]{1,3}$/.test(text)) return -1;
  const bits = Number(text);
  return bits <= max ? bits : -1;
}

/** Dotted-quad IPv4 as net.isIPv4 accepts it (no leading zeros), as an unsigned 32-bit number; -1 if it is not one. */
function parseIPv4(text: string): number {
  return parseIPv4At(text, 0, text.length);
}

function parseIPv4At(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const partStart = i;
    let part = 0;
    while (i < end && i - partStart < 3) {
      const d = text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      part = part * 10 + d;
      i++;
    }
    const digits = i - partStart;
    if (digits === 0 || part > 255 || (digits > 1 && text.charCodeAt(partStart) === 0x30)) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (text.charCodeAt(i) !== 0x2e || i >= end) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** A zone index as net.isIPv6 accepts it. */
const ZONE_RE = /^[0-9A-Za-z.:-]+$/;

/**
 * IPv6 text (RFC 4291 §2.2: hex groups, one "::", an optional trailing dotted quad) as four 32-bit words; a zone
 * index ("%eth0") is dropped. Null if it is not one.
 */
function parseIPv6(text: string): Uint32Array | null {
  const percent = text.indexOf("%");
  const end = percent === -1 ? text.length : percent;
  if (percent !== -1 && !ZONE_RE.test(text.slice(percent + 1))) return null;
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (text.startsWith("::")) {
    gap = 0;
    i = 2;
    if (i === end) return wordsOf(groups, gap);
  }
  for (;;) {
    const groupStart = i;
    let group = 0;
    while (i < end && i - groupStart < 5) {
      const h = hexValue(text.charCodeAt(i));
      if (h === -1) break;
      group = group * 16 + h;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      // A dotted quad ends the address and stands for two groups.
      const v4 = parseIPv4At(text, groupStart, end);
      if (v4 === -1 || groups.length > 6) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    const digits = i - groupStart;
    if (digits === 0 || digits > 4) return null;
    groups.push(group);
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return null;
    i++;
    if (text.charCodeAt(i) === 0x3a) {
      if (gap !== -1) return null;
      gap = groups.length;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return null;
    }
  }
  return wordsOf(groups, gap);
}

/** Expands the groups around the "::" gap (at index `gap`, or -1 for none) into words, if they make 128 bits. */
function wordsOf(groups: number[], gap: number): Uint32Array | null {
  if (gap === -1 ? groups.length !== 8 : groups.length > 7) return null;
  const full = gap === -1 ? groups : [...groups.slice(0, gap), ...new Array<number>(8 - groups.length).fill(0), ...groups.slice(gap)];
  const words = new Uint32Array(4);
  for (let w = 0; w < 4; w++) words[w] = full[2 * w]! * 0x10000 + full[2 * w + 1]!;
  return words;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
