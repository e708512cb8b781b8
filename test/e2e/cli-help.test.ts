/**
 * `oryx --help` and the no-app message, read as someone who installed the package reads them: both kinds of app,
 * `oryx bench`, and no example path that the published package (`npm pack --dry-run --json`) lacks.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, runCli } from "../support/cli.ts";

/** File names help uses for the user's own files, not for anything in the package. */
const YOUR_FILES = new Set(["app.ts", "server.js", "main.ts", "src/main.ts"]);

/** What `npm pack` would put in the tarball, as package-relative paths. */
function packedFiles(): Set<string> {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  return new Set(pack!.files.map((f) => f.path));
}

/** Every file path in `text`: `examples/hello.ts`, `/abs/oryx/examples/echo.ts`, `app.ts`, … */
function filePaths(text: string): string[] {
  return [...text.matchAll(/(?<![\w@./-])(?:\/|[\w@-])[\w@./-]*\.(?:[cm]?[jt]s|json)(?![\w.])/g)].map((m) => m[0]);
}

/** The paths in `text` that are neither the user's own placeholders nor in the package, seen from `cwd`. */
function missingFromPackage(text: string, cwd: string, packed: Set<string>): string[] {
  return filePaths(text).filter((p) => {
    if (YOUR_FILES.has(p)) return false;
    const rel = path.relative(ROOT, path.resolve(cwd, p)).split(path.sep).join("/");
    return !packed.has(rel);
  });
}

/** The package-relative paths of the examples help offers as shipped with oryx, seen from `cwd`. */
function shippedInHelp(help: string, cwd: string): string[] {
  const at = help.indexOf("Examples that come with oryx");
  assert.ok(at >= 0, "help has a section of examples that come with oryx");
  const section = help.slice(at, help.indexOf("\n\n", at));
  return filePaths(section).map((p) => path.relative(ROOT, path.resolve(cwd, p)).split(path.sep).join("/"));
}

let packed: Set<string>;
let elsewhere: string;

before(() => {
  packed = packedFiles();
  // A working directory outside the package, as a project that installed oryx (or a global install) has.
  elsewhere = mkdtempSync(path.join(tmpdir(), "oryx-help-"));
});

after(() => {
  rmSync(elsewhere, { recursive: true, force: true });
});

describe("oryx --help", { concurrency: true }, () => {
  test("shows both kinds of app, with the frameworks of each", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fetch apps +an object with a fetch\(request, info\) method/);
    assert.match(r.stdout, /Node apps +a \(req, res\) app/);
    for (const name of ["Hono", "h3", "Elysia", "Yoga"]) assert.match(r.stdout, new RegExp(`fetch apps[^]*\\b${name}\\b[^]*Node apps`), `fetch apps name ${name}`);
    const node = r.stdout.slice(r.stdout.indexOf("Node apps"), r.stdout.indexOf("Examples:"));
    for (const name of ["Express", "Koa", "Fastify", "NestJS", "listen()"]) assert.ok(node.includes(name), `Node apps name ${name}: ${node}`);
    assert.match(r.stdout, /--interface fetch\|node/);
  });

  test("mentions oryx bench and points to oryx bench --help, which works", async () => {
    const r = await runCli(["--help"]);
    assert.match(r.stdout, /^ +oryx bench URL \[options\]/m);
    assert.ok(r.stdout.includes("oryx bench --help"));
    const bench = await runCli(["bench", "--help"]);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /^Usage: oryx bench URL/);
  });

  test("shows a one-line app inline", async () => {
    const r = await runCli(["--help"]);
    assert.match(r.stdout, /oryx app\.ts +with app\.ts: export default \{ fetch: \(\) => new Response\("Hello!"\) \}/);
  });

  for (const where of ["the package's directory", "another directory"] as const) {
    test(`run from ${where}: every example path it names is in the package`, async () => {
      const cwd = where === "another directory" ? elsewhere : ROOT;
      const r = await runCli(["--help"], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(missingFromPackage(r.stdout, cwd, packed), [], "help names files the package lacks");
      const shipped = shippedInHelp(r.stdout, cwd);
      assert.ok(shipped.includes("examples/hello.ts"), `hello.ts is among the shipped examples: ${shipped.join(", ")}`);
      for (const p of shipped) assert.ok(packed.has(p), `${p} is offered as shipped but is not in the package`);
    });
  }

  test("the path checker does find a file the package lacks (the test can fail)", () => {
    assert.deepEqual(missingFromPackage("  oryx examples/express.ts  an Express app\n", ROOT, packed), ["examples/express.ts"]);
    assert.deepEqual(missingFromPackage("  oryx app.ts\n  oryx examples/hello.ts\n", ROOT, packed), []);
  });
});

describe("no app", { concurrency: true }, () => {
  for (const where of ["the package's directory", "another directory"] as const) {
    test(`run from ${where}: exit 2 with one sentence naming only what the package has`, async () => {
      const cwd = where === "another directory" ? elsewhere : ROOT;
      const r = await runCli([], { cwd });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^oryx: provide an application as MODULE\[:EXPORT\], e\.g\. oryx \S+\n$/);
      const named = filePaths(r.stderr);
      assert.equal(named.length, 1, r.stderr);
      assert.deepEqual(missingFromPackage(r.stderr, cwd, packed), [], "the message names a file the package lacks");
      assert.equal(path.relative(ROOT, path.resolve(cwd, named[0]!)), path.join("examples", "hello.ts"));
    });
  }
});
