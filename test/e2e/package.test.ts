/**
 * The published package: what `npm pack` puts in the tarball (LICENSE, the CLI, the examples --help offers), that
 * those examples need nothing but the package's own dependencies, and that an installed copy serves them.
 * Every process started here is killed by PID.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, runCli } from "../support/cli.ts";

interface Pack {
  filename: string;
  files: Array<{ path: string }>;
}

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  name: string;
  license: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

function npmPack(args: string[]): Pack {
  const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", ...args], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return (JSON.parse(out) as Pack[])[0]!;
}

/** The package-relative paths of the examples `oryx --help` offers as coming with oryx (run in the package's directory). */
async function examplesInHelp(): Promise<string[]> {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  const at = r.stdout.indexOf("Examples that come with oryx");
  assert.ok(at >= 0, "help has a section of examples that come with oryx");
  const section = r.stdout.slice(at, r.stdout.indexOf("\n\n", at));
  return [...section.matchAll(/^ +oryx (\S+)/gm)].map((m) => m[1]!);
}

let files: Set<string>;
let shipped: string[];

before(async () => {
  files = new Set(npmPack(["--dry-run"]).files.map((f) => f.path));
  shipped = await examplesInHelp();
});

describe("npm pack --dry-run", () => {
  test("carries LICENSE, MIT as package.json says", () => {
    assert.ok(files.has("LICENSE"), "the tarball has no LICENSE");
    assert.equal(pkg.license, "MIT");
    const text = readFileSync(path.join(ROOT, "LICENSE"), "utf8");
    assert.match(text, /^MIT License\n/);
    assert.match(text, /Copyright \(c\) 2026 the oryx authors/);
    assert.match(text, /Permission is hereby granted, free of charge/);
  });

  test("carries the CLI the bin field names, and the entry point", () => {
    assert.equal(pkg.bin.oryx, "dist/cli.js");
    assert.ok(files.has("dist/cli.js"));
    assert.ok(files.has("dist/index.js"));
    assert.ok(files.has("dist/index.d.ts"));
    assert.ok(files.has("package.json"));
    assert.ok(files.has("README.md"));
  });

  test("carries every example --help offers, hello.ts among them", () => {
    assert.ok(shipped.includes("examples/hello.ts"), shipped.join(", "));
    for (const p of shipped) assert.ok(files.has(p), `--help offers ${p}, which the package lacks`);
  });

  test("carries no example that imports what an installed package lacks", () => {
    const examples = [...files].filter((f) => f.startsWith("examples/"));
    assert.ok(examples.length > 0);
    const builtins = new Set(builtinModules);
    for (const f of examples) {
      const source = readFileSync(path.join(ROOT, f), "utf8");
      const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']|\brequire\s*\(\s*["']([^"']+)["']/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
      for (const s of specifiers) {
        const bare = s.startsWith("node:") ? s.slice(5) : s;
        if (builtins.has(bare)) continue;
        if (s.startsWith(".")) {
          const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(f), s)).split(path.sep).join("/");
          assert.ok(files.has(target), `${f} imports ${s}, which the package lacks`);
          continue;
        }
        const name = s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!;
        assert.ok(name === pkg.name || name in pkg.dependencies, `${f} imports ${s}, not a dependency of the package`);
      }
    }
  });
});

describe("an installed copy", () => {
  let dir: string;
  let project: string;
  const running = new Set<ChildProcess>();

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "oryx-pack-"));
    const tarball = path.join(dir, npmPack(["--pack-destination", dir]).filename);
    project = path.join(dir, "project");
    const installed = path.join(project, "node_modules", "oryx");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["xzf", tarball, "-C", installed, "--strip-components=1"]);
    // The package's own dependencies, without a network install: the repository's node_modules.
    symlinkSync(path.join(ROOT, "node_modules"), path.join(installed, "node_modules"), "dir");
  });

  after(() => {
    for (const p of running) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) process.kill(p.pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("--help and the no-app message name the examples as the project reaches them", () => {
    const cli = path.join(project, "node_modules", "oryx", "dist", "cli.js");
    const help = execFileSync(process.execPath, [cli, "--help"], { cwd: project, encoding: "utf8" });
    assert.ok(help.includes("oryx node_modules/oryx/examples/hello.ts"), help);
    const noApp = spawnSyncStderr(cli, project);
    assert.equal(noApp, "oryx: provide an application as MODULE[:EXPORT], e.g. oryx node_modules/oryx/examples/hello.ts\n");
  });

  test("serves every example --help offers, as --help names it", async () => {
    const cli = path.join(project, "node_modules", "oryx", "dist", "cli.js");
    for (const p of shipped) {
      const arg = path.posix.join("node_modules/oryx", p);
      const proc = spawn(process.execPath, [cli, arg, "-b", "127.0.0.1:0"], { cwd: project, stdio: ["ignore", "ignore", "pipe"] });
      running.add(proc);
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      try {
        const url = await startupUrl(proc);
        const res = await fetch(new URL("/?ms=1", url));
        const body = await res.text();
        assert.equal(res.status, 200, `${arg}: ${body}`);
        assert.ok(body.length > 0, `${arg} answered with an empty body`);
      } finally {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid!, "SIGTERM");
        await exited;
        running.delete(proc);
      }
    }
  });
});

function spawnSyncStderr(cli: string, cwd: string): string {
  try {
    execFileSync(process.execPath, [cli], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { status: number; stderr: string };
    assert.equal(e.status, 2);
    return e.stderr;
  }
  assert.fail("oryx with no app exited 0");
}

/** The first URL of oryx's startup line. */
function startupUrl(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`oryx did not start in time; stderr: ${err}`)), 15000);
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = / on (http:\/\/[^\s,]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`oryx exited with ${code} before starting; stderr: ${err}`));
    });
  });
}
