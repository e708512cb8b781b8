/** The machine's facts for the report, and the checks before a run (wrk, taskset, dist/, the fd limit). */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BUN } from "./peers.ts";

export interface Machine {
  nproc: number;
  cpuModel: string;
  node: string;
  /** Bun's version (node_modules/.bin/bun), or a sentence when it is missing. */
  bun: string;
  kernel: string;
  wrk: string;
  oryx: string;
  loadAverage: string;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : "";
}

export function machineFacts(): Machine {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  const wrkLine = spawnSync("wrk", ["-v"], { encoding: "utf8", timeout: 5000 });
  const wrk = /wrk (\S+)/.exec(`${wrkLine.stdout}${wrkLine.stderr}`)?.[1] ?? "unknown";
  const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  const commit = sh("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = sh("git", ["status", "--porcelain", "--", "src"]) !== "";
  return {
    nproc: Number(sh("nproc", [])) || os.availableParallelism(),
    cpuModel: model,
    node: process.version,
    bun: sh(BUN, ["--version"]) || `not found at ${BUN} (the Bun peers will not start)`,
    kernel: `${os.type()} ${os.release()}`,
    wrk,
    oryx: `${version}${commit !== "" ? `, commit ${commit}${dirty ? " with uncommitted changes in src/" : ""}` : ""}`,
    loadAverage: os.loadavg().map((x) => x.toFixed(2)).join(" "),
  };
}

export const loadAverage = (): string => os.loadavg().map((x) => x.toFixed(2)).join(" ");

/** wrk on the PATH, installing the Debian package when root; null when ready, else what to do. */
export function ensureWrk(log: (s: string) => void): string | null {
  if (spawnSync("wrk", ["-v"]).error === undefined) return null;
  if (process.getuid?.() !== 0) return "wrk is not installed: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu), then run again.";
  log("wrk is missing: apt-get install -y wrk");
  let r = spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit", timeout: 600_000 });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit", timeout: 600_000 });
    r = spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit", timeout: 600_000 });
  }
  return spawnSync("wrk", ["-v"]).error === undefined ? null : "apt-get could not install wrk; install it and run again.";
}

export function checkTaskset(): string | null {
  return spawnSync("taskset", ["-c", "0", "true"]).status === 0 ? null : "taskset is missing or cannot pin to CPU 0 (Debian: apt-get install util-linux).";
}

/** The hard limit on open files (what `ulimit -n` may be raised to without privileges). */
export function hardNofile(): number {
  const out = sh("bash", ["-c", "ulimit -Hn"]);
  return out === "unlimited" ? 1 << 20 : Number(out) || 1024;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * dist/ built: builds it when missing or when --build; returns a warning when src/ is newer than dist/cli.js
 * (the run would measure stale code), else null.
 */
export function ensureDist(force: boolean, log: (s: string) => void): string | null {
  const cli = "dist/cli.js";
  if (force || !existsSync(cli)) {
    log(`building dist/: npx tsc -p tsconfig.build.json`);
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit", timeout: 300_000 });
    } catch {
      if (!existsSync(cli)) throw new Error("the build failed and dist/cli.js does not exist");
      log("the build reported errors; using what it emitted");
    }
  }
  if (newestMtime("src") > statSync(cli).mtimeMs) {
    return "dist/ is older than src/: this run measures the last build, not the current source (run with --build, or `npm run build` first).";
  }
  return null;
}
