/**
 * The PROXY protocol parser: v1 and v2 headers, every malformed variant refused, plain HTTP and TLS told apart at the
 * first byte that shows it, and answers that never depend on how the bytes were split.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
  ProxyHeaderError,
  parseProxyHeader,
  type ProxyHeader,
} from "../../src/http/proxy-protocol.ts";

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const concat = (...parts: Array<Uint8Array | number[]>): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) out.push(...p);
  return Uint8Array.from(out);
};

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const REQUEST = ascii("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

/** A v2 header from its parts; `length` defaults to the block's real length. */
function v2(versionCommand: number, familyTransport: number, block: Uint8Array | number[], length = block.length): Uint8Array {
  return concat(SIGNATURE, [versionCommand, familyTransport, length >> 8, length & 0xff], block);
}

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
/** A TLV: type, 2-byte length, value. */
const tlv = (type: number, value: number[]): number[] => [type, ...u16(value.length), ...value];
const unixPath = (path: string): number[] => {
  const out = new Array<number>(108).fill(0);
  ascii(path).forEach((b, i) => (out[i] = b));
  return out;
};

function rejects(buf: Uint8Array): void {
  assert.throws(
    () => parseProxyHeader(buf),
    (err: unknown) => err instanceof ProxyHeaderError && err.code === "BAD_PROXY_HEADER" && err.name === "ProxyHeaderError",
  );
}

function header(buf: Uint8Array): ProxyHeader {
  const r = parseProxyHeader(buf);
  assert.ok(r !== null && r !== "need-more", `expected a header, got ${String(r)}`);
  return r;
}

// ─── detection ──────────────────────────────────────────────────────────────────────────────────────────────

describe("detection", () => {
  test("an empty buffer could still be anything", () => {
    assert.equal(parseProxyHeader(new Uint8Array(0)), "need-more");
  });

  test("HTTP requests are told apart at the first byte that differs", () => {
    assert.equal(parseProxyHeader(ascii("G")), null);
    assert.equal(parseProxyHeader(ascii("GET / HTTP/1.1\r\n")), null);
    assert.equal(parseProxyHeader(ascii("P")), "need-more");
    assert.equal(parseProxyHeader(ascii("PO")), null, "POST differs at its second byte");
    assert.equal(parseProxyHeader(ascii("POST / HTTP/1.1\r\n")), null);
    assert.equal(parseProxyHeader(ascii("PU")), null, "PUT differs at its second byte");
    assert.equal(parseProxyHeader(ascii("PA")), null, "PATCH differs at its second byte");
  });

  test("the HTTP/2 preface is told apart at its third byte", () => {
    assert.equal(parseProxyHeader(ascii("PR")), "need-more");
    assert.equal(parseProxyHeader(ascii("PRI")), null);
    assert.equal(parseProxyHeader(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), null);
  });

  test("a TLS ClientHello is told apart at its first byte", () => {
    assert.equal(parseProxyHeader(Uint8Array.from([0x16])), null);
    assert.equal(parseProxyHeader(Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])), null);
  });

  test("every prefix of the v1 and v2 signatures needs more", () => {
    const v1 = ascii("PROXY ");
    for (let n = 1; n <= v1.length; n++) assert.equal(parseProxyHeader(v1.subarray(0, n)), "need-more", `v1 prefix of ${n}`);
    const sig = Uint8Array.from(SIGNATURE);
    for (let n = 1; n <= sig.length; n++) assert.equal(parseProxyHeader(sig.subarray(0, n)), "need-more", `v2 prefix of ${n}`);
  });

  test("a CRLF prefix that then differs from the v2 signature is not a PROXY header", () => {
    assert.equal(parseProxyHeader(ascii("\r\nGET / HTTP/1.1\r\n")), null);
    assert.equal(parseProxyHeader(ascii("\r\n\r\n")), "need-more");
    assert.equal(parseProxyHeader(ascii("\r\n\r\nX")), null);
    assert.equal(parseProxyHeader(ascii("\r\n\r\n\0\r\nQUIT\r")), null, "the signature ends in LF, not CR");
  });

  test('a near miss of "PROXY " is not a PROXY header', () => {
    assert.equal(parseProxyHeader(ascii("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")), null, "the keyword is case-sensitive");
    assert.equal(parseProxyHeader(ascii("PROXy")), null);
    assert.equal(parseProxyHeader(ascii("PROXYTCP4")), null, "a space must follow PROXY");
  });
});

// ─── version 1 ──────────────────────────────────────────────────────────────────────────────────────────────

describe("v1", () => {
  test("TCP4: addresses, ports and the length of the line, with the connection's data after it", () => {
    const line = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n";
    assert.deepEqual(header(concat(ascii(line), REQUEST)), {
      version: 1,
      command: "proxy",
      transport: "tcp4",
      source: { address: "192.0.2.10", port: 56324 },
      destination: { address: "198.51.100.1", port: 443 },
      length: line.length,
    });
  });

  test("TCP4: the port range ends at 0 and 65535", () => {
    const h = header(ascii("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"));
    assert.deepEqual([h.source, h.destination], [{ address: "0.0.0.0", port: 0 }, { address: "255.255.255.255", port: 65535 }]);
  });

  test("TCP6: addresses come out in the form net.Socket.remoteAddress uses", () => {
    const h = header(ascii("PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::FFFF:7f00:1 1 2\r\n"));
    assert.equal(h.transport, "tcp6");
    assert.deepEqual(h.source, { address: "2001:db8::1", port: 1 });
    assert.deepEqual(h.destination, { address: "::ffff:127.0.0.1", port: 2 });
    assert.equal(header(ascii("PROXY TCP6 1:0:0:2:0:0:0:3 ::1 1 2\r\n")).source?.address, "1:0:0:2::3", "the longer zero run is compressed");
  });

  test("UNKNOWN, alone or followed by anything up to CRLF, names no addresses", () => {
    const expected = (length: number): ProxyHeader => ({
      version: 1,
      command: "proxy",
      transport: "unknown",
      source: null,
      destination: null,
      length,
    });
    assert.deepEqual(header(ascii("PROXY UNKNOWN\r\nGET")), expected(15));
    const tail = "PROXY UNKNOWN ffff:f...f:ffff whatever \x01\xff 65535\r\n";
    assert.deepEqual(header(ascii(tail)), expected(tail.length));
  });

  test("a line of exactly 107 bytes is accepted; 108 is refused", () => {
    const pad = (n: number): string => "PROXY UNKNOWN " + "x".repeat(n - "PROXY UNKNOWN ".length - 2) + "\r\n";
    assert.equal(pad(PROXY_V1_MAX_BYTES).length, 107);
    assert.equal(header(ascii(pad(107))).length, 107);
    rejects(ascii(pad(108)));
    // The CR alone, as byte 107, already makes the line too long.
    rejects(ascii(pad(108).slice(0, 107)));
  });

  test("107 bytes without a CRLF are refused; 106 still need more", () => {
    const noEnd = "PROXY UNKNOWN " + "x".repeat(200);
    assert.equal(parseProxyHeader(ascii(noEnd.slice(0, 106))), "need-more");
    rejects(ascii(noEnd.slice(0, 107)));
    rejects(ascii(noEnd));
  });

  test("the longest real TCP6 line fits", () => {
    const full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const line = `PROXY TCP6 ${full} ${full} 65535 65535\r\n`;
    assert.equal(header(ascii(line)).length, line.length);
  });

  const malformed: Array<[string, string]> = [
    ["a bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"],
    ["a bare LF in UNKNOWN", "PROXY UNKNOWN\n"],
    ["a CR not followed by LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"],
    ["two spaces after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["two spaces between addresses", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"],
    ["two spaces between ports", "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n"],
    ["a space before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"],
    ["a tab for a space", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"],
    ["a missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"],
    ["an extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"],
    ["no addresses at all", "PROXY TCP4\r\n"],
    ["an empty protocol", "PROXY \r\n"],
    ["a lowercase protocol", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["an unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["UNKNOWN run into more letters", "PROXY UNKNOWNX\r\n"],
    ["a leading zero in an IPv4 octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"],
    ["an IPv4 octet over 255", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"],
    ["three IPv4 octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"],
    ["a host name for an address", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n"],
    ["TCP4 with an IPv6 address", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n"],
    ["TCP4 with an IPv4-mapped IPv6 address", "PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n"],
    ["TCP6 with an IPv4 address", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n"],
    ["TCP6 with a zone index", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"],
    ["TCP6 with a bracketed address", "PROXY TCP6 [::1] ::1 1 2\r\n"],
    ["a leading zero in a port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"],
    ["port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"],
    ["a six-digit port", "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n"],
    ["a negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"],
    ["a signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"],
    ["an exponent port", "PROXY TCP4 1.2.3.4 5.6.7.8 1e3 2\r\n"],
    ["a hex port", "PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n"],
    ["a non-ASCII byte in an address", "PROXY TCP4 1.2.3.\xb9 5.6.7.8 1 2\r\n"],
    ["a NUL in a port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\x00 2\r\n"],
  ];
  for (const [what, line] of malformed) {
    test(`refused: ${what}`, () => rejects(concat(ascii(line), REQUEST)));
  }

  test("a malformed line needs more until its CRLF arrives, then is refused", () => {
    const line = ascii("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
    assert.equal(parseProxyHeader(line.subarray(0, line.length - 1)), "need-more");
    rejects(line);
  });
});

// ─── version 2 ──────────────────────────────────────────────────────────────────────────────────────────────

const INET_BLOCK = [192, 0, 2, 10, 198, 51, 100, 1, ...u16(56324), ...u16(443)];
const INET6_SOURCE = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const INET6_DEST = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
const INET6_BLOCK = [...INET6_SOURCE, ...INET6_DEST, ...u16(1), ...u16(65535)];

describe("v2", () => {
  test("PROXY over TCP/IPv4, with TLVs skipped and the connection's data after the header", () => {
    const block = [...INET_BLOCK, ...tlv(0x01, Array.from(ascii("h2"))), ...tlv(0x04, [])];
    const buf = concat(v2(0x21, 0x11, block), REQUEST);
    assert.deepEqual(header(buf), {
      version: 2,
      command: "proxy",
      transport: "tcp4",
      source: { address: "192.0.2.10", port: 56324 },
      destination: { address: "198.51.100.1", port: 443 },
      length: 16 + block.length,
    });
  });

  test("PROXY over TCP/IPv6: addresses in the form net.Socket.remoteAddress uses", () => {
    assert.deepEqual(header(v2(0x21, 0x21, INET6_BLOCK)), {
      version: 2,
      command: "proxy",
      transport: "tcp6",
      source: { address: "2001:db8::1", port: 1 },
      destination: { address: "::ffff:127.0.0.1", port: 65535 },
      length: 16 + 36,
    });
  });

  test("PROXY over Unix stream sockets: paths end at their NUL, or fill all 108 bytes", () => {
    const long = "/" + "p".repeat(107);
    const block = [...unixPath("/run/haproxy.sock"), ...ascii(long), ...tlv(0xee, [1, 2, 3])];
    assert.deepEqual(header(v2(0x21, 0x31, block)), {
      version: 2,
      command: "proxy",
      transport: "unix",
      source: { address: "/run/haproxy.sock", port: 0 },
      destination: { address: long, port: 0 },
      length: 16 + 216 + 6,
    });
  });

  test("LOCAL (a health check) names no addresses, whatever block it carries", () => {
    const local = (length: number): ProxyHeader => ({
      version: 2,
      command: "local",
      transport: "unknown",
      source: null,
      destination: null,
      length,
    });
    assert.deepEqual(header(v2(0x20, 0x00, [])), local(16));
    assert.deepEqual(header(v2(0x20, 0x11, INET_BLOCK)), local(28), "the addresses are ignored");
    assert.deepEqual(header(v2(0x20, 0x11, [1, 2, 3])), local(19), "even a block too short for its family");
    assert.deepEqual(header(v2(0x20, 0x12, [])), local(16), "even a datagram family");
  });

  test("PROXY with AF_UNSPEC names no addresses and takes its block as is", () => {
    assert.deepEqual(header(concat(v2(0x21, 0x00, [9, 9, 9, 9, 9]), REQUEST)), {
      version: 2,
      command: "proxy",
      transport: "unknown",
      source: null,
      destination: null,
      length: 21,
    });
  });

  test("a header of the maximum length is accepted, one byte more is refused at once", () => {
    const filler = tlv(0x04, new Array<number>(2048 - 12 - 3).fill(0));
    const max = v2(0x21, 0x11, [...INET_BLOCK, ...filler]);
    assert.equal(max.length, PROXY_V2_MAX_BYTES);
    assert.equal(header(max).length, PROXY_V2_MAX_BYTES);
    // Refused on the length field alone, before the client sends (and we hold) the block.
    rejects(v2(0x21, 0x11, [], 2049));
    rejects(v2(0x21, 0x11, [], 0xffff));
  });

  test("a truncated header needs more", () => {
    const full = v2(0x21, 0x11, [...INET_BLOCK, ...tlv(1, [1, 2])]);
    for (let n = 0; n < full.length; n++) assert.equal(parseProxyHeader(full.subarray(0, n)), "need-more", `prefix of ${n}`);
    assert.equal(header(full).length, full.length);
  });

  test("a version other than 2 is refused as soon as its byte arrives", () => {
    for (const vc of [0x01, 0x11, 0x31, 0xf1]) rejects(concat(SIGNATURE, [vc]));
  });

  test("a command other than LOCAL or PROXY is refused as soon as its byte arrives", () => {
    for (const vc of [0x22, 0x2f]) rejects(concat(SIGNATURE, [vc]));
  });

  test("an undefined family or transport is refused, LOCAL or not", () => {
    for (const vc of [0x20, 0x21]) {
      rejects(concat(SIGNATURE, [vc, 0x41]));
      rejects(concat(SIGNATURE, [vc, 0x13]));
    }
  });

  test("a datagram connection is refused", () => {
    for (const ft of [0x02, 0x12, 0x22, 0x32]) rejects(concat(SIGNATURE, [0x21, ft]));
  });

  test("an address family without a transport is refused", () => {
    for (const ft of [0x10, 0x20, 0x30]) rejects(concat(SIGNATURE, [0x21, ft]));
  });

  test("a length smaller than the family's addresses is refused on the length field", () => {
    rejects(concat(SIGNATURE, [0x21, 0x11, 0, 11]));
    rejects(concat(SIGNATURE, [0x21, 0x21, 0, 35]));
    rejects(concat(SIGNATURE, [0x21, 0x31, 0, 215]));
    assert.equal(parseProxyHeader(concat(SIGNATURE, [0x21, 0x11, 0, 12])), "need-more");
  });

  test("TLVs must tile the rest of the block", () => {
    rejects(v2(0x21, 0x11, [...INET_BLOCK, ...tlv(1, [1, 2]).slice(0, 4)]));
    rejects(v2(0x21, 0x11, [...INET_BLOCK, 0x01, 0x00, 0x05, 1, 2]));
    rejects(v2(0x21, 0x11, [...INET_BLOCK, 0x01]));
    rejects(v2(0x21, 0x11, [...INET_BLOCK, 0x01, 0x00]));
    rejects(v2(0x21, 0x21, [...INET6_BLOCK, ...tlv(1, []), 0x02]));
  });
});

// ─── agreement with Node ────────────────────────────────────────────────────────────────────────────────────

test("an IPv6 address from a header equals what net.Socket.remoteAddress says for the same peer", async () => {
  const seen: string[] = [];
  const server = net.createServer((s) => {
    seen.push(s.remoteAddress ?? "");
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "::", resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    for (const host of ["127.0.0.1", "::1"]) {
      await new Promise<void>((resolve, reject) => {
        const c = net.connect(port, host);
        c.on("close", () => resolve());
        c.on("error", reject);
      });
    }
  } finally {
    server.close();
  }
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
  const loopback = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  assert.equal(seen.length, 2);
  assert.equal(header(v2(0x21, 0x21, [...mapped, ...loopback, 0, 1, 0, 2])).source?.address, seen[0]);
  assert.equal(header(v2(0x21, 0x21, [...loopback, ...mapped, 0, 1, 0, 2])).source?.address, seen[1]);
  assert.equal(header(ascii("PROXY TCP6 0:0:0:0:0:0:0:1 ::1 1 2\r\n")).source?.address, seen[1]);
});

// ─── properties ─────────────────────────────────────────────────────────────────────────────────────────────

/** Node's own text for an IPv6 address: the reference the parser must agree with. */
const nodeIPv6 = (text: string): string => new net.SocketAddress({ address: text, family: "ipv6" }).address;

const port = fc.integer({ min: 0, max: 65535 });
const byte = fc.integer({ min: 0, max: 255 });
const ipv4Bytes = fc.array(byte, { minLength: 4, maxLength: 4 });
const ipv6Bytes = fc.array(byte, { minLength: 16, maxLength: 16 });
const tlvs = fc.array(fc.tuple(byte, fc.array(byte, { maxLength: 20 })), { maxLength: 4 }).map((ts) => ts.flatMap(([t, v]) => tlv(t, v)));
const v6Text = (b: number[]): string => Array.from({ length: 8 }, (_, g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16)).join(":");

interface Case {
  bytes: Uint8Array;
  expected: ProxyHeader;
}

const v1Tcp4: fc.Arbitrary<Case> = fc.tuple(fc.ipV4(), fc.ipV4(), port, port).map(([s, d, sp, dp]) => {
  const line = `PROXY TCP4 ${s} ${d} ${sp} ${dp}\r\n`;
  return {
    bytes: ascii(line),
    expected: { version: 1, command: "proxy", transport: "tcp4", source: { address: s, port: sp }, destination: { address: d, port: dp }, length: line.length },
  };
});

const v1Tcp6: fc.Arbitrary<Case> = fc.tuple(fc.ipV6(), fc.ipV6(), port, port).map(([s, d, sp, dp]) => {
  const line = `PROXY TCP6 ${s} ${d} ${sp} ${dp}\r\n`;
  return {
    bytes: ascii(line),
    expected: {
      version: 1,
      command: "proxy",
      transport: "tcp6",
      source: { address: nodeIPv6(s), port: sp },
      destination: { address: nodeIPv6(d), port: dp },
      length: line.length,
    },
  };
});

const v1Unknown: fc.Arbitrary<Case> = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 92 })
  .map((tail) => {
    const line = `PROXY UNKNOWN${tail === "" ? "" : " " + tail}\r\n`;
    return { bytes: ascii(line), expected: { version: 1, command: "proxy", transport: "unknown", source: null, destination: null, length: line.length } };
  });

const v2Inet: fc.Arbitrary<Case> = fc.tuple(ipv4Bytes, ipv4Bytes, port, port, tlvs).map(([s, d, sp, dp, t]) => {
  const bytes = v2(0x21, 0x11, [...s, ...d, ...u16(sp), ...u16(dp), ...t]);
  return {
    bytes,
    expected: { version: 2, command: "proxy", transport: "tcp4", source: { address: s.join("."), port: sp }, destination: { address: d.join("."), port: dp }, length: bytes.length },
  };
});

const v2Inet6: fc.Arbitrary<Case> = fc.tuple(ipv6Bytes, ipv6Bytes, port, port, tlvs).map(([s, d, sp, dp, t]) => {
  const bytes = v2(0x21, 0x21, [...s, ...d, ...u16(sp), ...u16(dp), ...t]);
  return {
    bytes,
    expected: {
      version: 2,
      command: "proxy",
      transport: "tcp6",
      source: { address: nodeIPv6(v6Text(s)), port: sp },
      destination: { address: nodeIPv6(v6Text(d)), port: dp },
      length: bytes.length,
    },
  };
});

const pathText = fc.string({ unit: fc.constantFrom(..."/abcxyz.-_0189"), minLength: 1, maxLength: 107 });
const v2Unix: fc.Arbitrary<Case> = fc.tuple(pathText, pathText, tlvs).map(([s, d, t]) => {
  const bytes = v2(0x21, 0x31, [...unixPath(s), ...unixPath(d), ...t]);
  return {
    bytes,
    expected: { version: 2, command: "proxy", transport: "unix", source: { address: s, port: 0 }, destination: { address: d, port: 0 }, length: bytes.length },
  };
});

const v2Local: fc.Arbitrary<Case> = fc.tuple(fc.constantFrom(0x00, 0x11, 0x21, 0x31, 0x12), fc.array(byte, { maxLength: 40 })).map(([ft, block]) => {
  const bytes = v2(0x20, ft, block);
  return { bytes, expected: { version: 2, command: "local", transport: "unknown", source: null, destination: null, length: bytes.length } };
});

const validCase = fc.oneof(v1Tcp4, v1Tcp6, v1Unknown, v2Inet, v2Inet6, v2Unix, v2Local);
const trailing = fc.oneof(fc.constant(REQUEST), fc.uint8Array({ maxLength: 40 }), fc.constant(new Uint8Array(0)));

type Outcome = { kind: "need-more" } | { kind: "null" } | { kind: "header"; header: ProxyHeader } | { kind: "error" };

function outcome(buf: Uint8Array): Outcome {
  try {
    const r = parseProxyHeader(buf);
    if (r === "need-more") return { kind: "need-more" };
    if (r === null) return { kind: "null" };
    return { kind: "header", header: r };
  } catch (err) {
    if (err instanceof ProxyHeaderError) return { kind: "error" };
    throw err;
  }
}

describe("properties", () => {
  test("a valid header needs more at every prefix shorter than itself, then is the same header at every longer one", () => {
    fc.assert(
      fc.property(validCase, trailing, ({ bytes, expected }, rest) => {
        const buf = concat(bytes, rest);
        for (let n = 0; n < bytes.length; n++) assert.equal(parseProxyHeader(buf.subarray(0, n)), "need-more");
        for (let n = bytes.length; n <= buf.length; n++) assert.deepEqual(parseProxyHeader(buf.subarray(0, n)), expected);
      }),
      { numRuns: 300 },
    );
  });

  test("fed in random splits, accumulating, the first answer is the whole buffer's", () => {
    fc.assert(
      fc.property(validCase, trailing, fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 40 }), ({ bytes, expected }, rest, sizes) => {
        const buf = concat(bytes, rest);
        let have = 0;
        let answer: ReturnType<typeof parseProxyHeader> = "need-more";
        for (let k = 0; answer === "need-more" && have < buf.length; k++) {
          have = Math.min(buf.length, have + sizes[k % sizes.length]!);
          answer = parseProxyHeader(buf.subarray(0, have));
        }
        assert.deepEqual(answer, expected);
      }),
      { numRuns: 200 },
    );
  });

  test("for any bytes, once the answer is not need-more, every longer prefix gets the same answer", () => {
    // Mutated valid headers reach the deep checks; random bytes alone would mostly stop at the first byte.
    const mutated = fc
      .tuple(validCase, fc.array(fc.tuple(fc.nat(), byte, fc.constantFrom("set", "insert", "delete")), { minLength: 1, maxLength: 3 }), trailing)
      .map(([{ bytes }, edits, rest]) => {
        const b = Array.from(concat(bytes, rest));
        for (const [at, value, op] of edits) {
          const i = at % (b.length + 1);
          if (op === "set" && i < b.length) b[i] = value;
          else if (op === "insert") b.splice(i, 0, value);
          else if (op === "delete") b.splice(i, 1);
        }
        return Uint8Array.from(b);
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 })), (buf) => {
        let settled: Outcome | null = null;
        for (let n = 0; n <= buf.length; n++) {
          const o = outcome(buf.subarray(0, n));
          if (settled !== null) assert.deepEqual(o, settled, `prefix of ${n} changed a settled answer`);
          else if (o.kind !== "need-more") settled = o;
          if (o.kind === "header") assert.ok(o.header.length <= n);
        }
        const bound = buf[0] === 0x50 ? PROXY_V1_MAX_BYTES : PROXY_V2_MAX_BYTES;
        if (buf.length >= bound) assert.notEqual(settled, null, "an answer comes within the bound");
      }),
      { numRuns: 500 },
    );
  });
});
