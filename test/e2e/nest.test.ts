/**
 * A NestJS app as `nest new` makes it (test/fixtures/nest: CommonJS, a tsconfig.json with experimentalDecorators
 * and emitDecoratorMetadata, a main.ts whose bootstrap() awaits NestFactory.create() and then listen()), run
 * unchanged by the real `oryx` command with two workers, and compared answer by answer (status, body,
 * content-type, the app's own headers) with the same app started the way its users start it: plain Node with
 * @swc-node/register and the fixture's tsconfig, listening on a port of its own. oryx must find the late
 * listen(), and compile with decorator metadata (tsx emits none: constructor injection would find `undefined`).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt, ROOT } from "../support/cli.ts";
import { cleanup, launch, LOCAL, type Oryx, stop } from "../support/pool.ts";
import { freePort, sleep } from "../support/wait.ts";

const FIXTURE = path.join(ROOT, "test", "fixtures", "nest");
const MAIN = "test/fixtures/nest/src/main.ts";

let plainProc: ChildProcess | null = null;
let plainOut = "";
let plainPort = 0;
let oryx: Oryx | null = null;

before(async () => {
  ensureBuilt();
  // The baseline: `node -r @swc-node/register src/main.ts`, as a Nest project runs its TypeScript without a build.
  plainPort = await freePort();
  plainProc = spawn(process.execPath, ["-r", "@swc-node/register", MAIN], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(plainPort), SWC_NODE_PROJECT: path.join(FIXTURE, "tsconfig.json"), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  plainProc.stdout!.on("data", (d) => (plainOut += d));
  plainProc.stderr!.on("data", (d) => (plainOut += d));
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${plainPort}/`, { signal: AbortSignal.timeout(2000) })).status > 0) break;
    } catch {
      // not listening yet
    }
    if (plainProc.exitCode !== null || Date.now() > end) throw new Error(`the plain Nest app did not start; its output:\n${plainOut}`);
    await sleep(100);
  }
  oryx = await launch([MAIN, "-w", "2", ...LOCAL], { env: { NO_COLOR: "1" }, timeoutMs: 45_000 });
});

after(async () => {
  if (oryx !== null) await stop(oryx);
  if (plainProc !== null && plainProc.exitCode === null && plainProc.signalCode === null) {
    const exited = new Promise((r) => plainProc!.once("exit", r));
    plainProc.kill("SIGKILL");
    await exited;
  }
  await cleanup();
});

interface Answer {
  status: number;
  body: string;
  type: string | null;
  /** Headers the app sets itself (Express's and the route's). */
  app: Record<string, string | null>;
}

async function ask(port: number, method: string, target: string, body?: string): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${target}`, {
    method,
    ...(body !== undefined ? { body, headers: { "content-type": "application/json" } } : {}),
    signal: AbortSignal.timeout(5000),
  });
  return {
    status: res.status,
    body: await res.text(),
    type: res.headers.get("content-type"),
    app: { "x-powered-by": res.headers.get("x-powered-by"), "x-handled-by": res.headers.get("x-handled-by"), etag: res.headers.get("etag") },
  };
}

describe("a NestJS app from `nest new`, unchanged: oryx answers as Nest on plain node:http does", () => {
  test("the startup line: the module's late listen() was found; the app is served as a Node app by 2 workers", () => {
    assert.match(oryx!.line, /serving test\/fixtures\/nest\/src\/main\.ts \(node\) with 2 workers on http:\/\/127\.0\.0\.1:\d+ /, oryx!.line);
  });

  test("constructor injection worked: GET / is the injected AppService's answer", async () => {
    const r = await ask(oryx!.port, "GET", "/");
    assert.equal(r.status, 200, `a 500 here means the controller got no AppService (no decorator metadata): ${r.body}`);
    assert.equal(r.body, "Hello World from AppService!");
  });

  const requests: Array<{ name: string; method: string; target: string; body?: string; status: number }> = [
    { name: "a string from the injected service", method: "GET", target: "/", status: 200 },
    { name: "@Param with ParseIntPipe", method: "GET", target: "/items/1", status: 200 },
    { name: "@Param that ParseIntPipe refuses", method: "GET", target: "/items/abc", status: 400 },
    { name: "NotFoundException from the service", method: "GET", target: "/items/99", status: 404 },
    { name: "POST with @Body (JSON), 201", method: "POST", target: "/items", body: '{"name":"widget","tags":["a","b"]}', status: 201 },
    { name: "@HttpCode, @Header, @Body and @Query", method: "POST", target: "/echo?note=hi", body: '{"nested":{"n":[1,2,3]},"s":"ü"}', status: 200 },
    { name: "a body that is not JSON", method: "POST", target: "/echo", body: '{"broken":', status: 400 },
    { name: "the app's own exception filter (@UseFilters)", method: "GET", target: "/teapot", status: 418 },
    { name: "a route that does not exist: Nest's 404", method: "GET", target: "/nowhere", status: 404 },
    { name: "a method the route does not have", method: "DELETE", target: "/items/1", status: 404 },
  ];
  for (const r of requests) {
    test(`${r.method} ${r.target}: ${r.name}`, async () => {
      const plain = await ask(plainPort, r.method, r.target, r.body);
      const ours = await ask(oryx!.port, r.method, r.target, r.body);
      assert.equal(plain.status, r.status, `the plain app's status (the fixture itself): ${plain.body}`);
      assert.equal(ours.status, plain.status, ours.body);
      assert.equal(ours.body, plain.body);
      assert.equal(ours.type, plain.type);
      assert.deepEqual(ours.app, plain.app);
    });
  }
});
