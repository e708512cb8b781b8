// oryx's own errors: each has a name, a stable code from ERROR_CODES and a sentence; callers tell them apart by code.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { parseCommandLine } from "../src/config/args.ts";
import { parseBind } from "../src/config/settings.ts";
import { compileAccessFormat } from "../src/server/access-format.ts";
import { ERROR_CODES, OryxError, serve, loadApp, parseAppSpec, AccessFormatError, AppLoadError, ConfigFileError, ListenError, UsageError } from "../src/index.ts";
import { parseBenchArgs, BenchUsageError } from "../src/bench/args.ts";

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("expected a throw");
}

function assertOryx(err: unknown, cls: new (...a: never[]) => Error, code: keyof typeof ERROR_CODES): void {
  assert.ok(err instanceof cls, `${String(err)} is not a ${cls.name}`);
  assert.ok(err instanceof OryxError, `${String(err)} is not an OryxError`);
  assert.equal(err.code, code);
  assert.equal(err.name, cls.name);
  assert.ok(err.message.length > 0);
  assert.ok(code in ERROR_CODES);
}

describe("oryx's errors carry a class, a name and a code", () => {
  it("a bad flag or value is a UsageError, ORYX_ERR_USAGE", () => {
    assertOryx(caught(() => parseCommandLine(["--nope", "a.ts"], {})), UsageError, "ORYX_ERR_USAGE");
    assertOryx(caught(() => parseBind("no:such:thing")), UsageError, "ORYX_ERR_USAGE");
  });

  it("a ConfigFileError is a UsageError with its own code", () => {
    const err = new ConfigFileError("oryx.config.json: workers: nope");
    assertOryx(err, ConfigFileError, "ORYX_ERR_CONFIG_FILE");
    assert.ok(err instanceof UsageError);
  });

  it("a bad access-log format is an AccessFormatError, ORYX_ERR_ACCESS_FORMAT", () => {
    assertOryx(caught(() => compileAccessFormat("%{User-Agent")), AccessFormatError, "ORYX_ERR_ACCESS_FORMAT");
  });

  it("a missing app module is an AppLoadError, ORYX_ERR_APP_LOAD", async () => {
    const err = await loadApp(parseAppSpec("./no-such-app.ts")).then(() => null, (e: unknown) => e);
    assertOryx(err, AppLoadError, "ORYX_ERR_APP_LOAD");
  });

  it("an address in use is a ListenError, ORYX_ERR_LISTEN, with the system's code and cause", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as net.AddressInfo).port;
    const server = serve({ fetch: () => new Response("x"), port, hostname: "127.0.0.1", onListen: false });
    const err = await server.ready().then(() => null, (e: unknown) => e);
    await server.close().catch(() => {});
    blocker.close();
    assertOryx(err, ListenError, "ORYX_ERR_LISTEN");
    assert.equal((err as ListenError).systemCode, "EADDRINUSE");
    assert.equal(((err as ListenError).cause as NodeJS.ErrnoException).code, "EADDRINUSE");
  });

  it("a bad bench flag is a BenchUsageError, ORYX_ERR_BENCH_USAGE", () => {
    assertOryx(caught(() => parseBenchArgs(["--connections", "none", "http://127.0.0.1:1/"])), BenchUsageError, "ORYX_ERR_BENCH_USAGE");
  });
});
