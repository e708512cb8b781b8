import { readFileSync, statSync } from "node:fs";
import { TS_EXTENSIONS, enableTypeScript } from "../typescript.ts";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigFileError } from "../errors.ts";
import type { InterfaceChoice } from "./app-spec.ts";
import type { LogLevel } from "../log.ts";
import { bindText } from "./bind-text.ts";
import { SEMI_SPACE_AUTO, SETTINGS, UsageError, checkSettings, defaultSettings, formatSize, type AnySetting, type Bind, type Settings } from "./settings.ts";

/**
 * The config file (`oryx -c oryx.config.ts`): a module or JSON file whose keys are the settings' names (the
 * camelCase of the flags: `--max-requests` is `maxRequests`), plus `app`. Its values are turned into the same raw
 * strings a flag or an `ORYX_*` variable would carry and checked by the same parsers, so every source means the
 * same thing. Precedence: command line > environment > config file > defaults (see args.ts).
 */

/** A duration: a number is seconds (`5`, `0.5`), like the command line; a string may take a unit (`"500ms"`, `"2m"`). */
export type DurationValue = number | string;
/** A size: a number is bytes (`8192`); a string may take a unit (`"8k"`, `"16MiB"`; units are powers of 1024). */
export type SizeValue = number | string;

/** Settings as a config file writes them. Every key is optional; what is not set comes from the defaults. */
export interface OryxConfig {
  /** The app to serve, `MODULE[:EXPORT]` relative to the working directory; used when the command line names none. */
  app?: string;
  /** Where to listen: `"HOST:PORT"`, `"[IPV6]:PORT"`, `"unix:PATH"` or `"fd://N"`; an array (or a comma-separated string) for several. */
  bind?: string | string[];
  /** How to serve the export: `"auto"` (from its shape), `"fetch"` or `"node"`. */
  interface?: InterfaceChoice;
  /** Worker processes: a number, or `"auto"` for one per available CPU. */
  workers?: number | "auto";
  /** Heartbeat timeout after which a stuck worker is killed and replaced. */
  timeout?: DurationValue;
  /** How long a worker waits for a module that calls listen() after it has loaded (or a promised export). */
  listenTimeout?: DurationValue;
  /** Retire a worker after about this many requests; 0 never. */
  maxRequests?: number;
  /** A random 0..N added to maxRequests per worker. */
  maxRequestsJitter?: number;
  /** Most connections one worker holds at once. */
  workerConnections?: number;
  /** Each worker's V8 semi-space cap in MiB (node --max-semi-space-size); 0 leaves it to V8; "auto" (the default): 8 for a fetch app, V8's own for a Node app. */
  maxSemiSpace?: number | "auto";
  /** Write the master's pid to this file. */
  pidFile?: string;
  /** The kernel's listen backlog. */
  backlog?: number;
  keepAliveTimeout?: DurationValue;
  headerTimeout?: DurationValue;
  requestTimeout?: DurationValue;
  sendTimeout?: DurationValue;
  gracefulTimeout?: DurationValue;
  limitRequestLine?: SizeValue;
  /** Most header fields in a request. */
  limitRequestFields?: number;
  limitRequestFieldSize?: SizeValue;
  limitRequestBody?: SizeValue;
  /** Value of a Server header on every response; none is sent unless set. */
  serverHeader?: string;
  /** Access log file, or `"-"` for standard output. */
  accessLog?: string;
  /** `"combined"`, `"common"`, `"json"`, or a format string of Apache directives. */
  accessLogFormat?: string;
  /** Error log file, or `"-"` for standard error. */
  errorLog?: string;
  logLevel?: LogLevel;
  certfile?: string;
  keyfile?: string;
  caCerts?: string;
  /**
   * File mode of Unix sockets oryx creates. A number is the mode itself, so write it as an octal literal:
   * `0o660` is mode 660 (a decimal `660` is refused: it is not a mode). A string holds the octal digits: `"660"`,
   * `"0660"` or `"0o660"` (JSON has no octal numbers: use a string there).
   */
  unixSocketMode?: number | string;
  /** Peers trusted as proxies: addresses, CIDR blocks, `"unix"` or `"*"`; an array or a comma-separated string. */
  forwardedAllowIps?: string | string[];
  /** Read a PROXY protocol header from trusted peers. */
  proxyProtocol?: boolean;
  /** The admin listener (/metrics, /healthz, /readyz): `"HOST:PORT"` or `"PORT"` (on 127.0.0.1); `""` is off. */
  metricsBind?: string;
  /** After SIGTERM, how long readiness fails while the workers still serve, before the graceful stop. */
  shutdownDelay?: DurationValue;
  /** A worker whose RSS passes this retires gracefully; 0 is no limit. */
  maxWorkerMemory?: SizeValue;
  /** Development: replace the workers when a watched file changes. */
  reload?: boolean;
  /** Directories to watch with reload, in place of the app's. */
  reloadDir?: string | string[];
  /** Globs of files whose change reloads. */
  reloadInclude?: string | string[];
  /** Globs of files ignored even if included. */
  reloadExclude?: string | string[];
  /** Largest WebSocket message a client may send (close 1009 over it). */
  wsMaxMessage?: SizeValue;
  /** A quiet WebSocket is pinged after this, then closed after as long again; 0: never. */
  wsIdleTimeout?: DurationValue;
  /** Most bytes queued for a WebSocket client that does not read; send() drops messages past it. */
  wsBackpressureLimit?: SizeValue;
}

/** For type checking and editor help in a config module: `export default defineConfig({ ... })`. */
export function defineConfig(config: OryxConfig): OryxConfig {
  return config;
}

/** What a config file contributed: per setting, its raw values (as a flag would carry them), and the app. */
export interface ConfigFileValues {
  values: Partial<Record<keyof Settings, string[]>>;
  app?: string;
}

/** A problem with the config file: one sentence that names the file and, where there is one, the key. */
export { ConfigFileError };

// ─── the kind of each setting ──────────────────────────────────────────────────────────────────────────────

/** How a config file writes each setting: which JavaScript values it takes and how they become raw strings. */
type Kind = "binds" | "list" | "duration" | "size" | "count" | "countOrAuto" | "choice" | "string" | "boolean" | "mode";

/**
 * Every setting's kind. `satisfies Record<keyof Settings, Kind>` makes a setting added to Settings without a
 * kind here (or a kind for no setting) a compile error.
 */
const KINDS = {
  bind: "binds",
  interface: "choice",
  workers: "countOrAuto",
  timeout: "duration",
  listenTimeout: "duration",
  maxRequests: "count",
  maxRequestsJitter: "count",
  workerConnections: "count",
  maxSemiSpace: "countOrAuto",
  pidFile: "string",
  backlog: "count",
  keepAliveTimeout: "duration",
  headerTimeout: "duration",
  requestTimeout: "duration",
  sendTimeout: "duration",
  gracefulTimeout: "duration",
  limitRequestLine: "size",
  limitRequestFields: "count",
  limitRequestFieldSize: "size",
  limitRequestBody: "size",
  serverHeader: "string",
  accessLog: "string",
  accessLogFormat: "string",
  errorLog: "string",
  logLevel: "choice",
  certfile: "string",
  keyfile: "string",
  caCerts: "string",
  unixSocketMode: "mode",
  forwardedAllowIps: "list",
  proxyProtocol: "boolean",
  metricsBind: "string",
  shutdownDelay: "duration",
  maxWorkerMemory: "size",
  reload: "boolean",
  reloadDir: "list",
  reloadInclude: "list",
  reloadExclude: "list",
  wsMaxMessage: "size",
  wsIdleTimeout: "duration",
  wsBackpressureLimit: "size",
} as const satisfies Record<keyof Settings, Kind>;

/** The JavaScript values each kind takes (a "choice" takes its setting's own values). */
interface KindValues<K extends keyof Settings> {
  binds: string | string[];
  list: string | string[];
  duration: DurationValue;
  size: SizeValue;
  count: number;
  countOrAuto: number | "auto";
  choice: Settings[K];
  string: string;
  boolean: boolean;
  mode: number | string;
}

// Compile-time checks: OryxConfig has exactly the keys of Settings plus `app`, and each key's type is the one its
// kind's runtime check accepts. A new setting that is missing here, or typed differently, fails `tsc`.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _OryxConfigHasEverySetting = Assert<Same<keyof OryxConfig, keyof Settings | "app">>;
export type _OryxConfigTypesMatchKinds = Assert<
  Same<{ [K in keyof Settings]-?: Same<NonNullable<OryxConfig[K]>, KindValues<K>[(typeof KINDS)[K]]> }[keyof Settings], true>
>;

const KIND_TEXT: Record<Kind, string> = {
  binds: "a string or an array of strings",
  list: "a string or an array of strings",
  duration: 'a number of seconds or a string such as "500ms"',
  size: 'a number of bytes or a string such as "16MiB"',
  count: "a number",
  countOrAuto: 'a number or "auto"',
  choice: "a string",
  string: "a string",
  boolean: "true or false",
  mode: 'an octal number such as 0o660 or a string such as "660"',
};

const SPECS = new Map<string, AnySetting>(SETTINGS.map((s) => [s.key, s]));

// ─── loading ───────────────────────────────────────────────────────────────────────────────────────────────

export const CONFIG_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json"] as const;

/**
 * Loads the config file `file` (relative to `cwd`) and checks every value with its setting's parser. Throws a
 * ConfigFileError (a UsageError) whose message names the file and the key.
 */
export async function loadConfigFile(file: string, cwd: string): Promise<ConfigFileValues> {
  const config = await readConfig(file, cwd);
  return convertConfig(config, file);
}

/** How many times each config module was imported (see readConfig). */
const configLoads = new Map<string, number>();

async function readConfig(file: string, cwd: string): Promise<unknown> {
  const abs = path.resolve(cwd, file);
  const ext = path.extname(abs);
  try {
    if (!statSync(abs).isFile()) throw new ConfigFileError(`the config file ${file} is not a file`);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(`cannot read the config file ${file}: ${code === "ENOENT" ? `no such file (looked for ${abs})` : oneLine(err)}`);
  }
  if (!(CONFIG_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new ConfigFileError(`the config file ${file} has extension "${ext}"; oryx reads ${CONFIG_EXTENSIONS.join(" ")}`);
  }
  if (ext === ".json") {
    let text: string;
    try {
      text = readFileSync(abs, "utf8");
    } catch (err) {
      throw new ConfigFileError(`cannot read the config file ${file}: ${oneLine(err)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigFileError(`${file} is not valid JSON: ${oneLine(err)}`);
    }
  }
  if (TS_EXTENSIONS.has(ext)) await enableTypeScript();
  let value: unknown;
  try {
    // Read again (--reload saw it change): a fresh URL, or import() hands back the module it loaded before.
    // (A CommonJS file stays in require's cache: only ES modules and TypeScript read as ES modules are fresh.)
    const seen = (configLoads.get(abs) ?? 0) + 1;
    configLoads.set(abs, seen);
    const url = pathToFileURL(abs).href + (seen > 1 ? `?oryx-reload=${seen}` : "");
    const mod = (await import(url)) as Record<string, unknown>;
    value = moduleConfig(mod);
    if (value === undefined) {
      throw new ConfigFileError(`${file} has no default export (write \`export default defineConfig({ ... })\` or \`module.exports = { ... }\`)`);
    }
    if (typeof value === "function") value = (value as () => unknown)();
    if (isThenable(value)) value = await value;
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    throw new ConfigFileError(`the config file ${file} threw while loading: ${oneLine(err)}`);
  }
  return value;
}

/** The module's config: its default export, or `module.exports` (which `import()` hands over as the default). */
function moduleConfig(mod: Record<string, unknown>): unknown {
  let value = mod.default;
  // TypeScript compiled to CommonJS: `export default x` became `exports.default = x` beside `__esModule`.
  if (value !== null && typeof value === "object" && (value as Record<string, unknown>).__esModule === true && "default" in value) {
    value = (value as Record<string, unknown>).default;
  }
  return value;
}

/** Turns a config object into raw strings per setting, checking each with its setting's parser. */
export function convertConfig(config: unknown, file: string): ConfigFileValues {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigFileError(`${file} must export an object of settings, got ${describeValue(config)}`);
  }
  const out: ConfigFileValues = { values: {} };
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (key === "app") {
      if (typeof value !== "string" || value.trim() === "") throw new ConfigFileError(`${file}: app must be a string MODULE[:EXPORT], got ${describeValue(value)}`);
      out.app = value;
      continue;
    }
    const spec = SPECS.get(key);
    if (spec === undefined) {
      const hint = suggestKey(key);
      throw new ConfigFileError(
        hint !== undefined
          ? `${file}: "${key}" is not a setting; did you mean ${hint}?`
          : `${file}: "${key}" is not a setting (settings are named as the flags in camelCase, e.g. maxRequests for --max-requests)`,
      );
    }
    const raws = toRaw(spec, value, file);
    for (const raw of raws) {
      try {
        (spec.parse as (raw: string) => unknown)(raw);
      } catch (err) {
        if (err instanceof UsageError) throw new ConfigFileError(`${file}: ${key}: ${err.message}`);
        throw err;
      }
    }
    out.values[spec.key] = raws;
  }
  return out;
}

/**
 * Full settings from a config object alone: the defaults, overridden by `config` (its `app` is ignored). `where`
 * names the source in error messages ("serve()", a file name). Throws a ConfigFileError (a UsageError).
 */
export function configToSettings(config: OryxConfig, where: string): Settings {
  const { values } = convertConfig(config, where);
  const settings = defaultSettings() as unknown as Record<string, unknown>;
  for (const [key, raws] of Object.entries(values) as Array<[keyof Settings, string[]]>) {
    const spec = SPECS.get(key)!;
    const parsed = raws.map((r) => (spec.parse as (raw: string) => unknown)(r));
    settings[key] = spec.multiple ? parsed : parsed[parsed.length - 1];
  }
  try {
    checkSettings(settings as unknown as Settings);
  } catch (err) {
    if (err instanceof UsageError && !(err instanceof ConfigFileError)) throw new ConfigFileError(`${where}: ${err.message}`);
    throw err;
  }
  return settings as unknown as Settings;
}

/** One setting's value as raw strings, the way a flag carries it; throws on a value of the wrong type. */
function toRaw(spec: AnySetting, value: unknown, file: string): string[] {
  const kind: Kind = KINDS[spec.key];
  const wrong = (): never => {
    throw new ConfigFileError(`${file}: ${spec.key} must be ${KIND_TEXT[kind]}, got ${describeValue(value)}`);
  };
  switch (kind) {
    case "binds":
    case "list": {
      const items = typeof value === "string" ? [value] : Array.isArray(value) ? value : wrong();
      items.forEach((item: unknown, i) => {
        if (typeof item !== "string") throw new ConfigFileError(`${file}: ${spec.key}[${i}] must be a string, got ${describeValue(item)}`);
      });
      const raws = (items as string[]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");
      if (kind === "binds" && raws.length === 0) throw new ConfigFileError(`${file}: ${spec.key} names no address`);
      return raws;
    }
    case "duration":
    case "size":
      if (typeof value === "number" || typeof value === "string") return [String(value)];
      return wrong();
    case "count":
      if (typeof value === "number") return [String(value)];
      return wrong();
    case "countOrAuto":
      if (typeof value === "number" || value === "auto") return [String(value)];
      return wrong();
    case "choice":
    case "string":
      if (typeof value === "string") return [value];
      return wrong();
    case "boolean":
      if (typeof value === "boolean") return [String(value)];
      return wrong();
    case "mode":
      if (typeof value === "string") return [value];
      if (typeof value === "number") {
        if (!Number.isInteger(value) || value < 0 || value > 0o777) {
          throw new ConfigFileError(`${file}: ${spec.key}: ${value} is not a file mode; write the number in octal (0o660) or as a string ("660")`);
        }
        return [value.toString(8).padStart(3, "0")];
      }
      return wrong();
  }
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return `the string ${JSON.stringify(v)}`;
    case "number":
      return `the number ${v}`;
    case "boolean":
      return String(v);
    case "function":
      return "a function";
    case "object":
      return "an object";
    default:
      return `a ${typeof v}`;
  }
}

// ─── "did you mean" ────────────────────────────────────────────────────────────────────────────────────────

const normalize = (s: string): string => s.toLowerCase().replace(/[-_\s.]/g, "");

/**
 * The setting an unknown key probably meant: the same name in another spelling (the flag `max-requests`,
 * `MAX_REQUESTS`, the variable `ORYX_MAX_REQUESTS`, the short flag `w`), else the nearest name by edit distance.
 */
export function suggestKey(key: string): string | undefined {
  const aliases: Array<[string, string]> = [["app", "app"]];
  for (const s of SETTINGS) {
    aliases.push([s.key, s.key], [s.flag, s.key], [s.env, s.key], [s.env.replace(/^ORYX_/, ""), s.key]);
  }
  const k = normalize(key);
  if (k === "") return undefined;
  for (const [alias, target] of aliases) if (normalize(alias) === k) return target;
  for (const s of SETTINGS) if (s.short !== undefined && key === s.short) return s.key;
  let best: string | undefined;
  let bestDistance = k.length <= 4 ? 1 : k.length <= 8 ? 2 : 3;
  for (const [alias, target] of aliases) {
    const d = editDistance(k, normalize(alias));
    if (d < bestDistance || (d === bestDistance && best === undefined)) {
      best = target;
      bestDistance = d;
    }
  }
  if (best !== undefined) return best;
  // A prefix of exactly one setting: keepAlive → keepAliveTimeout.
  if (k.length >= 4) {
    const hits = new Set(aliases.filter(([alias]) => normalize(alias).startsWith(k)).map(([, target]) => target));
    if (hits.size === 1) return [...hits][0];
  }
  return undefined;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ─── showing values ────────────────────────────────────────────────────────────────────────────────────────

/** A duration in milliseconds as a user writes it: "30s", "2m", "500ms". */
export function durationText(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A setting's value as a config file writes it (a JavaScript literal that loads back as the same value). */
export function formatSettingValue<K extends keyof Settings>(key: K, value: Settings[K]): string {
  const kind: Kind = KINDS[key];
  switch (kind) {
    case "binds":
      return `[${(value as Bind[]).map((b) => JSON.stringify(bindText(b))).join(", ")}]`;
    case "list":
      return `[${(value as string[]).map((s) => JSON.stringify(s)).join(", ")}]`;
    case "duration":
      return JSON.stringify(durationText(value as number));
    case "size":
      return JSON.stringify(formatSize(value as number));
    case "mode":
      return `0o${(value as number).toString(8).padStart(3, "0")}`;
    case "countOrAuto":
      // --max-semi-space's auto is kept as SEMI_SPACE_AUTO (workers' auto is a number by then).
      return value === SEMI_SPACE_AUTO ? JSON.stringify("auto") : String(value);
    case "count":
    case "boolean":
      return String(value);
    case "choice":
    case "string":
      return JSON.stringify(value);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

/** An error's message on one line (tsx and esbuild messages span several). */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ");
}
