import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { APP_EXTENSIONS, parseAppSpec } from "./app-spec.ts";
import { ConfigFileError, formatSettingValue, loadConfigFile, type ConfigFileValues } from "./file.ts";
import { SETTINGS, UsageError, checkSettings, defaultSettings, type AnySetting, type Settings } from "./settings.ts";

/** Where a setting's value came from: "default", "config file", "env ORYX_X" or "--flag". */
export type SettingSource = "default" | "config file" | `env ${string}` | `--${string}`;

export interface CommandLine {
  settings: Settings;
  /** Where each setting's value came from. */
  sources: Record<keyof Settings, SettingSource>;
  /** The MODULE[:EXPORT] to serve: the argument, else the config file's `app`. */
  app: string | undefined;
  appSource: "argument" | "config file" | undefined;
  /** The config file named by -c/--config or ORYX_CONFIG (read only by resolveCommandLine). */
  config: string | undefined;
  configSource: "--config" | "env ORYX_CONFIG" | undefined;
  /** --check-config: validate and print the effective settings instead of serving. */
  checkConfig: boolean;
  help: boolean;
  version: boolean;
}

export const CONFIG_ENV = "ORYX_CONFIG";

/** argv, parsed but not yet applied. */
interface ParsedArgv {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parseArgv(argv: string[]): ParsedArgv {
  const options: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
    config: { type: "string", short: "c" },
    "check-config": { type: "boolean" },
  };
  for (const spec of SETTINGS) {
    options[spec.flag] = {
      type: spec.boolean ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error));
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one application, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`);
  }
  return { values: parsed.values as ParsedArgv["values"], positionals: parsed.positionals };
}

/**
 * Builds the settings from the defaults, then the config file's values (if `file` is given), then `ORYX_*`
 * environment variables, then command-line flags; then checks the settings against each other.
 */
function build(parsed: ParsedArgv, env: NodeJS.ProcessEnv, file: ConfigFileValues | undefined): CommandLine {
  const settings = defaultSettings() as unknown as Record<string, unknown>;
  const sources = {} as Record<keyof Settings, SettingSource>;
  for (const spec of SETTINGS) {
    sources[spec.key] = "default";
    const fromFile = file?.values[spec.key];
    if (fromFile !== undefined) {
      settings[spec.key] = applyValues(spec, fromFile, `config file: ${spec.key}`);
      sources[spec.key] = "config file";
    }
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") {
      settings[spec.key] = applyValues(spec, splitList(spec, [fromEnv]), spec.env);
      sources[spec.key] = `env ${spec.env}`;
    }
    const fromFlag = parsed.values[spec.flag];
    if (fromFlag !== undefined) {
      const raws = typeof fromFlag === "boolean" ? [String(fromFlag)] : Array.isArray(fromFlag) ? fromFlag : [fromFlag];
      settings[spec.key] = applyValues(spec, splitList(spec, raws), `--${spec.flag}`);
      sources[spec.key] = `--${spec.flag}`;
    }
  }
  // Only once every source is in: a rule between two settings may be met by different sources.
  checkSettings(settings as unknown as Settings);
  const { config, configSource } = configFileName(parsed, env);
  const arg = parsed.positionals[0];
  const app = arg ?? file?.app;
  return {
    settings: settings as unknown as Settings,
    sources,
    app,
    appSource: arg !== undefined ? "argument" : app !== undefined ? "config file" : undefined,
    config,
    configSource,
    checkConfig: parsed.values["check-config"] === true,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
  };
}

function configFileName(parsed: ParsedArgv, env: NodeJS.ProcessEnv): Pick<CommandLine, "config" | "configSource"> {
  const flag = parsed.values.config;
  if (typeof flag === "string") {
    if (flag === "") throw new UsageError("--config needs a file name");
    return { config: flag, configSource: "--config" };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return { config: fromEnv, configSource: `env ${CONFIG_ENV}` };
  return { config: undefined, configSource: undefined };
}

/**
 * Builds the settings from defaults, `ORYX_*` environment variables and command-line flags, synchronously. It
 * does not read a config file: `config` names the one given (-c, ORYX_CONFIG), and resolveCommandLine reads it.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  return build(parseArgv(argv), env, undefined);
}

/**
 * What `oryx` runs with: argv parsed; the config file (-c FILE, or ORYX_CONFIG), relative to `cwd`, loaded and
 * checked; then its values, the environment's and the flags' applied in that order (command line > environment >
 * config file > defaults). With --help or --version the config file is not read. Throws UsageError.
 */
export async function resolveCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<CommandLine> {
  const parsed = parseArgv(argv);
  const { config } = configFileName(parsed, env);
  const skip = parsed.values.help === true || parsed.values.version === true;
  const file = config !== undefined && !skip ? await loadConfigFile(config, cwd) : undefined;
  return build(parsed, env, file);
}

/**
 * `oryx --check-config`: checks that the app's module file exists (without loading it), and returns the
 * effective settings, one `key = value (source)` line each, values written as in a config file. Throws UsageError.
 */
export function checkConfigReport(cmd: CommandLine, cwd: string = process.cwd()): string {
  const lines: string[] = [];
  if (cmd.config !== undefined) lines.push(`config = ${JSON.stringify(cmd.config)} (${cmd.configSource})`);
  if (cmd.app !== undefined) {
    checkAppFile(cmd.app, cwd, cmd.appSource === "config file" ? `${cmd.config}: app` : "the app");
    lines.push(`app = ${JSON.stringify(cmd.app)} (${cmd.appSource})`);
  }
  for (const spec of SETTINGS) {
    lines.push(`${spec.key} = ${formatSettingValue(spec.key, cmd.settings[spec.key])} (${cmd.sources[spec.key]})`);
  }
  return lines.join("\n") + "\n";
}

function checkAppFile(app: string, cwd: string, what: string): void {
  const spec = parseAppSpec(app);
  const file = path.resolve(cwd, spec.module);
  const Err = what === "the app" ? UsageError : ConfigFileError;
  if (!existsSync(file)) throw new Err(`${what}: cannot find the module ${spec.module} (looked for ${file})`);
  if (!statSync(file).isFile()) throw new Err(`${what}: the module ${spec.module} is not a file`);
  const ext = path.extname(file);
  if (!(APP_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new Err(`${what}: the module ${spec.module} has extension "${ext}"; oryx loads ${APP_EXTENSIONS.join(" ")}`);
  }
}

/** A repeatable setting's values may also come comma-separated: `--forwarded-allow-ips 10.0.0.0/8,unix`. */
function splitList(spec: AnySetting, raws: string[]): string[] {
  if (!spec.multiple) return raws;
  return raws.flatMap((r) => r.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

function applyValues(spec: AnySetting, raws: string[], source: string): unknown {
  try {
    const values = raws.map((r) => (spec.parse as (raw: string) => unknown)(r));
    return spec.multiple ? values : values[values.length - 1];
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${source}: ${err.message}`);
    throw err;
  }
}

function usageMessage(err: Error): string {
  // parseArgs' messages are long and mention "positional"; say the same thing shorter.
  const code = (err as NodeJS.ErrnoException).code;
  const opt = /'([^']+)'/.exec(err.message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${opt}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `option ${opt.split(/[ ,]/)[0]} needs a value`;
  return err.message;
}

/**
 * The examples the package ships (package.json "files"): dependency-free, so they run from an installed copy.
 * Each with what it shows, for --help.
 */
export const SHIPPED_EXAMPLES: ReadonlyArray<readonly [file: string, what: string]> = [
  ["hello.ts", "Hello, World! (a fetch app)"],
  ["echo.ts", "echoes the request back as JSON (a fetch app)"],
  ["sleep.ts", "answers after ?ms= milliseconds (a fetch app)"],
  ["node.ts", "a plain (req, res) listener (a Node app)"],
];

/**
 * How to name the package's own examples/FILE on a command line run in `cwd`: relative when it lies below `cwd`
 * (`examples/hello.ts` in the repository, `node_modules/oryx/examples/hello.ts` in a project), else absolute (a
 * global install); undefined when this copy of oryx lacks the file.
 */
export function shippedExample(file: string, cwd: string = process.cwd()): string | undefined {
  const full = fileURLToPath(new URL(`../../examples/${file}`, import.meta.url));
  if (!existsSync(full)) return undefined;
  const rel = path.relative(cwd, full);
  const name = rel === "" || rel.split(path.sep)[0] === ".." || path.isAbsolute(rel) ? full : rel;
  return /^[\w@%+=:,./-]+$/.test(name) ? name : `'${name.replace(/'/g, "'\\''")}'`;
}

/** `oryx --help`: usage, the two kinds of app, examples (the shipped ones named as `cwd` reaches them), then the settings table. */
export function helpText(version: string, cwd: string = process.cwd()): string {
  const lines = [
    `oryx ${version}: an HTTP/1.1 application server for fetch-handler apps and Node (req, res) apps`,
    "",
    "Usage: oryx [options] MODULE[:EXPORT]",
    "       oryx --check-config [-c FILE] [options] [MODULE[:EXPORT]]",
    "       oryx bench URL [options]    the load generator that comes with oryx: see oryx bench --help",
    "",
    "  MODULE  a .ts .mts .cts .js .mjs or .cjs file, relative to the working directory (TypeScript runs",
    "          with no build step); or the config file's app, when the command line names none",
    "  EXPORT  the export to serve (default: default)",
    "",
    "Apps: oryx tells the two kinds apart by the export's shape (--interface fetch|node forces one).",
    "  fetch apps  an object with a fetch(request, info) method, or a function (request[, info]) => Response:",
    "              a plain fetch handler, Hono, h3, Elysia, GraphQL Yoga, itty-router",
    "  Node apps   a (req, res) app on Node's http: Express, Koa, Fastify, Connect, an http.Server, a",
    "              NestJS main.ts, or any module that calls listen() itself (oryx serves it on its own",
    "              addresses; the port it names stays free)",
    "",
  ];
  // Your own files first (app.ts, server.js, src/main.ts), then the package's examples, named as `cwd` reaches them.
  const yours: Array<readonly [string, string]> = [
    ["oryx app.ts", 'with app.ts: export default { fetch: () => new Response("Hello!") }'],
    ["oryx server.js -w 4", "an Express app, or a server.js that calls app.listen(3000); 4 workers"],
    ["oryx src/main.ts", "a NestJS app's main.ts, decorators and app.listen() included"],
  ];
  const shipped = SHIPPED_EXAMPLES.flatMap(([file, what]) => {
    const name = shippedExample(file, cwd);
    return name === undefined ? [] : [[`oryx ${name}`, what] as const];
  });
  const exampleRows = (list: ReadonlyArray<readonly [string, string]>): string[] => {
    const w = Math.max(...list.map(([cmd]) => cmd.length)) + 2;
    return list.map(([cmd, what]) => `  ${cmd.padEnd(w)}${what}`);
  };
  lines.push("Examples:", ...exampleRows(yours));
  lines.push("  oryx bench http://127.0.0.1:8888/ -c 50 -d 10    (load it: 50 connections, 10 seconds)");
  if (shipped.length > 0) {
    lines.push("", "Examples that come with oryx (no dependencies; run them as they are):");
    lines.push(...exampleRows(shipped));
  }
  lines.push("", "Options:");
  const rows: Array<[string, string]> = [];
  for (const spec of SETTINGS) {
    const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${spec.flag}${spec.meta ? ` ${spec.meta}` : ""}`;
    rows.push([flag, `${spec.help} [default: ${spec.defaultText}; env ${spec.env}]`]);
  }
  rows.push([
    "-c, --config FILE",
    `Read settings from FILE (.ts .mts .cts .js .mjs .cjs or .json): keys are the flags in camelCase (maxRequests), plus app. Flags and ORYX_* variables override it. [env ${CONFIG_ENV}]`,
  ]);
  rows.push(["    --check-config", "Check the settings (and that the app's file exists), print the effective settings with where each came from, and exit."]);
  rows.push(["-h, --help", "Show this help and exit."]);
  rows.push(["-V, --version", "Show the version and exit."]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [flag, help] of rows) {
    const wrapped = wrap(help, 100 - width - 2);
    lines.push(`  ${flag.padEnd(width)}${wrapped[0]}`);
    for (const more of wrapped.slice(1)) lines.push(`  ${" ".repeat(width)}${more}`);
  }
  lines.push(
    "",
    "Durations are seconds (5, 0.5) or take a unit (500ms, 5s, 2m). Sizes are bytes or take a unit (8k, 16MiB).",
    "Precedence: command line > ORYX_* environment > config file > defaults.",
    "Exit codes: 0 stopped cleanly, 1 unexpected error, 2 usage error, 3 cannot listen, 4 cannot load the app,",
    "5 workers kept failing to boot. Signals to the master: TERM/INT graceful stop, QUIT fast stop, HUP reload,",
    "TTIN/TTOU one worker more/fewer, USR1 reopen logs.",
  );
  return lines.join("\n") + "\n";
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") out.push(line);
  return out;
}
