/**
 * The config file: every value form of every kind of setting, the file formats (JSON, .ts, .mts, .cts, .mjs,
 * .cjs, function exports), the error sentences (unknown keys with suggestions, wrong types, parser rejections,
 * files that are missing or throw), and precedence against ORYX_* variables and flags.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { checkConfigReport, helpText, parseCommandLine, resolveCommandLine } from "../../src/config/args.ts";
import {
  ConfigFileError,
  configToSettings,
  convertConfig,
  defineConfig,
  formatSettingValue,
  loadConfigFile,
  suggestKey,
  type OryxConfig,
} from "../../src/config/file.ts";
import { SETTINGS, UsageError, type Settings } from "../../src/config/settings.ts";
import { ROOT } from "../support/cli.ts";

const dir = mkdtempSync(path.join(tmpdir(), "oryx-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` to `name` in the temp dir; returns the name (relative to `dir`). */
function write(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

const FILE_TS = pathToFileURL(path.join(ROOT, "src/config/file.ts")).href;

/** The settings a config object gives on its own (defaults + the object). */
function from(config: Record<string, unknown>): Settings {
  return configToSettings(config as OryxConfig, "oryx.config.ts");
}

/** Asserts that `config` is refused with a ConfigFileError whose message is exactly, or matches, `expected`. */
function refused(config: Record<string, unknown>, expected: string | RegExp): void {
  assert.throws(
    () => convertConfig(config, "oryx.config.ts"),
    (e: unknown) => {
      assert.ok(e instanceof ConfigFileError && e instanceof UsageError, `a ConfigFileError, got ${String(e)}`);
      if (typeof expected === "string") assert.equal(e.message, expected);
      else assert.match(e.message, expected);
      assert.doesNotMatch(e.message, /\n/, "one line");
      return true;
    },
  );
}

// ─── value forms ────────────────────────────────────────────────────────────────────────────────────────────

describe("value forms, by kind of setting", () => {
  test("bind: a string, an array, a comma-separated string; each element a string", () => {
    assert.deepEqual(from({ bind: "0.0.0.0:80" }).bind, [{ kind: "tcp", host: "0.0.0.0", port: 80 }]);
    assert.deepEqual(from({ bind: ["[::1]:9", "unix:/run/a.sock", "fd://3"] }).bind, [
      { kind: "tcp", host: "::1", port: 9 },
      { kind: "unix", path: "/run/a.sock" },
      { kind: "fd", fd: 3 },
    ]);
    assert.deepEqual(from({ bind: "127.0.0.1:1, 127.0.0.1:2" }).bind.length, 2);
    refused({ bind: [] }, "oryx.config.ts: bind names no address");
    refused({ bind: ["127.0.0.1:1", 80] }, "oryx.config.ts: bind[1] must be a string, got the number 80");
    refused({ bind: 8080 }, "oryx.config.ts: bind must be a string or an array of strings, got the number 8080");
    refused({ bind: "8080" }, /^oryx\.config\.ts: bind: "8080" is not an address/);
  });

  test('workers: a number or "auto"', () => {
    assert.equal(from({ workers: 4 }).workers, 4);
    assert.equal(from({ workers: "auto" }).workers, availableParallelism());
    refused({ workers: {} }, 'oryx.config.ts: workers must be a number or "auto", got an object');
    refused({ workers: "4" }, 'oryx.config.ts: workers must be a number or "auto", got the string "4"');
    refused({ workers: [2] }, 'oryx.config.ts: workers must be a number or "auto", got an array');
    refused({ workers: 0 }, "oryx.config.ts: workers: 0 is out of range (1 to 1024)");
  });

  test("durations: a number is seconds; a string may take a unit", () => {
    assert.equal(from({ timeout: 5 }).timeout, 5000);
    assert.equal(from({ keepAliveTimeout: 0.5 }).keepAliveTimeout, 500);
    assert.equal(from({ headerTimeout: "500ms" }).headerTimeout, 500);
    assert.equal(from({ gracefulTimeout: "2m" }).gracefulTimeout, 120_000);
    assert.equal(from({ requestTimeout: "7" }).requestTimeout, 7000);
    assert.equal(from({ keepAliveTimeout: 0 }).keepAliveTimeout, 0);
    refused({ timeout: "abc" }, 'oryx.config.ts: timeout: "abc" is not a duration (try 5, 5s, 500ms or 2m)');
    refused({ timeout: -1 }, /^oryx\.config\.ts: timeout: "-1" is not a duration/);
    refused({ timeout: true }, 'oryx.config.ts: timeout must be a number of seconds or a string such as "500ms", got true');
    refused({ timeout: 0.1 }, /^oryx\.config\.ts: timeout: 0\.1 is out of range/);
  });

  test("sizes: a number is bytes; a string may take a unit", () => {
    assert.equal(from({ limitRequestBody: 1000 }).limitRequestBody, 1000);
    assert.equal(from({ limitRequestBody: "16MiB" }).limitRequestBody, 16 * 1024 ** 2);
    assert.equal(from({ limitRequestLine: "8k" }).limitRequestLine, 8192);
    assert.equal(from({ limitRequestFieldSize: "4 KiB" }).limitRequestFieldSize, 4096);
    refused({ limitRequestBody: "1x" }, /^oryx\.config\.ts: limitRequestBody: "1x" is not a size/);
    refused({ limitRequestBody: { mb: 1 } }, 'oryx.config.ts: limitRequestBody must be a number of bytes or a string such as "16MiB", got an object');
    refused({ limitRequestLine: 10 }, /^oryx\.config\.ts: limitRequestLine: 10 is out of range/);
  });

  test("counts: numbers only", () => {
    const s = from({ maxRequests: 1000, maxRequestsJitter: 50, workerConnections: 1, backlog: 64, limitRequestFields: 20 });
    assert.deepEqual([s.maxRequests, s.maxRequestsJitter, s.workerConnections, s.backlog, s.limitRequestFields], [1000, 50, 1, 64, 20]);
    refused({ backlog: "64" }, 'oryx.config.ts: backlog must be a number, got the string "64"');
    refused({ maxRequests: 1.5 }, 'oryx.config.ts: maxRequests: "1.5" is not a whole number');
    refused({ backlog: 70000 }, "oryx.config.ts: backlog: 70000 is out of range (1 to 65535)");
    refused({ backlog: null }, "oryx.config.ts: backlog must be a number, got null");
  });

  test("booleans: true or false", () => {
    assert.equal(from({ proxyProtocol: true }).proxyProtocol, true);
    assert.equal(from({ proxyProtocol: false }).proxyProtocol, false);
    refused({ proxyProtocol: "yes" }, 'oryx.config.ts: proxyProtocol must be true or false, got the string "yes"');
    refused({ proxyProtocol: 1 }, "oryx.config.ts: proxyProtocol must be true or false, got the number 1");
  });

  test("lists: a string, an array or a comma-separated string; an empty array is an empty list", () => {
    assert.deepEqual(from({ forwardedAllowIps: "10.0.0.0/8" }).forwardedAllowIps, ["10.0.0.0/8"]);
    assert.deepEqual(from({ forwardedAllowIps: ["10.0.0.0/8", "unix"] }).forwardedAllowIps, ["10.0.0.0/8", "unix"]);
    assert.deepEqual(from({ forwardedAllowIps: "*, fd00::/8" }).forwardedAllowIps, ["*", "fd00::/8"]);
    assert.deepEqual(from({ forwardedAllowIps: [] }).forwardedAllowIps, []);
    refused({ forwardedAllowIps: ["10.0.0.1", "bogus"] }, /^oryx\.config\.ts: forwardedAllowIps: "bogus" is not an IP address/);
    refused({ forwardedAllowIps: { a: 1 } }, "oryx.config.ts: forwardedAllowIps must be a string or an array of strings, got an object");
  });

  test("choices: the setting's own values", () => {
    assert.equal(from({ interface: "node" }).interface, "node");
    assert.equal(from({ logLevel: "debug" }).logLevel, "debug");
    refused({ logLevel: "loud" }, /^oryx\.config\.ts: logLevel: "loud" is not one of debug, info/);
    refused({ interface: 1 }, "oryx.config.ts: interface must be a string, got the number 1");
  });

  test("strings, checked by the setting's parser", () => {
    const file = write("cert.pem", "not really a certificate");
    const abs = path.join(dir, file);
    const s = from({ serverHeader: "oryx-test", pidFile: "/run/oryx.pid", accessLog: "-", accessLogFormat: "json", errorLog: "-", certfile: abs, keyfile: abs });
    assert.deepEqual([s.serverHeader, s.pidFile, s.accessLog, s.accessLogFormat, s.certfile, s.keyfile], ["oryx-test", "/run/oryx.pid", "-", "json", abs, abs]);
    refused({ serverHeader: 5 }, "oryx.config.ts: serverHeader must be a string, got the number 5");
    refused({ serverHeader: "caf\u00e9" }, "oryx.config.ts: serverHeader: a Server header must be printable ASCII");
    refused({ certfile: path.join(dir, "missing.pem") }, /^oryx\.config\.ts: certfile: cannot read .*missing\.pem: no such file$/);
  });

  test("unixSocketMode: a number is the mode itself (write it in octal); a string holds octal digits", () => {
    assert.equal(from({ unixSocketMode: 0o600 }).unixSocketMode, 0o600);
    assert.equal(from({ unixSocketMode: 0o007 }).unixSocketMode, 0o007);
    assert.equal(from({ unixSocketMode: "640" }).unixSocketMode, 0o640);
    assert.equal(from({ unixSocketMode: "0o666" }).unixSocketMode, 0o666);
    refused({ unixSocketMode: 660 }, 'oryx.config.ts: unixSocketMode: 660 is not a file mode; write the number in octal (0o660) or as a string ("660")');
    refused({ unixSocketMode: 1.5 }, /^oryx\.config\.ts: unixSocketMode: 1\.5 is not a file mode/);
    refused({ unixSocketMode: "999" }, /^oryx\.config\.ts: unixSocketMode: "999" is not an octal file mode/);
    refused({ unixSocketMode: false }, /^oryx\.config\.ts: unixSocketMode must be an octal number/);
  });

  test("a key set to undefined is left unset; app must be a non-empty string", () => {
    assert.deepEqual(convertConfig({ workers: undefined, timeout: 3 }, "f.ts").values, { timeout: ["3"] });
    assert.equal(convertConfig({ app: "x.ts:app" }, "f.ts").app, "x.ts:app");
    refused({ app: 3 }, "oryx.config.ts: app must be a string MODULE[:EXPORT], got the number 3");
    refused({ app: "" }, /^oryx\.config\.ts: app must be a string/);
  });

  test("values become the raw strings a flag would carry", () => {
    const { values } = convertConfig(
      { bind: ["a:1", "b:2"], workers: "auto", timeout: 0.5, limitRequestBody: 2048, proxyProtocol: true, unixSocketMode: 0o640, forwardedAllowIps: "10.0.0.0/8,unix" },
      "f.json",
    );
    assert.deepEqual(values, {
      bind: ["a:1", "b:2"],
      workers: ["auto"],
      timeout: ["0.5"],
      limitRequestBody: ["2048"],
      proxyProtocol: ["true"],
      unixSocketMode: ["640"],
      forwardedAllowIps: ["10.0.0.0/8", "unix"],
    });
  });

  test("examples/oryx.config.ts loads, with defineConfig from src/index.ts", async () => {
    const index = await import("../../src/index.ts");
    assert.equal(index.defineConfig, defineConfig);
    const r = await loadConfigFile("examples/oryx.config.ts", ROOT);
    assert.equal(r.app, "examples/hello.ts");
    assert.deepEqual(r.values.serverHeader, ["oryx"]);
    assert.deepEqual(r.values.unixSocketMode, ["660"]);
  });

  test("defineConfig is the identity", () => {
    const c: OryxConfig = { workers: 2, bind: "127.0.0.1:0" };
    assert.equal(defineConfig(c), c);
  });
});

// ─── unknown keys ───────────────────────────────────────────────────────────────────────────────────────────

describe("unknown keys", () => {
  test("the kebab-case flag name suggests its setting", () => {
    refused({ "max-requests": 3 }, 'oryx.config.ts: "max-requests" is not a setting; did you mean maxRequests?');
    refused({ pid: "/run/x.pid" }, 'oryx.config.ts: "pid" is not a setting; did you mean pidFile?');
  });

  test("suggestions by spelling, variable name, short flag, edit distance and prefix", () => {
    assert.equal(suggestKey("max_requests"), "maxRequests");
    assert.equal(suggestKey("ORYX_KEEP_ALIVE_TIMEOUT"), "keepAliveTimeout");
    assert.equal(suggestKey("KEEP_ALIVE_TIMEOUT"), "keepAliveTimeout");
    assert.equal(suggestKey("w"), "workers");
    assert.equal(suggestKey("timout"), "timeout");
    assert.equal(suggestKey("worker"), "workers");
    assert.equal(suggestKey("serverHeaders"), "serverHeader");
    assert.equal(suggestKey("limitRequestFeilds"), "limitRequestFields");
    assert.equal(suggestKey("keepAlive"), "keepAliveTimeout");
    assert.equal(suggestKey("application"), undefined);
    assert.equal(suggestKey("zzzz"), undefined);
    refused({ timout: 5 }, 'oryx.config.ts: "timout" is not a setting; did you mean timeout?');
  });

  test("no suggestion: the sentence says how settings are named", () => {
    refused({ frobnicate: 1 }, 'oryx.config.ts: "frobnicate" is not a setting (settings are named as the flags in camelCase, e.g. maxRequests for --max-requests)');
  });

  test("options outside the settings are not config keys", () => {
    refused({ config: "x.json" }, /^oryx\.config\.ts: "config" is not a setting/);
  });
});

// ─── files ──────────────────────────────────────────────────────────────────────────────────────────────────

describe("config files", () => {
  test("JSON", async () => {
    const f = write("a.json", JSON.stringify({ workers: 3, timeout: "45s", bind: ["127.0.0.1:1"], app: "app.ts" }));
    assert.deepEqual(await loadConfigFile(f, dir), { values: { workers: ["3"], timeout: ["45s"], bind: ["127.0.0.1:1"] }, app: "app.ts" });
  });

  test(".ts with defineConfig (TypeScript syntax, an import)", async () => {
    const f = write(
      "oryx.config.ts",
      `import { defineConfig, type OryxConfig } from ${JSON.stringify(FILE_TS)};\nconst mode: number = 0o640;\nexport default defineConfig({ workers: 2, unixSocketMode: mode, serverHeader: "ts" } satisfies OryxConfig);\n`,
    );
    assert.deepEqual(await loadConfigFile(f, dir), { values: { workers: ["2"], unixSocketMode: ["640"], serverHeader: ["ts"] } });
  });

  test(".mts, .cts, .mjs, .cjs (module.exports and exports.x)", async () => {
    const cases: Array<[string, string, string]> = [
      ["c.mts", "const n: number = 5;\nexport default { workers: n };\n", "5"],
      ["c.cts", "const n: number = 6;\nmodule.exports = { workers: n };\n", "6"],
      ["e.mjs", "export default { workers: 7 };\n", "7"],
      ["f.cjs", "module.exports = { workers: 8 };\n", "8"],
      ["d.cjs", "exports.workers = 9;\n", "9"],
    ];
    for (const [name, text, workers] of cases) {
      assert.deepEqual(await loadConfigFile(write(name, text), dir), { values: { workers: [workers] } }, name);
    }
  });

  test("a function export is called with no arguments, and may return a promise", async () => {
    const a = write("fn.mjs", "export default (...args) => ({ workers: args.length + 2 });\n");
    assert.deepEqual((await loadConfigFile(a, dir)).values, { workers: ["2"] });
    const b = write("fn-async.ts", "export default async function () { await new Promise((r) => setTimeout(r, 5)); return { backlog: 11 }; }\n");
    assert.deepEqual((await loadConfigFile(b, dir)).values, { backlog: ["11"] });
    const c = write("fn.cjs", "module.exports = () => Promise.resolve({ logLevel: 'debug' });\n");
    assert.deepEqual((await loadConfigFile(c, dir)).values, { logLevel: ["debug"] });
  });

  test("a path relative to cwd, or absolute", async () => {
    write("rel.json", '{"backlog": 12}');
    assert.deepEqual((await loadConfigFile("rel.json", dir)).values, { backlog: ["12"] });
    assert.deepEqual((await loadConfigFile(path.join(dir, "rel.json"), "/")).values, { backlog: ["12"] });
  });

  const failing: Array<{ name: string; file: string; text?: string; message: RegExp }> = [
    { name: "a missing file", file: "nope.ts", message: /^cannot read the config file nope\.ts: no such file \(looked for .*nope\.ts\)$/ },
    { name: "an unknown extension", file: "c.yaml", text: "workers: 2\n", message: /^the config file c\.yaml has extension "\.yaml"; oryx reads \.ts .* \.json$/ },
    { name: "invalid JSON", file: "bad.json", text: "{ workers: 2 }", message: /^bad\.json is not valid JSON: / },
    { name: "a module that throws", file: "throws.ts", text: 'throw new Error("no database URL");\n', message: /^the config file throws\.ts threw while loading: no database URL$/ },
    { name: "a syntax error", file: "syntax.ts", text: "export default { workers: ;\n", message: /^the config file syntax\.ts threw while loading: .*Unexpected/ },
    { name: "a function export that throws", file: "fn-throws.mjs", text: 'export default () => { throw new Error("nope from fn"); };\n', message: /^the config file fn-throws\.mjs threw while loading: nope from fn$/ },
    { name: "a rejected promise", file: "rejects.mjs", text: 'export default Promise.reject(new Error("later"));\n', message: /^the config file rejects\.mjs threw while loading: later$/ },
    { name: "an array", file: "arr.json", text: "[1, 2]", message: /^arr\.json must export an object of settings, got an array$/ },
    { name: "a string default export", file: "str.mjs", text: 'export default "workers=2";\n', message: /^str\.mjs must export an object of settings, got the string "workers=2"$/ },
    { name: "a function returning null", file: "null.mjs", text: "export default () => null;\n", message: /^null\.mjs must export an object of settings, got null$/ },
    { name: "no default export", file: "named.mjs", text: "export const workers = 2;\n", message: /^named\.mjs has no default export/ },
    { name: "an unknown key in a file", file: "typo.json", text: '{"max-requests": 3}', message: /^typo\.json: "max-requests" is not a setting; did you mean maxRequests\?$/ },
    { name: "a parser rejection in a file", file: "abc.ts", text: 'export default { timeout: "abc" };\n', message: /^abc\.ts: timeout: "abc" is not a duration/ },
  ];
  for (const c of failing) {
    test(`refused: ${c.name}`, async () => {
      if (c.text !== undefined) write(c.file, c.text);
      await assert.rejects(loadConfigFile(c.file, dir), (e: unknown) => {
        assert.ok(e instanceof ConfigFileError, String(e));
        assert.match(e.message, c.message);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    });
  }
});

// ─── precedence ─────────────────────────────────────────────────────────────────────────────────────────────

describe("precedence: command line > environment > config file > defaults", () => {
  const cfg = write("prec.json", JSON.stringify({ serverHeader: "file", backlog: 10, bind: ["127.0.0.1:1", "127.0.0.1:2"], timeout: 9 }));

  test("one key from the file, the environment and a flag", async () => {
    const file = await resolveCommandLine(["-c", cfg, "app.ts"], {}, dir);
    assert.equal(file.settings.serverHeader, "file");
    assert.equal(file.sources.serverHeader, "config file");
    assert.equal(file.settings.keepAliveTimeout, 5000);
    assert.equal(file.sources.keepAliveTimeout, "default");
    const env = await resolveCommandLine(["-c", cfg, "app.ts"], { ORYX_SERVER_HEADER: "env" }, dir);
    assert.equal(env.settings.serverHeader, "env");
    assert.equal(env.sources.serverHeader, "env ORYX_SERVER_HEADER");
    assert.equal(env.settings.backlog, 10, "the file still sets what the environment does not");
    const flag = await resolveCommandLine(["-c", cfg, "--server-header", "flag", "app.ts"], { ORYX_SERVER_HEADER: "env" }, dir);
    assert.equal(flag.settings.serverHeader, "flag");
    assert.equal(flag.sources.serverHeader, "--server-header");
    assert.equal(flag.settings.timeout, 9000);
  });

  test("a repeatable setting (bind): each source replaces the list, never adds to it", async () => {
    const file = await resolveCommandLine(["-c", cfg], {}, dir);
    assert.deepEqual(file.settings.bind.map((b) => (b.kind === "tcp" ? b.port : -1)), [1, 2]);
    const env = await resolveCommandLine(["-c", cfg], { ORYX_BIND: "127.0.0.1:3" }, dir);
    assert.deepEqual(env.settings.bind, [{ kind: "tcp", host: "127.0.0.1", port: 3 }]);
    const flag = await resolveCommandLine(["-c", cfg, "-b", "127.0.0.1:4", "-b", "127.0.0.1:5"], { ORYX_BIND: "127.0.0.1:3" }, dir);
    assert.deepEqual(flag.settings.bind.map((b) => (b.kind === "tcp" ? b.port : -1)), [4, 5]);
    assert.equal(flag.sources.bind, "--bind");
  });

  test("ORYX_CONFIG names the file; -c wins over it", async () => {
    const other = write("other.json", '{"serverHeader": "other"}');
    assert.equal((await resolveCommandLine([], { ORYX_CONFIG: cfg }, dir)).settings.serverHeader, "file");
    const r = await resolveCommandLine(["--config", other], { ORYX_CONFIG: cfg }, dir);
    assert.equal(r.settings.serverHeader, "other");
    assert.equal(r.config, other);
    assert.equal(r.configSource, "--config");
  });

  test("checks between settings run after every source is in", async () => {
    const pem = path.join(dir, write("k.pem", "x"));
    const half = write("half.json", JSON.stringify({ certfile: pem }));
    await assert.rejects(resolveCommandLine(["-c", half], {}, dir), /--certfile needs --keyfile/);
    const r = await resolveCommandLine(["-c", half], { ORYX_KEYFILE: pem }, dir);
    assert.equal(r.settings.certfile, pem);
    assert.equal(r.settings.keyfile, pem);
    // parseCommandLine's own check still runs (no file): a flag alone is refused.
    assert.throws(() => parseCommandLine(["--keyfile", pem], {}), /--keyfile needs --certfile/);
  });

  test("app: the argument, else the file's", async () => {
    const withApp = write("app.json", '{"app": "examples/hello.ts"}');
    const a = await resolveCommandLine(["-c", withApp], {}, dir);
    assert.equal(a.app, "examples/hello.ts");
    assert.equal(a.appSource, "config file");
    const b = await resolveCommandLine(["-c", withApp, "other.ts:app"], {}, dir);
    assert.equal(b.app, "other.ts:app");
    assert.equal(b.appSource, "argument");
    assert.equal((await resolveCommandLine(["-c", cfg], {}, dir)).app, undefined);
  });

  test("parseCommandLine stays synchronous and does not read the file", () => {
    const r = parseCommandLine(["-c", "does-not-exist.ts", "--check-config", "--backlog", "5", "a.ts"], {});
    assert.equal(r.config, "does-not-exist.ts");
    assert.equal(r.checkConfig, true);
    assert.equal(r.settings.backlog, 5);
    assert.equal(r.sources.backlog, "--backlog");
    assert.equal(r.app, "a.ts");
  });

  test("--help and --version do not read the config file; other commands do", async () => {
    assert.equal((await resolveCommandLine(["-c", "missing.ts", "--help"], {}, dir)).help, true);
    assert.equal((await resolveCommandLine(["-V"], { ORYX_CONFIG: "missing.ts" }, dir)).version, true);
    await assert.rejects(resolveCommandLine(["-c", "missing.ts", "a.ts"], {}, dir), ConfigFileError);
    await assert.rejects(resolveCommandLine(["-c"], {}, dir), /option -c needs a value/);
  });

  test("--help lists -c/--config and --check-config", () => {
    const help = helpText("9.9.9");
    assert.match(help, /-c, --config FILE +Read settings from FILE/);
    assert.match(help, /--check-config +Check the settings/);
    assert.match(help, /ORYX_CONFIG/);
  });
});

// ─── --check-config ─────────────────────────────────────────────────────────────────────────────────────────

describe("the --check-config report", () => {
  test("one key = value (source) line per setting, written as in a config file", async () => {
    const f = write("report.json", JSON.stringify({ app: "examples/hello.ts", timeout: "2m", limitRequestBody: "1MiB", unixSocketMode: "600", bind: ["[::1]:0", "unix:/tmp/o.sock"] }));
    const cmd = await resolveCommandLine(["-c", path.join(dir, f), "-w", "3", "--proxy-protocol"], { ORYX_BACKLOG: "77" }, ROOT);
    const lines = checkConfigReport(cmd, ROOT).trimEnd().split("\n");
    assert.equal(lines[0], `config = ${JSON.stringify(path.join(dir, f))} (--config)`);
    assert.equal(lines[1], 'app = "examples/hello.ts" (config file)');
    assert.equal(lines.length, 2 + SETTINGS.length);
    for (const want of [
      'bind = ["[::1]:0", "unix:/tmp/o.sock"] (config file)',
      "workers = 3 (--workers)",
      'timeout = "2m" (config file)',
      'keepAliveTimeout = "5s" (default)',
      "backlog = 77 (env ORYX_BACKLOG)",
      'limitRequestBody = "1 MiB" (config file)',
      'limitRequestLine = "8 KiB" (default)',
      "unixSocketMode = 0o600 (config file)",
      "proxyProtocol = true (--proxy-protocol)",
      'forwardedAllowIps = ["127.0.0.1", "::1", "unix"] (default)',
      'serverHeader = "" (default)',
      'logLevel = "info" (default)',
    ]) {
      assert.ok(lines.includes(want), `missing ${want} in\n${lines.join("\n")}`);
    }
  });

  test("every shown value loads back as the same setting", () => {
    const s = from({ bind: ["[::1]:80", "unix:/a", "fd://4"], headerTimeout: "250ms", limitRequestBody: 1000, unixSocketMode: 0o604 });
    const back: Record<string, unknown> = {};
    for (const spec of SETTINGS) back[spec.key] = Function(`return (${formatSettingValue(spec.key, s[spec.key])})`)();
    assert.deepEqual(from(back), s);
  });

  test("the app's file must exist (it is not loaded)", async () => {
    const missing = parseCommandLine(["--check-config", "no/such/app.ts"], {});
    assert.throws(() => checkConfigReport(missing, ROOT), /^UsageError: the app: cannot find the module no\/such\/app\.ts/);
    const f = write("missing-app.json", '{"app": "nowhere.ts:app"}');
    const fromFile = await resolveCommandLine(["--check-config", "-c", f], {}, dir);
    assert.throws(() => checkConfigReport(fromFile, dir), (e: unknown) => e instanceof ConfigFileError && e.message.startsWith(`${f}: app: cannot find the module nowhere.ts`));
    const wrongExt = write("app.txt", "hi");
    assert.throws(() => checkConfigReport(parseCommandLine([wrongExt], {}), dir), /has extension "\.txt"/);
    // A module that would throw if loaded passes: only its existence is checked.
    const throwing = write("boom.ts", 'throw new Error("loaded!");\n');
    assert.match(checkConfigReport(parseCommandLine([throwing], {}), dir), /^app = "boom\.ts" \(argument\)$/m);
  });
});
