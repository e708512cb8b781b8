/**
 * What a trusted proxy says about the client: Forwarded (RFC 7239) and X-Forwarded-*, read from the right so that
 * hops a client wrote itself never pass for the client once a proxy has appended the real one.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { readForwarded, type ForwardedView } from "../../src/server/forwarded.ts";
import { TrustedPeers } from "../../src/server/trust.ts";

/** The proxies in front of oryx in these tests. */
const PROXIES = new TrustedPeers(["10.0.0.0/8", "fd00::/8"]);
const NOBODY = new TrustedPeers([]);

const read = (headers: string[], trusted = PROXIES): ForwardedView | null => readForwarded(headers, trusted);
const client = (headers: string[], trusted = PROXIES): ForwardedView["client"] => read(headers, trusted)?.client ?? null;
const fwd = (...values: string[]): string[] => values.flatMap((v) => ["forwarded", v]);
const xff = (...values: string[]): string[] => values.flatMap((v) => ["x-forwarded-for", v]);

describe("presence", () => {
  test("null without any of the four fields", () => {
    assert.equal(read([]), null);
    assert.equal(read(["host", "example.com", "x-forwarded-port", "443", "x-real-ip", "1.2.3.4", "forwarded-for", "1.2.3.4"]), null);
  });

  test("a view as soon as any one of them is there, even empty", () => {
    for (const name of ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]) {
      assert.deepEqual(read([name, ""]), { client: null, scheme: null, host: null }, name);
    }
  });

  test("an odd trailing name without a value is ignored", () => {
    assert.equal(read(["x-forwarded-for"]), null);
  });
});

// ─── Forwarded ──────────────────────────────────────────────────────────────────────────────────────────────

describe("Forwarded: nodes", () => {
  test("an IPv4 token", () => {
    assert.deepEqual(client(fwd("for=192.0.2.60")), { address: "192.0.2.60", port: 0 });
  });

  test("quoted IPv4 with a port", () => {
    assert.deepEqual(client(fwd('for="192.0.2.60:5678"')), { address: "192.0.2.60", port: 5678 });
  });

  test("quoted bracketed IPv6, with and without a port, in the form net.Socket.remoteAddress uses", () => {
    assert.deepEqual(client(fwd('for="[2001:db8::1]:4711"')), { address: "2001:db8::1", port: 4711 });
    assert.deepEqual(client(fwd('for="[2001:db8::1]"')), { address: "2001:db8::1", port: 0 });
    assert.deepEqual(client(fwd('for="[2001:0DB8:0:0::0001]"')), { address: "2001:db8::1", port: 0 });
    assert.deepEqual(client(fwd('for="[::FFFF:7f00:1]"')), { address: "::ffff:127.0.0.1", port: 0 });
  });

  test('"unknown" and obfuscated nodes name no client', () => {
    for (const node of ["unknown", "_hidden", '"_SEVKISEK"', '"unknown:1234"', '"_x:_y"']) {
      const v = read(fwd(`for=${node};proto=https`));
      assert.deepEqual(v, { client: null, scheme: "https", host: null }, node);
    }
  });

  test("an obfuscated port reads as 0", () => {
    assert.deepEqual(client(fwd('for="192.0.2.60:_abc"')), { address: "192.0.2.60", port: 0 });
  });

  const malformed: Array<[string, string]> = [
    ["an unquoted IPv6", "for=[2001:db8::1]"],
    ["an unquoted port", "for=192.0.2.60:80"],
    ["a bare IPv6 in quotes", 'for="2001:db8::1"'],
    ["a zone index", 'for="[fe80::1%eth0]"'],
    ["port 65536", 'for="192.0.2.60:65536"'],
    ["an empty port", 'for="192.0.2.60:"'],
    ["a six-digit port", 'for="192.0.2.60:000080"'],
    ["a leading-zero octet", "for=192.0.2.060"],
    ["a host name", "for=client.example"],
    ["an unclosed bracket", 'for="[2001:db8::1"'],
    ["junk after the bracket", 'for="[2001:db8::1]x"'],
    ["an IPv4 in brackets", 'for="[192.0.2.60]"'],
    ["an empty value", 'for=""'],
    ["a name without a value", "for"],
    ["a name with an empty value", "for="],
    ["a repeated parameter", "for=192.0.2.60;for=192.0.2.61"],
    ["a repeated parameter in another case", "for=192.0.2.60;FOR=192.0.2.61"],
    ["space around =", "for = 192.0.2.60"],
    ["an unterminated quote", 'for="192.0.2.60'],
    ["a control character in quotes", 'for="192.0.2.60\x01"'],
    ["junk after a value", "for=192.0.2.60 x"],
    ["a non-token name", "f@r=192.0.2.60"],
  ];
  for (const [what, value] of malformed) {
    test(`a malformed element names no client: ${what}`, () => {
      assert.deepEqual(read(fwd(value)), { client: null, scheme: null, host: null });
    });
  }

  test("a malformed element never throws, even one built to trip the parser", () => {
    for (const v of ['"', "\\", ";", "=", ",", '""""', 'for="\\', 'for="a\\"', "for=\x00", "for=\u0100"]) {
      assert.doesNotThrow(() => read(fwd(v)), JSON.stringify(v));
    }
  });
});

describe("Forwarded: syntax", () => {
  test("parameter names are case-insensitive", () => {
    assert.deepEqual(read(fwd("For=192.0.2.60;PROTO=https;Host=example.com")), {
      client: { address: "192.0.2.60", port: 0 },
      scheme: "https",
      host: "example.com",
    });
  });

  test("quoted values are unescaped", () => {
    assert.deepEqual(read(fwd('for="192.0.2.\\60";host="exa\\mple.com:8\\443"')), {
      client: { address: "192.0.2.60", port: 0 },
      scheme: null,
      host: "example.com:8443",
    });
  });

  test("optional whitespace around commas and semicolons, and empty elements and pairs, are accepted", () => {
    const v = read(fwd(" , for=192.0.2.60 ; proto=https ;; host=example.com ,, for=10.0.0.1 , "));
    assert.deepEqual(v, { client: { address: "192.0.2.60", port: 0 }, scheme: "https", host: "example.com" });
  });

  test("unknown parameters (by=, extensions) are ignored", () => {
    assert.deepEqual(client(fwd('for=192.0.2.60;by=10.0.0.1;ext="x y";secret=1')), { address: "192.0.2.60", port: 0 });
  });

  test("a quoted comma or semicolon does not end the element", () => {
    const v = read(fwd('for=192.0.2.60;ext="a,b;c";proto=https, for=10.0.0.1'));
    assert.deepEqual(v, { client: { address: "192.0.2.60", port: 0 }, scheme: "https", host: null });
  });
});

describe("Forwarded: the chain", () => {
  test("the client is the rightmost hop that is not a trusted proxy", () => {
    assert.deepEqual(client(fwd("for=192.0.2.60, for=10.0.0.2, for=10.0.0.3")), { address: "192.0.2.60", port: 0 });
  });

  test("a spoofed leftmost hop is ignored once a proxy appended the real client", () => {
    // The client wrote the first two elements; the proxies at 10.x appended the last two.
    const v = read(fwd("for=127.0.0.1;proto=https;host=admin.internal, for=10.0.0.9, for=203.0.113.7;proto=http;host=shop.example, for=10.0.0.2"));
    assert.deepEqual(v, { client: { address: "203.0.113.7", port: 0 }, scheme: "http", host: "shop.example" });
  });

  test("with no trusted proxies among the hops, the rightmost one is the client", () => {
    assert.deepEqual(client(fwd("for=192.0.2.1, for=192.0.2.2"), NOBODY), { address: "192.0.2.2", port: 0 });
  });

  test("when every hop is trusted, the leftmost is the client", () => {
    assert.deepEqual(client(fwd('for=10.0.0.1, for="[fd00::5]:80", for=10.0.0.3')), { address: "10.0.0.1", port: 0 });
  });

  test("IPv4-mapped hops are trusted like the IPv4 address they map", () => {
    assert.deepEqual(client(fwd('for=192.0.2.60, for="[::ffff:10.0.0.2]"')), { address: "192.0.2.60", port: 0 });
  });

  test("a hop with no address stops the walk: the client is then unknown", () => {
    assert.equal(client(fwd("for=192.0.2.60, for=unknown, for=10.0.0.2")), null);
    assert.equal(client(fwd("for=192.0.2.60, proto=https, for=10.0.0.2")), null, "an element without for=");
    assert.equal(client(fwd("for=192.0.2.60, for=bogus!, for=10.0.0.2")), null, "a malformed node");
  });

  test("a malformed hop left of the client does not matter", () => {
    assert.deepEqual(client(fwd("for=client.example, for=192.0.2.60, for=10.0.0.2")), { address: "192.0.2.60", port: 0 });
    assert.deepEqual(client(fwd('for="broken', "for=192.0.2.60, for=10.0.0.2")), { address: "192.0.2.60", port: 0 });
  });

  test("a syntax error takes the rest of its line with it", () => {
    // The proxy's element after the broken one cannot be told apart from the junk: the client is unknown.
    assert.equal(client(fwd("for=192.0.2.60 x, for=10.0.0.2")), null);
  });

  test("repeated fields are one list, in order", () => {
    assert.deepEqual(client(fwd("for=192.0.2.1", "for=192.0.2.2"), NOBODY), { address: "192.0.2.2", port: 0 });
    assert.deepEqual(client(fwd("for=192.0.2.1", "for=10.0.0.2")), { address: "192.0.2.1", port: 0 });
    assert.deepEqual(client(fwd("for=192.0.2.1, for=10.0.0.1", "for=10.0.0.2")), { address: "192.0.2.1", port: 0 });
  });

  test("an unterminated quote in the client's field cannot swallow a proxy's later field", () => {
    assert.deepEqual(client(fwd('for="192.0.2.1', "for=203.0.113.7, for=10.0.0.2")), { address: "203.0.113.7", port: 0 });
  });

  test("scheme and host come from the chosen element only", () => {
    const v = read(fwd("for=192.0.2.60, for=10.0.0.2;proto=https;host=example.com"));
    assert.deepEqual(v, { client: { address: "192.0.2.60", port: 0 }, scheme: null, host: null });
  });

  test("Forwarded wins: X-Forwarded-* are ignored when it is present", () => {
    const x = ["x-forwarded-for", "198.51.100.9", "x-forwarded-proto", "https", "x-forwarded-host", "x.example"];
    assert.deepEqual(read([...x, ...fwd("for=192.0.2.60;proto=http")]), { client: { address: "192.0.2.60", port: 0 }, scheme: "http", host: null });
    assert.deepEqual(read([...fwd(""), ...x]), { client: null, scheme: null, host: null }, "even when it names nothing");
  });
});

describe("Forwarded: proto and host", () => {
  test("proto is http or https, in any case; anything else is null", () => {
    const scheme = (p: string): string | null => read(fwd(`for=192.0.2.60;proto=${p}`))?.scheme ?? null;
    assert.equal(scheme("http"), "http");
    assert.equal(scheme("HTTPS"), "https");
    assert.equal(scheme('"HtTp"'), "http");
    for (const p of ["ftp", "wss", "ws", "https2", '"https "', '""']) assert.equal(scheme(p), null, p);
  });

  test("host is validated", () => {
    const host = (h: string): string | null => read(fwd(`for=192.0.2.60;host=${h}`))?.host ?? null;
    assert.equal(host("example.com"), "example.com");
    assert.equal(host('"example.com:8443"'), "example.com:8443");
    assert.equal(host('"[2001:db8::1]:8080"'), "[2001:db8::1]:8080");
    assert.equal(host("192.0.2.1"), "192.0.2.1");
    for (const h of ['"ex ample.com"', '"a/b"', '"[zz]"', '"ex.com:99999"', '"ex.com:"', '"user@host"', '"999.1.1.1"', '"a%00b"', '"[fe80::1%25eth0]"']) {
      assert.equal(host(h), null, h);
    }
  });
});

// ─── X-Forwarded-* ──────────────────────────────────────────────────────────────────────────────────────────

describe("X-Forwarded-For", () => {
  test("every address form, ports stripped into port", () => {
    const one = (entry: string): ForwardedView["client"] => client(xff(entry), NOBODY);
    assert.deepEqual(one("192.0.2.60"), { address: "192.0.2.60", port: 0 });
    assert.deepEqual(one("192.0.2.60:5678"), { address: "192.0.2.60", port: 5678 });
    assert.deepEqual(one("2001:db8::1"), { address: "2001:db8::1", port: 0 });
    assert.deepEqual(one("[2001:db8::1]"), { address: "2001:db8::1", port: 0 });
    assert.deepEqual(one("[2001:db8::1]:4711"), { address: "2001:db8::1", port: 4711 });
    assert.deepEqual(one("2001:0DB8:0:0:0:0:0:1"), { address: "2001:db8::1", port: 0 });
    assert.deepEqual(one("::ffff:192.0.2.60"), { address: "::ffff:192.0.2.60", port: 0 });
  });

  test("a malformed or hidden entry names no client", () => {
    for (const entry of ["unknown", "_hidden", "client.example", "192.0.2.60:65536", "192.0.2.60:", "192.0.2.60:x", "[2001:db8::1", "fe80::1%eth0",
      "01.2.3.4", "1.2.3.4.5", "[1.2.3.4]", "[::1]:", "2001:db8::1:80:", "\x00"]) {
      assert.equal(client(xff(entry), NOBODY), null, JSON.stringify(entry));
    }
  });

  test("a spoofed leftmost hop is ignored once a proxy appended the real client", () => {
    // The client sent "X-Forwarded-For: 127.0.0.1"; the first proxy appended the peer it saw, the second likewise.
    assert.deepEqual(client(xff("127.0.0.1, 203.0.113.7, 10.0.0.9")), { address: "203.0.113.7", port: 0 });
  });

  test("when every hop is trusted, the leftmost is the client", () => {
    assert.deepEqual(client(xff("10.0.0.1, fd00::2, 10.0.0.3")), { address: "10.0.0.1", port: 0 });
  });

  test("a hop named in IPv4-mapped form is trusted like the IPv4 address", () => {
    assert.deepEqual(client(xff("192.0.2.60, ::ffff:10.0.0.2")), { address: "192.0.2.60", port: 0 });
  });

  test("a malformed hop stops the walk; left of the client it does not matter", () => {
    assert.equal(client(xff("192.0.2.60, garbage, 10.0.0.2")), null);
    assert.deepEqual(client(xff("garbage, 192.0.2.60, 10.0.0.2")), { address: "192.0.2.60", port: 0 });
  });

  test("repeated fields are one list, in order; empty entries are skipped", () => {
    assert.deepEqual(client(xff("192.0.2.1", "192.0.2.2"), NOBODY), { address: "192.0.2.2", port: 0 });
    assert.deepEqual(client(xff("192.0.2.1, 10.0.0.1", "10.0.0.2")), { address: "192.0.2.1", port: 0 });
    assert.deepEqual(client(xff("192.0.2.1,,\t, 10.0.0.1 ,")), { address: "192.0.2.1", port: 0 });
    assert.equal(client(xff(" , ")), null);
  });
});

describe("X-Forwarded-Proto and X-Forwarded-Host", () => {
  const headers = (f: string, proto?: string, host?: string): string[] => [
    ...xff(f),
    ...(proto === undefined ? [] : ["x-forwarded-proto", proto]),
    ...(host === undefined ? [] : ["x-forwarded-host", host]),
  ];

  test("a single value applies whatever the chain", () => {
    assert.deepEqual(read(headers("192.0.2.60, 10.0.0.2", "https", "example.com")), {
      client: { address: "192.0.2.60", port: 0 },
      scheme: "https",
      host: "example.com",
    });
  });

  test("a list as long as X-Forwarded-For gives the chosen client's entry", () => {
    const v = read(headers("127.0.0.1, 192.0.2.60, 10.0.0.2", "http, https, http", "evil.example, good.example, inner.example"));
    assert.deepEqual(v, { client: { address: "192.0.2.60", port: 0 }, scheme: "https", host: "good.example" });
  });

  test("a list of another length gives its leftmost entry", () => {
    const v = read(headers("127.0.0.1, 192.0.2.60, 10.0.0.2", "https, http", "a.example, b.example, c.example, d.example"));
    assert.deepEqual(v, { client: { address: "192.0.2.60", port: 0 }, scheme: "https", host: "a.example" });
  });

  test("repeated fields and empty entries count as one list", () => {
    const v = read([...xff("192.0.2.1, 10.0.0.1"), "x-forwarded-proto", "https,", "x-forwarded-proto", " http"]);
    assert.equal(v?.scheme, "https");
    const w = read([...xff("10.0.0.5, 192.0.2.1, 10.0.0.1"), "x-forwarded-proto", "https,", "x-forwarded-proto", "http,,ftp"]);
    assert.equal(w?.scheme, "http", "three entries line up with three hops");
  });

  test("scheme: http or https in any case; anything else is null", () => {
    assert.equal(read(headers("192.0.2.1", "HTTPS"))?.scheme, "https");
    assert.equal(read(headers("192.0.2.1", "Http"))?.scheme, "http");
    for (const p of ["ftp", "wss", "https:", "h t t p", "\u0130ttp"]) assert.equal(read(headers("192.0.2.1", p))?.scheme, null, p);
  });

  test("host: validated", () => {
    const host = (h: string): string | null => read(headers("192.0.2.1", undefined, h))?.host ?? null;
    assert.equal(host("example.com:8443"), "example.com:8443");
    assert.equal(host("[2001:db8::1]"), "[2001:db8::1]");
    assert.equal(host("xn--bcher-kva.example"), "xn--bcher-kva.example");
    for (const h of ["ex ample.com", "a/b", "[zz]", "ex.com:65536", "ex.com:", "user@host", "999.1.1.1", "[1.2.3.4]", "a\\b", "a#b", "a?b"]) {
      assert.equal(host(h), null, h);
    }
  });

  test("without X-Forwarded-For, the others still count and the client is unknown", () => {
    assert.deepEqual(read(["x-forwarded-proto", "https"]), { client: null, scheme: "https", host: null });
    assert.deepEqual(read(["x-forwarded-host", "example.com"]), { client: null, scheme: null, host: "example.com" });
  });
});

// ─── bounds ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Counts the trust checks made, to show the walk is bounded. */
class CountingPeers extends TrustedPeers {
  calls = 0;
  override allows(address: string, transport: "tcp" | "unix"): boolean {
    this.calls++;
    return super.allows(address, transport);
  }
}

describe("at most the last 32 hops", () => {
  const hops = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? "192.0.2.60" : `10.0.${i >> 8}.${i & 255}`));

  test("X-Forwarded-For: 32 hops are all looked at; of 40, the leftmost 8 are not", () => {
    assert.deepEqual(client(xff(hops(32).join(", "))), { address: "192.0.2.60", port: 0 });
    assert.deepEqual(client(xff(hops(40).join(", "))), { address: "10.0.0.8", port: 0 });
  });

  test("Forwarded: the same bound", () => {
    const f = (n: number): string => hops(n).map((h) => `for=${h}`).join(", ");
    assert.deepEqual(client(fwd(f(32))), { address: "192.0.2.60", port: 0 });
    assert.deepEqual(client(fwd(f(40))), { address: "10.0.0.8", port: 0 });
    assert.deepEqual(client(fwd(...hops(40).map((h) => `for=${h}`))), { address: "10.0.0.8", port: 0 }, "one element per field");
  });

  test("no more than 32 trust checks, however long the chain", () => {
    const peers = new CountingPeers(["10.0.0.0/8"]);
    readForwarded(xff(hops(5000).join(", ")), peers);
    assert.equal(peers.calls, 32);
    peers.calls = 0;
    readForwarded(fwd(hops(5000).map((h) => `for=${h}`).join(",")), peers);
    assert.equal(peers.calls, 32);
  });
});

// ─── properties ─────────────────────────────────────────────────────────────────────────────────────────────

const untrustedV4 = fc.ipV4().filter((a) => !a.startsWith("10."));
const trustedV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`);
const anyEntry = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("unknown", "junk", "1.2.3.4:99999", "[::1]:80", "::ffff:10.1.1.1"));

describe("properties", () => {
  test("whatever a client prepends, the client a trusted chain names stays the same (X-Forwarded-For)", () => {
    fc.assert(
      fc.property(fc.array(anyEntry, { maxLength: 10 }), untrustedV4, fc.array(trustedV4, { maxLength: 10 }), (spoofed, real, proxies) => {
        const v = client(xff([...spoofed, real, ...proxies].join(", ")));
        assert.deepEqual(v, { address: real, port: 0 });
      }),
    );
  });

  test("whatever a client prepends, the client a trusted chain names stays the same (Forwarded)", () => {
    const element = anyEntry.map((e) => `for="${e}"`);
    const junk = fc.string({ maxLength: 20 });
    fc.assert(
      fc.property(fc.array(fc.oneof(element, junk), { maxLength: 6 }), untrustedV4, fc.array(trustedV4, { maxLength: 10 }), (spoofed, real, proxies) => {
        // The client's own Forwarded field comes first; each proxy then adds a field of its own.
        const fields = [spoofed.join(", "), `for=${real};proto=https`, ...proxies.map((p) => `for=${p}`)];
        assert.deepEqual(read(fwd(...fields)), { client: { address: real, port: 0 }, scheme: "https", host: null });
      }),
    );
  });

  test("never throws, and what it returns is well-formed, whatever the fields hold", () => {
    const value = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(...'for=";,\\[]:_.10fdunknown proto=https host=a '.split("")), maxLength: 60 }),
    );
    const name = fc.constantFrom("forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "other");
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 6 }), (pairs) => {
        const v = readForwarded(pairs.flat(), PROXIES);
        if (v === null) {
          assert.ok(pairs.every(([n]) => n === "other"));
          return;
        }
        if (v.client !== null) {
          assert.notEqual(net.isIP(v.client.address), 0);
          assert.ok(Number.isInteger(v.client.port) && v.client.port >= 0 && v.client.port <= 65535);
        }
        assert.ok(v.scheme === null || v.scheme === "http" || v.scheme === "https");
        if (v.host !== null) assert.ok(URL.canParse(`http://${v.host}/`));
      }),
      { numRuns: 2000 },
    );
  });
});
