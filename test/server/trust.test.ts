/**
 * Trusted peers: exact addresses and CIDR blocks in either family, IPv4-mapped IPv6 treated as the IPv4 it maps,
 * Unix-socket peers, everyone, and nothing for what is not an address.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { TrustedPeers } from "../../src/server/trust.ts";

const tcp = (entries: string[], address: string): boolean => new TrustedPeers(entries).allows(address, "tcp");

describe("none", () => {
  test("is true only when nothing at all is trusted", () => {
    assert.equal(new TrustedPeers([]).none, true);
    assert.equal(new TrustedPeers(["unix"]).none, false);
    assert.equal(new TrustedPeers(["*"]).none, false);
    assert.equal(new TrustedPeers(["10.0.0.0/8"]).none, false);
    assert.equal(new TrustedPeers(["::1"]).none, false);
  });

  test("an empty list trusts no one", () => {
    const t = new TrustedPeers([]);
    assert.equal(t.allows("127.0.0.1", "tcp"), false);
    assert.equal(t.allows("::1", "tcp"), false);
    assert.equal(t.allows("", "unix"), false);
  });
});

describe("exact addresses", () => {
  test("IPv4: only that address", () => {
    assert.equal(tcp(["127.0.0.1"], "127.0.0.1"), true);
    assert.equal(tcp(["127.0.0.1"], "127.0.0.2"), false);
    assert.equal(tcp(["127.0.0.1"], "127.0.0.10"), false);
    assert.equal(tcp(["127.0.0.1"], "27.0.0.1"), false);
  });

  test("IPv6: the same address in any written form", () => {
    for (const entry of ["2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8:0:0::0:1"]) {
      for (const peer of ["2001:db8::1", "2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::0:0001"]) {
        assert.equal(tcp([entry], peer), true, `${entry} vs ${peer}`);
      }
      assert.equal(tcp([entry], "2001:db8::2"), false);
      assert.equal(tcp([entry], "2001:db8:0:0:1::"), false);
      assert.equal(tcp([entry], "::1"), false);
    }
  });

  test("::1 and :: are distinct", () => {
    assert.equal(tcp(["::1"], "::1"), true);
    assert.equal(tcp(["::1"], "0:0:0:0:0:0:0:1"), true);
    assert.equal(tcp(["::1"], "::"), false);
    assert.equal(tcp(["::"], "::1"), false);
    assert.equal(tcp(["::"], "::"), true);
  });

  test("a peer's zone index is ignored; so is an entry's", () => {
    assert.equal(tcp(["fe80::1"], "fe80::1%eth0"), true);
    assert.equal(tcp(["fe80::1%lo"], "fe80::1"), true);
    assert.equal(tcp(["fe80::/10"], "fe80::abcd%2"), true);
    assert.equal(tcp(["fe80::1"], "fe80::2%eth0"), false);
  });
});

describe("CIDR blocks", () => {
  test("/8 covers exactly its range", () => {
    const e = ["10.0.0.0/8"];
    assert.equal(tcp(e, "10.0.0.0"), true);
    assert.equal(tcp(e, "10.255.255.255"), true);
    assert.equal(tcp(e, "10.1.2.3"), true);
    assert.equal(tcp(e, "9.255.255.255"), false);
    assert.equal(tcp(e, "11.0.0.0"), false);
  });

  test("/32 is one address, /31 two", () => {
    assert.equal(tcp(["192.0.2.7/32"], "192.0.2.7"), true);
    assert.equal(tcp(["192.0.2.7/32"], "192.0.2.6"), false);
    assert.equal(tcp(["192.0.2.6/31"], "192.0.2.7"), true);
    assert.equal(tcp(["192.0.2.6/31"], "192.0.2.5"), false);
    assert.equal(tcp(["192.0.2.6/31"], "192.0.2.8"), false);
  });

  test("/1 splits at the top bit (no sign trouble)", () => {
    assert.equal(tcp(["128.0.0.0/1"], "255.255.255.255"), true);
    assert.equal(tcp(["128.0.0.0/1"], "128.0.0.0"), true);
    assert.equal(tcp(["128.0.0.0/1"], "127.255.255.255"), false);
    assert.equal(tcp(["0.0.0.0/1"], "127.255.255.255"), true);
    assert.equal(tcp(["0.0.0.0/1"], "128.0.0.0"), false);
  });

  test("IPv4 /0 is every IPv4 peer, mapped or not, and no IPv6 one", () => {
    const e = ["0.0.0.0/0"];
    for (const a of ["0.0.0.0", "1.2.3.4", "255.255.255.255", "::ffff:8.8.8.8"]) assert.equal(tcp(e, a), true, a);
    for (const a of ["::1", "2001:db8::1", "::"]) assert.equal(tcp(e, a), false, a);
  });

  test("IPv6 /0 is every peer, IPv4 included (IPv4 lives at ::ffff:0:0/96)", () => {
    for (const a of ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1.2.3.4", "::ffff:1.2.3.4"]) {
      assert.equal(tcp(["::/0"], a), true, a);
    }
  });

  test("/128 is one address, /127 two", () => {
    assert.equal(tcp(["2001:db8::7/128"], "2001:db8::7"), true);
    assert.equal(tcp(["2001:db8::7/128"], "2001:db8::6"), false);
    assert.equal(tcp(["2001:db8::6/127"], "2001:db8::7"), true);
    assert.equal(tcp(["2001:db8::6/127"], "2001:db8::8"), false);
  });

  test("fd00::/8 covers exactly fd00:: to fdff:…", () => {
    const e = ["fd00::/8"];
    assert.equal(tcp(e, "fd00::"), true);
    assert.equal(tcp(e, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), true);
    assert.equal(tcp(e, "fd12:3456::1"), true);
    assert.equal(tcp(e, "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), false);
    assert.equal(tcp(e, "fe00::"), false);
  });

  test("prefixes that end inside a 32-bit word", () => {
    assert.equal(tcp(["2001:db8:8000::/33"], "2001:db8:ffff::1"), true);
    assert.equal(tcp(["2001:db8:8000::/33"], "2001:db8:7fff::1"), false);
    assert.equal(tcp(["2001:db8::/65"], "2001:db8::7fff:ffff:ffff:ffff"), true);
    assert.equal(tcp(["2001:db8::/65"], "2001:db8::8000:0:0:0"), false);
    assert.equal(tcp(["2001:db8::ab00:0/104"], "2001:db8::abff:ffff"), true);
    assert.equal(tcp(["2001:db8::ab00:0/104"], "2001:db8::ac00:0"), false);
  });

  test("host bits under the prefix are ignored", () => {
    assert.equal(tcp(["10.1.2.3/8"], "10.200.0.1"), true);
    assert.equal(tcp(["10.1.2.3/8"], "11.1.2.3"), false);
    assert.equal(tcp(["2001:db8::1/32"], "2001:db8:ffff::"), true);
  });

  test("prefix lengths written as the settings accept them, leading zeros included", () => {
    assert.equal(tcp(["10.0.0.0/08"], "10.9.9.9"), true);
    assert.equal(tcp(["10.0.0.0/08"], "11.0.0.0"), false);
  });

  test("a peer in any of several entries is trusted", () => {
    const e = ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"];
    assert.equal(tcp(e, "127.0.0.1"), true);
    assert.equal(tcp(e, "192.0.2.200"), true);
    assert.equal(tcp(e, "2001:db8:1::1"), true);
    assert.equal(tcp(e, "198.51.100.1"), false);
  });
});

describe("IPv4-mapped IPv6", () => {
  test("::ffff:127.0.0.1 matches the entry 127.0.0.1, and the other way round", () => {
    assert.equal(tcp(["127.0.0.1"], "::ffff:127.0.0.1"), true);
    assert.equal(tcp(["127.0.0.1"], "::FFFF:7f00:1"), true);
    assert.equal(tcp(["127.0.0.1"], "::ffff:127.0.0.2"), false);
    assert.equal(tcp(["::ffff:127.0.0.1"], "127.0.0.1"), true);
    assert.equal(tcp(["::ffff:127.0.0.1"], "::ffff:127.0.0.1"), true);
    assert.equal(tcp(["::ffff:127.0.0.1"], "127.0.0.2"), false);
  });

  test("mapped blocks are IPv4 blocks", () => {
    assert.equal(tcp(["::ffff:10.0.0.0/104"], "10.1.2.3"), true);
    assert.equal(tcp(["::ffff:10.0.0.0/104"], "11.1.2.3"), false);
    assert.equal(tcp(["::ffff:0:0/96"], "203.0.113.5"), true);
    assert.equal(tcp(["::ffff:0:0/96"], "::1"), false);
    assert.equal(tcp(["10.0.0.0/8"], "::ffff:10.9.8.7"), true);
    assert.equal(tcp(["10.0.0.0/8"], "::ffff:11.0.0.0"), false);
  });

  test("an IPv6 block that contains ::ffff:0:0/96 holds every IPv4 peer; one beside it, none", () => {
    assert.equal(tcp(["::/80"], "1.2.3.4"), true);
    assert.equal(tcp(["::/96"], "1.2.3.4"), false, "::/96 is the deprecated IPv4-compatible block");
    assert.equal(tcp(["::ffff:0:0/95"], "1.2.3.4"), true);
    assert.equal(tcp(["::fffe:0:0/96"], "1.2.3.4"), false);
  });

  test("IPv4-compatible ::a.b.c.d is not the IPv4 address", () => {
    assert.equal(tcp(["127.0.0.1"], "::127.0.0.1"), false);
    assert.equal(tcp(["::127.0.0.1"], "127.0.0.1"), false);
    assert.equal(tcp(["::127.0.0.1"], "::7f00:1"), true);
  });
});

describe("unix and *", () => {
  test('"unix" trusts Unix-socket peers and no TCP peer', () => {
    const t = new TrustedPeers(["unix"]);
    assert.equal(t.allows("", "unix"), true);
    assert.equal(t.allows("/run/oryx.sock", "unix"), true);
    assert.equal(t.allows("127.0.0.1", "tcp"), false);
  });

  test("Unix-socket peers are not trusted by address entries, whatever the address says", () => {
    const t = new TrustedPeers(["127.0.0.1", "::/0", "0.0.0.0/0"]);
    assert.equal(t.allows("127.0.0.1", "unix"), false);
    assert.equal(t.allows("", "unix"), false);
  });

  test('"*" trusts every peer, whatever its address', () => {
    const t = new TrustedPeers(["*"]);
    for (const a of ["1.2.3.4", "::1", "", "not an address"]) assert.equal(t.allows(a, "tcp"), true, a);
    assert.equal(t.allows("", "unix"), true);
  });
});

describe("what is not an address", () => {
  test("is never trusted, even by blocks that hold every address", () => {
    const t = new TrustedPeers(["0.0.0.0/0", "::/0"]);
    for (const a of ["", "localhost", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.", "::g", ":::",
      "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1::", "1::2:", "fe80::1%", "::ffff:1.2.3", "1.2.3.4::", "[::1]", "1.2.3.4:80"]) {
      assert.equal(t.allows(a, "tcp"), false, JSON.stringify(a));
    }
  });
});

describe("invalid entries", () => {
  test("throw an Error naming the entry", () => {
    for (const entry of ["", "10.0.0.0/33", "::/129", "1.2.3", "example.com", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/1000", " 10.0.0.1",
      "10.0.0.1 ", "01.2.3.4", "1::2::3", "::/8/8", "unix/8", "localhost"]) {
      assert.throws(() => new TrustedPeers([entry]), (err: unknown) => err instanceof Error && err.message.includes(`"${entry}"`), JSON.stringify(entry));
    }
  });
});

// ─── properties ─────────────────────────────────────────────────────────────────────────────────────────────

const v4Number = (a: string): bigint => a.split(".").reduce((n, o) => n * 256n + BigInt(o), 0n);
const v4Text = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const v6Text = (n: bigint): string => Array.from({ length: 8 }, (_, g) => ((n >> BigInt(16 * (7 - g))) & 0xffffn).toString(16)).join(":");
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const uint128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

describe("properties", () => {
  test("IPv4: a peer is in a block exactly when its top prefix bits match (checked with bigint arithmetic)", () => {
    fc.assert(
      fc.property(uint32, uint32, fc.integer({ min: 0, max: 32 }), (network, peer, bits) => {
        const shift = BigInt(32 - bits);
        const expected = BigInt(network) >> shift === BigInt(peer) >> shift;
        const t = new TrustedPeers([`${v4Text(network)}/${bits}`]);
        assert.equal(t.allows(v4Text(peer), "tcp"), expected);
        assert.equal(t.allows(`::ffff:${v4Text(peer)}`, "tcp"), expected);
      }),
      { numRuns: 1000 },
    );
  });

  test("IPv4: a peer near the block's edges is in it exactly when its top bits match", () => {
    fc.assert(
      fc.property(uint32, fc.integer({ min: 0, max: 32 }), fc.integer({ min: -2, max: 2 }), fc.boolean(), (network, bits, delta, top) => {
        const size = 2 ** (32 - bits);
        const base = Math.floor(network / size) * size;
        const peer = (top ? base + size - 1 : base) + delta;
        if (peer < 0 || peer > 0xffffffff) return;
        const expected = peer >= base && peer < base + size;
        assert.equal(new TrustedPeers([`${v4Text(network)}/${bits}`]).allows(v4Text(peer), "tcp"), expected);
        assert.equal(v4Number(v4Text(peer)), BigInt(peer));
      }),
      { numRuns: 1000 },
    );
  });

  test("IPv6: a peer is in a block exactly when its top prefix bits match (checked with bigint arithmetic)", () => {
    const mapped = (n: bigint): boolean => n >> 32n === 0xffffn;
    fc.assert(
      fc.property(uint128, uint128, fc.integer({ min: 0, max: 128 }), fc.boolean(), (network, peer, bits, near) => {
        // Half the time the peer shares a random number of leading bits with the network, so matches happen.
        const p = near ? (network & ~((1n << BigInt(128 - bits)) - 1n)) | (peer & ((1n << BigInt(128 - bits)) - 1n)) : peer;
        const shift = BigInt(128 - bits);
        const expected = network >> shift === p >> shift;
        assert.equal(new TrustedPeers([`${v6Text(network)}/${bits}`]).allows(v6Text(p), "tcp"), expected);
        if (mapped(p)) assert.equal(new TrustedPeers([`${v6Text(network)}/${bits}`]).allows(v4Text(Number(p & 0xffffffffn)), "tcp"), expected);
      }),
      { numRuns: 1000 },
    );
  });

  test("IPv6: every way fast-check writes an address matches that address's canonical form, and no other", () => {
    fc.assert(
      fc.property(fc.ipV6(), (written) => {
        const canonical = new net.SocketAddress({ address: written, family: "ipv6" }).address;
        assert.equal(tcp([canonical], written), true);
        assert.equal(tcp([written], canonical), true);
        const other = canonical === "::1" ? "::2" : "::1";
        assert.equal(tcp([written], other), false);
      }),
      { numRuns: 1000 },
    );
  });

  test("a peer's address is trusted exactly when net.isIP calls it an address and ::/0 or 0.0.0.0/0 covers it", () => {
    const t = new TrustedPeers(["::/0"]);
    const chars = fc.constantFrom(..."0123456789abcdefABCDEF:.%x ");
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 45 }), fc.ipV4(), fc.ipV6()), (s) => {
        const isAddress = net.isIP(s) !== 0 && !s.endsWith("%");
        assert.equal(t.allows(s, "tcp"), isAddress, JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });
});
