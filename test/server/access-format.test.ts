/**
 * Access-log formats (src/server/access-format.ts): every directive on a crafted record, the named formats parsed
 * back field by field, escaping of client-controlled text, and bad formats.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AccessRecord } from "../../src/gateway/exchange.ts";
import { ConnectionInfo } from "../../src/gateway/info.ts";
import { AccessFormatError, compileAccessFormat } from "../../src/server/access-format.ts";

// 2026-11-22T10:00:07.250Z
const STARTED = Date.UTC(2026, 10, 22, 10, 0, 7, 250);

function record(over: { target?: string; method?: string; headers?: string[]; status?: number; bytes?: number; durationMs?: number; versionMinor?: 0 | 1; remoteAddress?: string; host?: string } = {}): AccessRecord {
  const remoteAddress = over.remoteAddress ?? "10.1.2.3";
  return {
    info: ConnectionInfo.of(remoteAddress, 51234, "127.0.0.1", 8888),
    head: {
      method: over.method ?? "GET",
      target: over.target ?? "/a/b?x=1&y=2",
      versionMinor: over.versionMinor ?? 1,
      headers: over.headers ?? ["host", "example.test:8888", "referer", "http://ref.example/page", "user-agent", "tester/1.0", "x-two", "one", "x-two", "two"],
      host: over.host ?? "example.test:8888",
      framing: "none",
      upgrade: false,
      contentLength: 0,
      keepAlive: true,
      expectContinue: false,
    },
    status: over.status ?? 201,
    bytes: over.bytes ?? 1234,
    startedAt: STARTED,
    durationMs: over.durationMs ?? 2345.6789,
  };
}

/** The line for `format` without its "\n" (and checks that there is exactly one, at the end). */
function line(format: string, r: AccessRecord = record()): string {
  const out = compileAccessFormat(format)(r);
  assert.ok(out.endsWith("\n"), `no trailing newline: ${JSON.stringify(out)}`);
  assert.equal(out.indexOf("\n"), out.length - 1, `more than one line: ${JSON.stringify(out)}`);
  return out.slice(0, -1);
}

describe("directives", () => {
  const cases: Array<[string, string, AccessRecord?]> = [
    ["%h", "10.1.2.3"],
    ["%h", "-", record({ remoteAddress: "" })],
    ["%a", "10.1.2.3"],
    ["%a", "-", record({ remoteAddress: "" })],
    ["%l", "-"],
    ["%u", "-"],
    ["%t", "[22/Nov/2026:10:00:07 +0000]"],
    ["%r", "GET /a/b?x=1&y=2 HTTP/1.1"],
    ["%r", "POST /up HTTP/1.0", record({ method: "POST", target: "/up", versionMinor: 0 })],
    ["%m", "GET"],
    ["%m", "DELETE", record({ method: "DELETE" })],
    ["%U", "/a/b"],
    ["%U", "/no-query", record({ target: "/no-query" })],
    ["%q", "?x=1&y=2"],
    ["%q", "", record({ target: "/no-query" })],
    ["%q", "?", record({ target: "/empty?" })],
    ["%H", "HTTP/1.1"],
    ["%H", "HTTP/1.0", record({ versionMinor: 0 })],
    ["%s", "201"],
    ["%>s", "201"],
    ["%>s", "-", record({ status: 0 })],
    ["%b", "1234"],
    ["%b", "-", record({ bytes: 0 })],
    ["%B", "1234"],
    ["%B", "0", record({ bytes: 0 })],
    ["%D", "2345679"],
    ["%T", "2"],
    ["%T", "0", record({ durationMs: 999.9 })],
    ["%{ms}T", "2346"],
    ["%{us}T", "2345679"],
    ["%{s}T", "2"],
    ["%{User-Agent}i", "tester/1.0"],
    ["%{user-agent}i", "tester/1.0"],
    ["%{USER-AGENT}i", "tester/1.0"],
    ["%{Referer}i", "http://ref.example/page"],
    ["%{X-Missing}i", "-"],
    ["%{X-Two}i", "one, two"],
    ["%{Host}i", "example.test:8888"],
    ["%p", "8888"],
    ["%P", String(process.pid)],
    ["%%", "%"],
    ["100%% %>s", "100% 201"],
  ];
  for (const [format, want, r] of cases) {
    test(`${format} → ${JSON.stringify(want)}${r ? " (variant)" : ""}`, () => {
      assert.equal(line(format, r), want);
    });
  }

  test("literals around and between directives are kept as they are", () => {
    assert.equal(line('[%m] <%U>%q {%>s} "x"'), '[GET] </a/b>?x=1&y=2 {201} "x"');
    assert.equal(line("no directives at all"), "no directives at all");
    assert.equal(line("%m%U%H"), "GET/a/bHTTP/1.1");
  });

  test("a compiled formatter gives each record its own line (nothing is cached across records but the second)", () => {
    const f = compileAccessFormat("%t %m %U %>s");
    assert.equal(f(record()), "[22/Nov/2026:10:00:07 +0000] GET /a/b 201\n");
    assert.equal(f(record({ method: "PUT", target: "/z", status: 404 })), "[22/Nov/2026:10:00:07 +0000] PUT /z 404\n");
    const later = { ...record(), startedAt: STARTED + 3_600_000 };
    assert.equal(f(later), "[22/Nov/2026:11:00:07 +0000] GET /a/b 201\n");
    const newYear = { ...record(), startedAt: Date.UTC(2027, 0, 1, 0, 0, 0) };
    assert.equal(f(newYear), "[01/Jan/2027:00:00:00 +0000] GET /a/b 201\n");
  });
});

// ─── named formats ──────────────────────────────────────────────────────────────────────────────────────────

const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';
const COMMON = new RegExp(`^(\\S+) (\\S+) (\\S+) \\[([^\\]]+)\\] ${QUOTED} (\\d{3}|-) (\\d+|-)`);
const COMBINED = new RegExp(`${COMMON.source} ${QUOTED} ${QUOTED}$`);
const COMMON_ONLY = new RegExp(`${COMMON.source}$`);

describe("named formats", () => {
  test("combined: parsed back field by field", () => {
    const m = COMBINED.exec(line("combined"));
    assert.ok(m, line("combined"));
    assert.deepEqual(m.slice(1), ["10.1.2.3", "-", "-", "22/Nov/2026:10:00:07 +0000", "GET /a/b?x=1&y=2 HTTP/1.1", "201", "1234", "http://ref.example/page", "tester/1.0"]);
  });

  test("combined: the same line as the directives it stands for, and as oryx wrote before formats existed", () => {
    assert.equal(line("combined"), line('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'));
    const r = record({ headers: ["host", "h"], bytes: 0, status: 0, method: "HEAD", target: "/" });
    assert.equal(line("combined", r), '10.1.2.3 - - [22/Nov/2026:10:00:07 +0000] "HEAD / HTTP/1.1" - - "-" "-"');
  });

  test("common: parsed back field by field, without referer and user agent", () => {
    const m = COMMON_ONLY.exec(line("common"));
    assert.ok(m, line("common"));
    assert.deepEqual(m.slice(1), ["10.1.2.3", "-", "-", "22/Nov/2026:10:00:07 +0000", "GET /a/b?x=1&y=2 HTTP/1.1", "201", "1234"]);
    assert.equal(line("common"), line('%h %l %u %t "%r" %>s %b'));
  });

  test("json: one object per line, parsed back key by key, in the documented order", () => {
    const obj = JSON.parse(line("json")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(obj), [
      "time", "pid", "remote_addr", "remote_port", "method", "path", "query", "protocol", "host", "status", "bytes", "duration_ms", "referer", "user_agent",
    ]);
    assert.equal(obj.time, "2026-11-22T10:00:07.250Z");
    assert.equal(obj.pid, process.pid);
    assert.equal(obj.remote_addr, "10.1.2.3");
    assert.equal(obj.remote_port, 51234);
    assert.equal(obj.method, "GET");
    assert.equal(obj.path, "/a/b");
    assert.equal(obj.query, "x=1&y=2");
    assert.equal(obj.protocol, "HTTP/1.1");
    assert.equal(obj.host, "example.test:8888");
    assert.equal(obj.status, 201);
    assert.equal(obj.bytes, 1234);
    assert.equal(obj.duration_ms, 2345.679);
    assert.equal(obj.referer, "http://ref.example/page");
    assert.equal(obj.user_agent, "tester/1.0");
  });

  test("json: absent parts are empty strings and zeros, never missing keys", () => {
    const obj = JSON.parse(line("json", record({ target: "/plain", headers: [], host: "", status: 0, bytes: 0, durationMs: 0, versionMinor: 0 }))) as Record<string, unknown>;
    assert.equal(obj.path, "/plain");
    assert.equal(obj.query, "");
    assert.equal(obj.host, "");
    assert.equal(obj.referer, "");
    assert.equal(obj.user_agent, "");
    assert.equal(obj.status, 0);
    assert.equal(obj.bytes, 0);
    assert.equal(obj.duration_ms, 0);
    assert.equal(obj.protocol, "HTTP/1.0");
  });

  test("json: a target with several ? splits at the first", () => {
    const obj = JSON.parse(line("json", record({ target: "/p?a=?b" }))) as Record<string, unknown>;
    assert.equal(obj.path, "/p");
    assert.equal(obj.query, "a=?b");
  });
});

// ─── escaping ───────────────────────────────────────────────────────────────────────────────────────────────

describe("escaping client-controlled text", () => {
  // Quotes, a backslash, CR LF (a forged second line), a NUL, ESC, DEL and latin1 bytes (é, ÿ) as the engine
  // decodes them.
  const EVIL = 'evil" "x\\y\r\n10.0.0.9 - - [01/Jan/2000:00:00:00 +0000] "GET /forged HTTP/1.1" 200 1\x00\x1b\x7f\xe9\xff';
  const evil = record({
    headers: ["host", "h", "user-agent", EVIL, "referer", 'r"ef'],
    target: '/p"a\\th?q="\xe9',
    method: "GET",
  });

  test("combined: still one line that the regex parses, with the fields where they belong", () => {
    const l = line("combined", evil);
    assert.doesNotMatch(l, /[\x00-\x1f\x7f-\uffff]/, "a raw control or non-ASCII character in the line");
    const m = COMBINED.exec(l);
    assert.ok(m, l);
    assert.equal(m[5], 'GET /p\\"a\\\\th?q=\\"\\xe9 HTTP/1.1');
    assert.equal(m[6], "201");
    assert.equal(m[8], 'r\\"ef');
    assert.equal(m[9], 'evil\\" \\"x\\\\y\\x0d\\x0a10.0.0.9 - - [01/Jan/2000:00:00:00 +0000] \\"GET /forged HTTP/1.1\\" 200 1\\x00\\x1b\\x7f\\xe9\\xff');
  });

  test("each directive that carries client text escapes it", () => {
    assert.equal(line("%m", record({ method: 'G"T' })), 'G\\"T');
    assert.equal(line("%U", evil), '/p\\"a\\\\th');
    assert.equal(line("%q", evil), '?q=\\"\\xe9');
    assert.equal(line("%{User-Agent}i", record({ headers: ["user-agent", "a\tb\x01"] })), "a\\x09b\\x01");
    // Beyond latin1 (a Node app's URL may carry it): its UTF-8 bytes.
    assert.equal(line("%U", record({ target: "/€" })), "/\\xe2\\x82\\xac");
  });

  test("plain ASCII text is left alone", () => {
    assert.equal(line("%{User-Agent}i", record({ headers: ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) ~!@#$%^&*()_+{}|:<>?[];',./`"] })), "Mozilla/5.0 (X11; Linux x86_64) ~!@#$%^&*()_+{}|:<>?[];',./`");
  });

  test("json: still one line, and JSON.parse gives back exactly what the client sent", () => {
    const l = line("json", evil);
    const obj = JSON.parse(l) as Record<string, unknown>;
    assert.equal(obj.user_agent, EVIL);
    assert.equal(obj.referer, 'r"ef');
    assert.equal(obj.path, '/p"a\\th');
    assert.equal(obj.query, 'q="\xe9');
  });
});

// ─── bad formats ────────────────────────────────────────────────────────────────────────────────────────────

describe("bad formats", () => {
  const bad: Array<[string, RegExp]> = [
    ["%Z", /unknown access-log directive %Z in "%Z"/],
    ["%h %Z %s", /unknown access-log directive %Z in "%h %Z %s"/],
    ["%{Foo", /unterminated access-log directive %\{Foo in "%\{Foo"/],
    ["%h %{Foo", /%\{Foo/],
    ["%{Foo}", /unterminated access-log directive %\{Foo\}/],
    ["%h %", /lone %/],
    ["%", /lone %/],
    ["%{Foo}Z", /unknown access-log directive %\{Foo\}Z/],
    ["%{}i", /unknown access-log directive %\{\}i/],
    ["%{xs}T", /unknown access-log directive %\{xs\}T/],
    ["%{constructor}T", /unknown access-log directive %\{constructor\}T/],
    ["%>m", /unknown access-log directive %>m/],
    ["%>", /unterminated access-log directive %>/],
    ["%{ms}h", /unknown access-log directive %\{ms\}h/],
    ["", /empty/],
  ];
  for (const [format, re] of bad) {
    test(`${JSON.stringify(format)} throws AccessFormatError`, () => {
      assert.throws(
        () => compileAccessFormat(format),
        (err: unknown) => {
          assert.ok(err instanceof AccessFormatError, `not an AccessFormatError: ${String(err)}`);
          assert.ok(err instanceof Error);
          assert.match(err.message, re);
          assert.doesNotMatch(err.message, /\n/, "one sentence");
          return true;
        },
      );
    });
  }

  test("the named formats and %% are not errors; a name is not a prefix match", () => {
    for (const f of ["combined", "common", "json", "%%", "100%%"]) assert.doesNotThrow(() => compileAccessFormat(f), f);
    // "Combined" is not a named format: it is a format string without directives.
    assert.equal(line("Combined"), "Combined");
  });
});
