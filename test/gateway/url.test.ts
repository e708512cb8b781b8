/**
 * The URL fast path (src/gateway/url.ts) must give exactly what the URL parser gives, or defer to it. Checked
 * on hand-picked cases and on random hosts and targets drawn from the characters that matter.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { serializeUrl } from "../../src/gateway/url.ts";

function viaParser(raw: string): string | null {
  try {
    return new URL(raw).href;
  } catch {
    return null;
  }
}

function check(scheme: "http" | "https", host: string, target: string): void {
  const raw = `${scheme}://${host}${target}`;
  assert.equal(serializeUrl(scheme, host, target, raw), viaParser(raw), raw);
}

describe("serializeUrl", () => {
  test("agrees with the URL parser on the cases that differ from the string as built", () => {
    const hosts = [
      "example.com", "EXAMPLE.com", "127.0.0.1", "127.0.0.1:8080", "127.1", "0x7f.0.0.1", "1.2.3.4.5", "01.2.3.4",
      "256.1.1.1", "example.com:80", "example.com:443", "example.com:080", "example.com:65535", "example.com:65536",
      "example.com.", "xn--nxasmq6b.com", "xn--a.com", "[::1]:8080", "[0:0::1]", "a_b.com", "a..b", "-a-.com", "localhost",
      "", "exa mple.com", "example.com:", "1abc.com", "a.1", "a.0x1",
    ];
    const targets = [
      "/", "/a/b?c=d", "/./a", "/a/../b", "/a/.", "/a/..", "/%2e/a", "/%2E%2e/", "/a%2fb", "/.hidden", "/a?b=/../c",
      "/a'b", "/a?b'c", "/a b", "/a?b c", "/a#b", "/a\\b", "/é", "/a|b", "/a^b", "/{x}", "/a%zz", "/?", "//a", "/a?b?c",
      "/~user/!$&()*+,;=:@", "/a\"b", "/a<b>", "/a`b",
    ];
    for (const scheme of ["http", "https"] as const) for (const h of hosts) for (const t of targets) check(scheme, h, t);
  });

  test("agrees with the URL parser on random hosts and targets", () => {
    const hostChar = fc.constantFrom(..."abcxyzAZ0189.-_:[]%".split(""));
    const targetChar = fc.constantFrom(..."abAZ09/.?%2eE'\"#\\ -_~!$&()*+,;=:@|^{}<>`é".split(""));
    fc.assert(
      fc.property(
        fc.constantFrom("http" as const, "https" as const),
        fc.string({ unit: hostChar, minLength: 0, maxLength: 20 }),
        fc.string({ unit: targetChar, minLength: 0, maxLength: 20 }).map((t) => `/${t}`),
        (scheme, host, target) => check(scheme, host, target),
      ),
      { numRuns: 20_000 },
    );
  });

  test("absolute-form targets go through the parser", () => {
    assert.equal(serializeUrl("http", "", "http://Example.COM/a/../b", "http://Example.COM/a/../b"), "http://example.com/b");
    assert.equal(serializeUrl("http", "", "http://[bad/", "http://[bad/"), null);
  });
});
