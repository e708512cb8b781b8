/**
 * `npm run soak` (node --import tsx bench/soak.ts): the reliability scenarios of issue 18, longer than `npm test`
 * may take, with real clients against the built CLI, one after another; each prints its own figures. Not part
 * of CI: about 4 minutes in all.
 *
 *   npm run soak                   every scenario
 *   npm run soak -- stops body     only these (stops, body, slowloris, idle)
 *
 * Exit 0 when every scenario met its mark (no request lost, every body right, every probe answered), else 1.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const SCENARIOS: Record<string, { what: string; script: string; args: string[] }> = {
  stops: {
    what: "50 non-retrying keep-alive POST clients while workers reload (SIGHUP), scale (TTIN/TTOU) and retire (--max-requests): no request lost",
    script: "soak-stops.ts",
    args: ["--duration", "60"],
  },
  body: {
    what: "3 clients × 8 MiB bodies in 1-byte chunks on every read path: the worker's peak RSS grows with the bytes, not the chunks",
    script: "soak-body.ts",
    args: ["--mib", "8", "--clients", "3"],
  },
  slowloris: {
    what: "2,000 slowloris connections at default settings; a new client asks GET / every second: every probe answered",
    script: "soak-slowloris.ts",
    args: ["--mode", "slowloris", "--sockets", "2000", "--duration", "30"],
  },
  idle: {
    what: "10,000 idle keep-alive connections at default settings; a new client asks GET / every second: all held, every probe answered",
    script: "soak-slowloris.ts",
    args: ["--mode", "idle", "--sockets", "10000", "--duration", "20"],
  },
};

function main(argv: string[]): number {
  const unknown = argv.filter((a) => !(a in SCENARIOS));
  if (unknown.length > 0) {
    process.stderr.write(`soak: no scenario ${unknown.join(", ")}; there are: ${Object.keys(SCENARIOS).join(", ")}\n`);
    return 2;
  }
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) return 1;
  const chosen = argv.length > 0 ? argv : Object.keys(SCENARIOS);
  const results: Array<[string, string]> = [];
  for (const name of chosen) {
    const s = SCENARIOS[name]!;
    process.stdout.write(`\n== ${name}: ${s.what}\n`);
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join("bench", s.script), ...s.args], { cwd: ROOT, stdio: "inherit" });
    results.push([name, r.status === 0 ? "met" : `NOT met (exit ${r.status ?? r.signal})`]);
  }
  process.stdout.write("\n== summary\n");
  for (const [name, verdict] of results) process.stdout.write(`${name.padEnd(10)} ${verdict}\n`);
  return results.every(([, v]) => v === "met") ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
