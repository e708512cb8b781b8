/** The suite's command line: `npm run bench -- [options]`. */
import type { ScenarioId } from "./scenarios.ts";

export interface Options {
  rounds: number;
  /** Seconds per measurement. */
  seconds: number;
  /** Seconds of warm-up per (server, load). */
  warmupSeconds: number;
  /** Idle keep-alive connections in the idle scenario. */
  idle: number;
  quick: boolean;
  /** Scenarios to run, or null for all. */
  only: ScenarioId[] | null;
  /** Rebuild dist/ first even if it exists. */
  build: boolean;
  help: boolean;
}

export const ALL_SCENARIOS: ScenarioId[] = [
  "user-hello",
  "user-echo",
  "user-pipelined",
  "hono-prod",
  "hello",
  "echo",
  "64k",
  "pipelined",
  "hono",
  "express",
  "workers",
  "idle",
  "ws",
];

/** Names for groups of scenarios in --only. */
export const SCENARIO_GROUPS: Record<string, ScenarioId[]> = {
  user: ["user-hello", "user-echo", "user-pipelined", "hono-prod"],
  lean: ["hello", "echo", "64k", "pipelined", "hono", "express"],
};

export const HELP = `Usage: npm run bench -- [options]

Starts every peer pinned to CPU 0 and the load generator on CPU 1, every server at its defaults (oryx: no
flag besides -b and -w), warms each up, runs interleaved rounds and prints a Markdown report of medians (also
written to bench/RESULTS.md by a full run): first the apps as users write them (issue 19), then the lean app
(issue 5).

  --rounds N        interleaved rounds (default 5; a full run needs at least 5)
  --duration S      whole seconds per measurement (default 5)
  --warmup S        seconds of warm-up per server and load (default 2)
  --idle N          idle keep-alive connections in the idle scenario (default 10000)
  --only A,B        only these scenarios, by id:
                      ${ALL_SCENARIOS.slice(0, 6).join(", ")},
                      ${ALL_SCENARIOS.slice(6).join(", ")}
                    or by group: user (${SCENARIO_GROUPS.user!.join(", ")}; add idle for the
                    idle connections), lean (${SCENARIO_GROUPS.lean!.join(", ")});
                    ws is the WebSocket scenario (echo and broadcast; \`--only ws\` runs it alone)
  --quick           smoke run: 1 round of 2 s (1 s warm-up), report in /tmp/oryx-bench-RESULTS.quick.md
  --build           rebuild dist/ (npx tsc -p tsconfig.build.json) before running
  -h, --help        this text

Only a full run (no --quick, no --only, at least 5 rounds) writes bench/RESULTS.md; any other run writes its
report to /tmp (oryx-bench-RESULTS.quick.md for --quick, else oryx-bench-RESULTS.md).
`;

export class UsageError extends Error {}

export function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 5, seconds: 5, warmupSeconds: 2, idle: 10_000, quick: false, only: null, build: false, help: false };
  const set = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag}: expected a number ≥ ${min}, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (flag) {
      case "--rounds":
        o.rounds = Math.floor(num(1));
        break;
      case "--duration":
        o.seconds = Math.floor(num(1));
        break;
      case "--warmup":
        o.warmupSeconds = Math.floor(num(1));
        break;
      case "--idle":
        o.idle = Math.floor(num(1));
        break;
      case "--only": {
        const ids = value()
          .split(",")
          .filter((x) => x !== "")
          .flatMap((x) => SCENARIO_GROUPS[x] ?? [x]);
        for (const id of ids) {
          if (!(ALL_SCENARIOS as string[]).includes(id)) {
            throw new UsageError(`--only: unknown scenario ${JSON.stringify(id)} (known: ${ALL_SCENARIOS.join(", ")}; groups: ${Object.keys(SCENARIO_GROUPS).join(", ")})`);
          }
        }
        o.only = [...new Set(ids)] as ScenarioId[];
        break;
      }
      case "--quick":
        o.quick = true;
        break;
      case "--build":
        o.build = true;
        break;
      case "-h":
      case "--help":
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(a)}`);
    }
    set.add(flag);
  }
  if (o.quick) {
    if (!set.has("--rounds")) o.rounds = 1;
    if (!set.has("--duration")) o.seconds = 2;
    if (!set.has("--warmup")) o.warmupSeconds = 1;
  }
  return o;
}

/** A full run: the one that may write bench/RESULTS.md. */
export const isFullRun = (o: Options): boolean => !o.quick && o.only === null && o.rounds >= 5;
