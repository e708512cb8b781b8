import { parseArgs, type ParseArgsConfig } from "node:util";
import { SETTINGS, UsageError, defaultSettings, type AnySetting, type Settings } from "./settings.ts";

export interface CommandLine {
  settings: Settings;
  /** The MODULE[:EXPORT] argument, if given. */
  app: string | undefined;
  help: boolean;
  version: boolean;
}

/** Builds the settings: defaults, then `ORYX_*` environment variables, then command-line flags. */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const options: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const spec of SETTINGS) {
    options[spec.flag] = { type: "string", ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error));
  }
  const settings = defaultSettings() as unknown as Record<string, unknown>;
  for (const spec of SETTINGS) {
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") {
      const raws = spec.multiple ? fromEnv.split(",").map((s) => s.trim()).filter((s) => s !== "") : [fromEnv];
      settings[spec.key] = applyValues(spec, raws, spec.env);
    }
    const fromFlag = parsed.values[spec.flag] as string | string[] | undefined;
    if (fromFlag !== undefined) {
      const raws = Array.isArray(fromFlag) ? fromFlag : [fromFlag];
      settings[spec.key] = applyValues(spec, raws, `--${spec.flag}`);
    }
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one application, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`);
  }
  return {
    settings: settings as unknown as Settings,
    app: parsed.positionals[0],
    help: parsed.values.help === true,
    version: parsed.values.version === true,
  };
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
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `option ${opt.split(" ")[0]} needs a value`;
  return err.message;
}

/** `oryx --help`, generated from the settings table. */
export function helpText(version: string): string {
  const lines = [
    `oryx ${version}: an HTTP/1.1 application server for fetch-handler apps`,
    "",
    "Usage: oryx [options] MODULE[:EXPORT]",
    "",
    "  MODULE  a .ts .mts .cts .js .mjs or .cjs file, relative to the working directory",
    "  EXPORT  the export to serve (default: default): an object with a fetch(request) method,",
    "          or a function (request, info) => Response",
    "",
    "Options:",
  ];
  const rows: Array<[string, string]> = [];
  for (const spec of SETTINGS) {
    const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${spec.flag} ${spec.meta}`;
    rows.push([flag, `${spec.help} [default: ${spec.defaultText}; env ${spec.env}]`]);
  }
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
