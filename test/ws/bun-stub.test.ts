/**
 * src/ws/bun-stub.ts: `hono/bun` loads on Node once the stub is installed, while every other module still sees no
 * `Bun` (runtime detection stays Node's), and the stub's members fail by name, with a code, when called.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { BunUnavailableError, installBunStub } from "../../src/ws/bun-stub.ts";

test("hono/bun imports, nothing else sees a Bun global, and Bun's file API fails by name when used", async () => {
  const lines: string[] = [];
  const log = { debug: (m: string) => lines.push(m) } as unknown as Parameters<typeof installBunStub>[0];
  installBunStub(log);
  assert.equal(typeof (globalThis as { Bun?: unknown }).Bun, "undefined", "this module (not Hono's adapter) sees no Bun");
  assert.equal(typeof Reflect.get(globalThis, "Bun"), "undefined");
  const { getRuntimeKey } = await import("hono/adapter");
  assert.equal(getRuntimeKey(), "node", "Hono's runtime detection still says node");

  const bun = await import("hono/bun");
  assert.equal(typeof bun.upgradeWebSocket, "function");
  assert.equal(typeof bun.websocket.message, "function");
  assert.ok(lines.some((l) => /hono[\\/]dist[\\/]adapter[\\/]bun[\\/]ssg\.js/.test(l)), `the debug log names the module given the stub: ${lines.join(" | ")}`);
  await assert.rejects(bun.bunFileSystemModule.writeFile("/nonexistent-oryx-ssg/index.html", "x"), (err: unknown) => {
    assert.ok(err instanceof BunUnavailableError, String(err));
    assert.equal(err.code, "ORYX_ERR_BUN_UNAVAILABLE");
    assert.match(err.message, /^Bun\.write is not available under oryx on Node/);
    return true;
  });

  // The CommonJS build too (a .ts app compiled to CommonJS requires hono/bun's dist/cjs files).
  const cjs = createRequire(import.meta.url)("hono/bun") as typeof bun;
  assert.equal(typeof cjs.upgradeWebSocket, "function");
  assert.ok(lines.some((l) => /hono[\\/]dist[\\/]cjs[\\/]adapter[\\/]bun[\\/]ssg\.js/.test(l)), `the CommonJS ssg.js got the stub: ${lines.join(" | ")}`);

  // An app's own Bun (a test's mock) replaces the accessor for everyone.
  (globalThis as { Bun?: unknown }).Bun = { version: "mock" };
  assert.deepEqual((globalThis as { Bun?: unknown }).Bun, { version: "mock" });
  delete (globalThis as { Bun?: unknown }).Bun;
});
