/**
 * The config file through whole `oryx` processes (src/cli.ts run through tsx, so the source under test is what
 * runs): --check-config's report and exit codes, usage errors from the file, and real servers configured by
 * `-c oryx.config.ts`, with a flag overriding the file. Every process started here is killed by PID.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { SETTINGS } from "../../src/config/settings.ts";
import { ROOT } from "../support/cli.ts";
import { getOnce as get, tryConnect } from "../support/client.ts";
import { freePort } from "../support/wait.ts";

const SRC_CLI = path.join(ROOT, "src", "cli.ts");
const INDEX = pathToFileURL(path.join(ROOT, "src", "index.ts")).href;
const HELLO = path.join(ROOT, "examples", "hello.ts");
/** tsx's loader by absolute URL: the processes run in a temp dir, where a bare "tsx" would not resolve. */
const TSX = import.meta.resolve("tsx");

const dir = mkdtempSync(path.join(tmpdir(), "oryx-config-e2e-"));
const running = new Set<ChildProcess>();

after(() => {
  for (const p of running) kill(p);
  running.clear();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

/** The environment without any ORYX_* variable of the test runner's, plus `extra`. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ORYX_")) env[k] = v;
  return { ...env, ...extra };
}

function spawnOryx(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): ChildProcess {
  const proc = spawn(process.execPath, ["--import", TSX, SRC_CLI, ...args], { cwd: opts.cwd ?? dir, env: cleanEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  proc.on("exit", () => running.delete(proc));
  return proc;
}

function kill(proc: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
    try {
      process.kill(proc.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Runs oryx to completion. */
function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnOryx(args, opts);
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill(proc);
      reject(new Error(`oryx ${args.join(" ")} did not exit in time; stderr: ${err}`));
    }, 20_000);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
  });
}

interface Started {
  proc: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts oryx and waits for its startup line. */
async function launch(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
  const proc = spawnOryx(args, opts);
  let err = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill(proc);
      reject(new Error(`oryx ${args.join(" ")} did not start in time; stderr: ${err}`));
    }, 20_000);
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = / serving .* on (http:\/\/\S+?),? .*\(pid \d+\)$/m.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`oryx ${args.join(" ")} exited with ${code} before starting; stderr: ${err}`));
    });
  });
  return { proc, url, stderr: () => err, exited };
}

/** SIGTERM, then the exit (SIGKILL after 5 s). */
async function stop(s: Started): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  kill(s.proc, "SIGTERM");
  const timer = setTimeout(() => kill(s.proc), 5000);
  const r = await s.exited;
  clearTimeout(timer);
  return r;
}

/** A config module as a user writes it: defineConfig from oryx (here, the source's index). */
function configModule(name: string, config: Record<string, unknown>): string {
  return write(name, `import { defineConfig } from ${JSON.stringify(INDEX)};\n\nexport default defineConfig(${JSON.stringify(config, null, 2)});\n`);
}

describe("oryx --check-config", { concurrency: true }, () => {
  test("prints every effective setting with its source, serves nothing, exits 0", async () => {
    const port = await freePort();
    const cfg = configModule("check.config.ts", { app: HELLO, bind: `127.0.0.1:${port}`, timeout: "2m", limitRequestBody: "1MiB", serverHeader: "from-file", unixSocketMode: 0o600 });
    const r = await run(["--check-config", "-c", cfg, "-w", "3", "--server-header", "from-flag"], { env: { ORYX_BACKLOG: "77" } });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2 + SETTINGS.length, r.stdout);
    assert.deepEqual(lines.slice(0, 2), [`config = "${cfg}" (--config)`, `app = ${JSON.stringify(HELLO)} (config file)`]);
    for (const want of [
      `bind = ["127.0.0.1:${port}"] (config file)`,
      "workers = 3 (--workers)",
      'timeout = "2m" (config file)',
      "backlog = 77 (env ORYX_BACKLOG)",
      'limitRequestBody = "1 MiB" (config file)',
      'serverHeader = "from-flag" (--server-header)',
      "unixSocketMode = 0o600 (config file)",
      'keepAliveTimeout = "5s" (default)',
      'logLevel = "info" (default)',
      "proxyProtocol = false (default)",
    ]) {
      assert.ok(lines.includes(want), `missing ${JSON.stringify(want)} in:\n${r.stdout}`);
    }
    for (const spec of SETTINGS) assert.ok(lines.some((l) => l.startsWith(`${spec.key} = `)), `no line for ${spec.key}`);
    assert.equal(await tryConnect(port), "ECONNREFUSED", "--check-config does not listen");
  });

  test("ORYX_CONFIG names the file, and a JSON file works as well", async () => {
    const cfg = write("env.json", JSON.stringify({ workers: 2, accessLog: "-" }));
    const r = await run(["--check-config", HELLO], { env: { ORYX_CONFIG: cfg } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^config = "env\.json" \(env ORYX_CONFIG\)$/m);
    assert.match(r.stdout, /^workers = 2 \(config file\)$/m);
    assert.match(r.stdout, /^accessLog = "-" \(config file\)$/m);
    assert.match(r.stdout, /^app = ".*hello\.ts" \(argument\)$/m);
  });

  test("an unknown key: exit 2, one sentence with a suggestion", async () => {
    const cfg = write("typo.json", JSON.stringify({ "max-requests": 100 }));
    const r = await run(["--check-config", "-c", cfg]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'oryx: typo.json: "max-requests" is not a setting; did you mean maxRequests?\n');
    assert.equal(r.stdout, "");
  });

  test("a wrong type: exit 2, one sentence", async () => {
    const cfg = write("wrong.ts", "export default { workers: { count: 2 } };\n");
    const r = await run(["--check-config", "-c", cfg]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'oryx: wrong.ts: workers must be a number or "auto", got an object\n');
    assert.equal(r.stdout, "");
  });

  test("an app whose file does not exist: exit 2", async () => {
    const r = await run(["--check-config", "nowhere/app.ts:app"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^oryx: the app: cannot find the module nowhere\/app\.ts \(looked for .*\)\n$/);
  });

  test("a flag's bad value still names the flag", async () => {
    const r = await run(["--check-config", "--timeout", "abc"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^oryx: --timeout: "abc" is not a duration/);
  });
});

describe("serving with -c", { concurrency: true }, () => {
  test("a config file that throws stops oryx before it binds (exit 2, the error's message)", async () => {
    const cfg = write("throws.ts", 'throw new Error("DATABASE_URL is not set");\n');
    const r = await run(["-c", cfg, HELLO]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "oryx: the config file throws.ts threw while loading: DATABASE_URL is not set\n");
  });

  test("the file's bind, app and serverHeader: a real server answers with that Server header", async () => {
    const port = await freePort();
    const cfg = configModule("serve.config.ts", { bind: `127.0.0.1:${port}`, serverHeader: "oryx-from-file", app: "examples/hello.ts" });
    const s = await launch(["-c", path.join(dir, cfg)], { cwd: ROOT });
    try {
      assert.equal(s.url, `http://127.0.0.1:${port}`);
      const res = await get(port);
      assert.equal(res.status, 200);
      assert.equal(res.body, "Hello, World!");
      assert.deepEqual(res.headers.server, ["oryx-from-file"]);
    } finally {
      assert.equal((await stop(s)).code, 0, s.stderr());
    }
  });

  test("a flag overrides the file's serverHeader", async () => {
    const port = await freePort();
    const cfg = configModule("override.config.ts", { bind: `127.0.0.1:${port}`, serverHeader: "oryx-from-file" });
    const s = await launch(["-c", cfg, "--server-header", "oryx-from-flag", HELLO]);
    try {
      assert.equal(s.url, `http://127.0.0.1:${port}`);
      const res = await get(port);
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers.server, ["oryx-from-flag"]);
    } finally {
      assert.equal((await stop(s)).code, 0, s.stderr());
    }
  });
});
