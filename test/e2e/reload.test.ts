/**
 * --reload through the real CLI with two workers: an edit is served by new workers, a broken edit leaves the old
 * code serving (and its error printed once), node_modules, dot-folders and files the globs leave out reload nothing.
 * Every process is started here and killed by pid in `after`.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { CLI, ensureBuilt, ROOT } from "../support/cli.ts";
import { cleanup, hit, launch, LOCAL, stop } from "../support/pool.ts";
import { signal } from "../support/proc.ts";
import { sleep, until, within } from "../support/wait.ts";

const FIXTURE = path.join(ROOT, "test", "fixtures", "reload-version.ts");
const dirs: string[] = [];

before(ensureBuilt);
after(async () => {
  await cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempApp(): { dir: string; file: string; write(version: string): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "oryx-reload-"));
  dirs.push(dir);
  const file = path.join(dir, "app.ts");
  copyFileSync(FIXTURE, file);
  writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  const original = readFileSync(FIXTURE, "utf8");
  return { dir, file, write: (v) => writeFileSync(file, original.replace('const VERSION = "v1";', `const VERSION = "${v}";`)) };
}

/** Polls the app until it answers `version` from every one of `n` answers in a row (both workers new); returns when. */
async function servedBy(port: number, version: string, ms: number): Promise<number> {
  const start = performance.now();
  const end = Date.now() + ms;
  let streak = 0;
  let last = "";
  while (streak < 10) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${version}; last answer: ${last}`);
    const h = await hit(port, "/");
    last = h.ok ? h.body : h.error;
    streak = h.ok && h.body.startsWith(`${version} `) ? streak + 1 : 0;
    if (streak === 0) await sleep(20);
  }
  return performance.now() - start;
}

describe("--reload", { concurrency: false }, () => {
  test("an edit is served by new workers; a broken edit leaves the old code serving and its error printed once; then a fix is served", async () => {
    const app = tempApp();
    const o = await launch([app.file, "-w", "2", ...LOCAL, "--reload"], { cwd: app.dir });
    await o.waitLog(/--reload: watching .* for changes/, 5000, "the watcher's line");
    assert.match((await hit(o.port, "/")).body, /^v1 /);

    // Files that must not reload: node_modules, a dot-folder, a file no glob includes.
    mkdirSync(path.join(app.dir, "node_modules", "dep"), { recursive: true });
    writeFileSync(path.join(app.dir, "node_modules", "dep", "index.js"), "export {};\n");
    mkdirSync(path.join(app.dir, ".cache"));
    writeFileSync(path.join(app.dir, ".cache", "x.ts"), "export {};\n");
    writeFileSync(path.join(app.dir, "notes.md"), "# notes\n");
    app.write("v2");
    const tookMs = await servedBy(o.port, "v2", 20_000);
    const reloads = [...o.stderr().matchAll(/--reload: (.*) changed: reloading/g)].map((m) => m[1]);
    assert.deepEqual(reloads, ["app.ts"], `only app.ts reloaded: ${o.stderr()}`);
    process.stderr.write(`# --reload: v2 served by both workers ${tookMs.toFixed(0)} ms after the edit\n`);

    const from = o.stderr().length;
    writeFileSync(app.file, 'throw new Error("reload-fixture-broken");\nexport default { fetch: () => new Response("never") };\n');
    await o.waitLog(/reload failed: .* the old workers keep serving/, 20_000, "the failed reload", from);
    for (let i = 0; i < 10; i++) assert.match((await hit(o.port, "/")).body, /^v2 /);
    const errors = o.stderr().slice(from).match(/cannot load the app/g) ?? [];
    assert.equal(errors.length, 1, `the error once: ${o.stderr().slice(from)}`);

    app.write("v3");
    await servedBy(o.port, "v3", 20_000);
    assert.equal((await stop(o)).code, 0);
  });

  test("--reload-include and --reload-exclude decide which files reload; --reload-dir replaces the app's directory", async () => {
    const app = tempApp();
    mkdirSync(path.join(app.dir, "src"));
    mkdirSync(path.join(app.dir, "other"));
    const o = await launch([app.file, ...LOCAL, "--reload", "--reload-dir", "src", "--reload-include", "*.txt", "--reload-exclude", "skip-*"], { cwd: app.dir });
    await o.waitLog(/--reload: watching .*src for changes/, 5000, "the watcher's line");
    writeFileSync(path.join(app.dir, "other", "a.txt"), "outside\n"); // not a watched directory
    writeFileSync(path.join(app.dir, "src", "skip-me.txt"), "excluded\n");
    writeFileSync(path.join(app.dir, "src", "x.ts"), "export {};\n"); // not included
    writeFileSync(path.join(app.dir, "src", "take.txt"), "included\n");
    await o.waitLog(/--reload: (.*) changed: reloading/, 10_000, "a reload");
    const reloads = [...o.stderr().matchAll(/--reload: (.*) changed: reloading/g)].map((m) => m[1]);
    assert.deepEqual(reloads, [path.join("src", "take.txt")]);
    assert.equal((await stop(o)).code, 0);
  });

  test("a changed config file is read again: the new workers have its settings", async () => {
    const app = tempApp();
    const config = path.join(app.dir, "oryx.config.json");
    writeFileSync(config, '{ "serverHeader": "first" }\n');
    const o = await launch([app.file, "-w", "2", ...LOCAL, "--reload", "-c", config], { cwd: app.dir });
    await o.waitLog(/--reload: watching/, 5000, "the watcher's line");
    assert.equal((await fetch(`http://127.0.0.1:${o.port}/`)).headers.get("server"), "first");
    // -w 2 on the command line wins over the file's workers; backlog takes a restart, and is kept.
    writeFileSync(config, '{ "serverHeader": "second", "workers": 3, "backlog": 100 }\n');
    await o.waitLog(/--reload: backlog changed in the config file; that takes a restart/, 10_000, "the warning about backlog");
    let server: string | null = "";
    for (let streak = 0; streak < 10; ) {
      const res = await fetch(`http://127.0.0.1:${o.port}/`);
      await res.text();
      server = res.headers.get("server");
      streak = server === "second" ? streak + 1 : 0;
      if (streak === 0) await sleep(20);
    }
    assert.doesNotMatch(o.stderr(), /workers changed in the config file/);
    // A config file that does not parse: one error, the workers keep the settings they have.
    const from = o.stderr().length;
    writeFileSync(config, '{ "serverHeader": \n');
    await o.waitLog(/--reload: .*oryx\.config\.json.*; the workers keep serving with the settings they have/, 10_000, "the config error", from);
    assert.equal((await fetch(`http://127.0.0.1:${o.port}/`)).headers.get("server"), "second");
    assert.equal((await stop(o)).code, 0);
  });

  test("an app that does not load at start waits for a fix instead of exiting", async () => {
    const app = tempApp();
    writeFileSync(app.file, 'throw new Error("broken-at-start");\n');
    const proc = spawn(process.execPath, [CLI, app.file, ...LOCAL, "--reload"], { cwd: app.dir, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr!.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      await until(() => /waiting for a change to try again/.test(err) || proc.exitCode !== null, 20_000, "the wait for a fix", () => err);
      assert.equal(proc.exitCode, null, `it exited: ${err}`);
      app.write("v9");
      await until(() => / serving .* on http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/.test(err), 20_000, "the startup line", () => err);
      const port = Number(/ on http:\/\/127\.0\.0\.1:(\d+) \(pid/.exec(err)![1]);
      assert.match((await hit(port, "/")).body, /^v9 /);
      assert.equal((err.match(/broken-at-start/g) ?? []).length >= 1, true);
      signal(proc.pid!, "SIGTERM");
      assert.equal(await within(exited, 15_000, "the exit"), 0);
    } finally {
      if (proc.exitCode === null) signal(proc.pid!, "SIGKILL");
    }
  });
});
