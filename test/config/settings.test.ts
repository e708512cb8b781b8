import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { helpText, parseCommandLine } from "../../src/config/args.ts";
import { settingsReference, withReference } from "../../src/config/reference.ts";
import { SETTINGS, UsageError, parseBind, parseDuration, parseSize } from "../../src/config/settings.ts";

describe("the settings table", () => {
  test("README's reference is the one generated from the table (run `npm run docs` if this fails)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    assert.equal(withReference(readme), readme);
    assert.ok(readme.includes(settingsReference()));
  });

  test("--help lists every setting's flag, env var and default", () => {
    const help = helpText("9.9.9");
    for (const s of SETTINGS) {
      assert.ok(help.includes(`--${s.flag} ${s.meta}`), `--${s.flag} missing from help`);
      assert.ok(help.includes(s.env), `${s.env} missing from help`);
      if (s.short) assert.ok(help.includes(`-${s.short}, --${s.flag}`));
    }
    assert.match(help, /Exit codes: 0 .*2 usage error, 3 cannot listen, 4 cannot load the app/);
  });

  test("every flag and env var is unique and env vars are ORYX_*", () => {
    const flags = SETTINGS.map((s) => s.flag);
    const envs = SETTINGS.map((s) => s.env);
    assert.equal(new Set(flags).size, flags.length);
    assert.equal(new Set(envs).size, envs.length);
    for (const e of envs) assert.match(e, /^ORYX_[A-Z_]+$/);
  });

  test("defaults a careful operator would choose", () => {
    const { settings } = parseCommandLine(["app.ts"], {});
    assert.deepEqual(settings.bind, [{ kind: "tcp", host: "127.0.0.1", port: 8888 }]);
    assert.equal(settings.backlog, 2048);
    assert.equal(settings.limitRequestLine, 8192);
    assert.equal(settings.limitRequestFields, 100);
    assert.equal(settings.limitRequestFieldSize, 8192);
    assert.ok(Number.isFinite(settings.limitRequestBody) && settings.limitRequestBody > 0);
    assert.ok(settings.headerTimeout >= 10_000 && settings.headerTimeout <= 30_000);
    assert.ok(settings.keepAliveTimeout >= 5_000);
    assert.equal(settings.serverHeader, "");
  });
});

describe("command line and environment", () => {
  test("flags win over ORYX_* variables, which win over defaults", () => {
    const env = { ORYX_BACKLOG: "10", ORYX_KEEP_ALIVE_TIMEOUT: "7", ORYX_BIND: "127.0.0.1:1, unix:/tmp/x.sock" };
    const a = parseCommandLine(["app.ts"], env).settings;
    assert.equal(a.backlog, 10);
    assert.equal(a.keepAliveTimeout, 7000);
    assert.deepEqual(a.bind, [{ kind: "tcp", host: "127.0.0.1", port: 1 }, { kind: "unix", path: "/tmp/x.sock" }]);
    const b = parseCommandLine(["--backlog", "20", "-b", "[::1]:0", "-b", "0.0.0.0:80", "app.ts"], env).settings;
    assert.equal(b.backlog, 20);
    assert.equal(b.keepAliveTimeout, 7000);
    assert.deepEqual(b.bind, [{ kind: "tcp", host: "::1", port: 0 }, { kind: "tcp", host: "0.0.0.0", port: 80 }]);
  });

  test("the app argument, --help and --version", () => {
    assert.equal(parseCommandLine(["x.ts:app"], {}).app, "x.ts:app");
    assert.equal(parseCommandLine([], {}).app, undefined);
    assert.equal(parseCommandLine(["-h"], {}).help, true);
    assert.equal(parseCommandLine(["-V"], {}).version, true);
  });

  test("usage errors name the flag or variable", () => {
    assert.throws(() => parseCommandLine(["--nope", "a.ts"], {}), (e: unknown) => e instanceof UsageError && /unknown option --nope/.test(e.message));
    assert.throws(() => parseCommandLine(["--backlog", "x", "a.ts"], {}), /--backlog: "x" is not a whole number/);
    assert.throws(() => parseCommandLine(["a.ts"], { ORYX_BACKLOG: "x" }), /ORYX_BACKLOG: "x" is not a whole number/);
    assert.throws(() => parseCommandLine(["a.ts", "b.ts"], {}), /expected one application/);
    assert.throws(() => parseCommandLine(["--log-level", "loud", "a.ts"], {}), /--log-level: "loud" is not one of/);
  });
});

describe("value parsers", () => {
  test("binds", () => {
    assert.deepEqual(parseBind("127.0.0.1:0"), { kind: "tcp", host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseBind("localhost:8080"), { kind: "tcp", host: "localhost", port: 8080 });
    assert.deepEqual(parseBind("[::1]:9"), { kind: "tcp", host: "::1", port: 9 });
    assert.deepEqual(parseBind("unix:/run/oryx.sock"), { kind: "unix", path: "/run/oryx.sock" });
    for (const bad of ["", "8080", "host", "host:", ":80", "::1:80", "[::1]", "a:70000", "unix:", "a b:1"]) {
      assert.throws(() => parseBind(bad), UsageError, bad);
    }
  });

  test("sizes", () => {
    const p = parseSize(0, 2 ** 40);
    assert.equal(p("8192"), 8192);
    assert.equal(p("8k"), 8192);
    assert.equal(p("8KiB"), 8192);
    assert.equal(p("16MiB"), 16 * 1024 * 1024);
    assert.equal(p("1g"), 1024 ** 3);
    assert.equal(p("1.5k"), 1536);
    for (const bad of ["", "k", "-1", "1x", "1 2"]) assert.throws(() => p(bad), UsageError, bad);
    assert.throws(() => parseSize(64, 100)("10"), /out of range/);
  });

  test("durations", () => {
    const p = parseDuration(0, 86_400_000);
    assert.equal(p("5"), 5000);
    assert.equal(p("0.5"), 500);
    assert.equal(p("250ms"), 250);
    assert.equal(p("2m"), 120_000);
    assert.equal(p("3s"), 3000);
    for (const bad of ["", "s", "-1", "1h", "five"]) assert.throws(() => p(bad), UsageError, bad);
    assert.throws(() => parseDuration(1, 10)("0"), /out of range/);
  });
});
