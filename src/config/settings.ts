import { accessSync, constants } from "node:fs";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { UsageError } from "../errors.ts";
import { INTERFACE_CHOICES, type InterfaceChoice } from "./app-spec.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";

/**
 * ONE typed table of settings. The CLI's flags, the `ORYX_*` environment variables, the defaults, the help
 * text and the README's reference all come from it (later: the config file too). Add a setting here and
 * everything else follows.
 */

export { UsageError };

export type Bind =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  /** A listening socket this process inherited as descriptor `fd` (from systemd, or a launcher). */
  | { kind: "fd"; fd: number };

export interface Settings {
  bind: Bind[];
  interface: InterfaceChoice;
  workers: number;
  timeout: number;
  listenTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  workerConnections: number;
  maxSemiSpace: number;
  pidFile: string;
  backlog: number;
  keepAliveTimeout: number;
  headerTimeout: number;
  requestTimeout: number;
  sendTimeout: number;
  gracefulTimeout: number;
  limitRequestLine: number;
  limitRequestFields: number;
  limitRequestFieldSize: number;
  limitRequestBody: number;
  serverHeader: string;
  accessLog: string;
  accessLogFormat: string;
  errorLog: string;
  logLevel: LogLevel;
  certfile: string;
  keyfile: string;
  caCerts: string;
  unixSocketMode: number;
  forwardedAllowIps: string[];
  proxyProtocol: boolean;
  metricsBind: string;
  shutdownDelay: number;
  maxWorkerMemory: number;
  reload: boolean;
  reloadDir: string[];
  reloadInclude: string[];
  reloadExclude: string[];
  wsMaxMessage: number;
  wsIdleTimeout: number;
  wsBackpressureLimit: number;
}

export interface SettingSpec<K extends keyof Settings = keyof Settings> {
  key: K;
  flag: string;
  short?: string;
  /** Placeholder for the value in help text, e.g. ADDRESS. */
  meta: string;
  env: string;
  /** Repeatable; a flag or variable may also list several values separated by commas. */
  multiple?: boolean;
  /** An on/off switch: the flag takes no value (`--proxy-protocol`); the variable and config file take true/false. */
  boolean?: boolean;
  default: Settings[K];
  /** How the default reads in help and docs. */
  defaultText: string;
  /** Parses one raw value (for a repeatable setting, one element). Throws UsageError. */
  parse: (raw: string) => Settings[K] extends Array<infer E> ? E : Settings[K];
  help: string;
}

// ─── value parsers ─────────────────────────────────────────────────────────────────────────────────────────

/** --max-semi-space's default, `auto`: the cap follows the app's kind (arbiter/worker-spawn.ts youngGeneration). */
export const SEMI_SPACE_AUTO = -1;
/** The cap `auto` puts on a fetch app's workers, MiB: oryx's engine keeps little per request. */
export const FETCH_APP_SEMI_SPACE = 8;

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw)) throw new UsageError(`"${raw}" is not a whole number`);
    const n = Number(raw);
    if (n < min || n > max) throw new UsageError(`${n} is out of range (${min} to ${max})`);
    return n;
  };
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Sizes: bytes, or with a unit: 8k, 8KiB, 16m, 1g (units are powers of 1024). */
export function parseSize(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
    const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
    if (m === null || unit === undefined) throw new UsageError(`"${raw}" is not a size (try 8192, 8k or 16MiB)`);
    const n = Math.round(Number(m[1]) * unit);
    if (n < min || n > max) throw new UsageError(`${raw} is out of range (${formatSize(min)} to ${formatSize(max)})`);
    return n;
  };
}

/** Durations, in milliseconds: seconds by default (5, 0.5), or with a unit: 500ms, 5s, 2m. */
export function parseDuration(minMs: number, maxMs: number): (raw: string) => number {
  return (raw) => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/i.exec(raw.trim());
    if (m === null) throw new UsageError(`"${raw}" is not a duration (try 5, 5s, 500ms or 2m)`);
    const unit = (m[2] ?? "s").toLowerCase();
    const ms = Math.round(Number(m[1]) * (unit === "ms" ? 1 : unit === "s" ? 1000 : 60_000));
    if (ms < minMs || ms > maxMs) throw new UsageError(`${raw} is out of range (${minMs / 1000}s to ${maxMs / 1000}s)`);
    return ms;
  };
}

/** `HOST:PORT`, `[IPV6]:PORT`, `unix:PATH` or `fd://N`. Port 0 asks the kernel for a free port. */
export function parseBind(raw: string): Bind {
  if (raw.startsWith("fd://")) {
    const n = raw.slice(5);
    if (!/^\d{1,7}$/.test(n) || Number(n) < 3) throw new UsageError(`"${raw}" is not an inherited socket (use fd://N, N ≥ 3)`);
    return { kind: "fd", fd: Number(n) };
  }
  if (raw.startsWith("unix:")) {
    const p = raw.slice(5);
    if (p === "") throw new UsageError(`"${raw}" names no socket path`);
    return { kind: "unix", path: p };
  }
  const m = /^(?:\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(raw);
  if (m === null) throw new UsageError(`"${raw}" is not an address (use HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N)`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`port ${port} is out of range (0 to 65535)`);
  return { kind: "tcp", host: m[1] ?? m[2]!, port };
}

/**
 * The admin listener's address: `HOST:PORT`, `[IPV6]:PORT`, or a bare `PORT` (on 127.0.0.1: metrics and health are
 * for the machine's own agents unless a host is named). Normalized to `HOST:PORT`; "" is off.
 */
export function parseMetricsBind(raw: string): string {
  const v = raw.trim();
  if (v === "" || v === "off") return "";
  if (/^\d{1,5}$/.test(v)) {
    if (Number(v) > 65535) throw new UsageError(`port ${v} is out of range (0 to 65535)`);
    return `127.0.0.1:${Number(v)}`;
  }
  const b = parseBind(v);
  if (b.kind !== "tcp") throw new UsageError(`"${raw}" is not a TCP address (use HOST:PORT or PORT)`);
  return b.host.includes(":") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/** A glob for --reload-include/--reload-exclude: any non-empty pattern (picomatch syntax). */
function glob(raw: string): string {
  const v = raw.trim();
  if (v === "") throw new UsageError("an empty glob matches nothing");
  return v;
}

/** A worker count, or "auto": as many as the CPUs this process may run on. */
function workerCount(raw: string): number {
  if (raw === "auto") return availableParallelism();
  return integer(1, 1024)(raw);
}

function oneOf<T extends string>(values: readonly T[]): (raw: string) => T {
  return (raw) => {
    if ((values as readonly string[]).includes(raw)) return raw as T;
    throw new UsageError(`"${raw}" is not one of ${values.join(", ")}`);
  };
}

/** true/false, and the usual spellings of each. */
export function parseBoolean(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new UsageError(`"${raw}" is not true or false`);
}

/** A file mode in octal: 660, 0660 or 0o660. */
function fileMode(raw: string): number {
  const m = /^(?:0o?)?([0-7]{3})$/i.exec(raw.trim());
  if (m === null) throw new UsageError(`"${raw}" is not an octal file mode (try 660 or 0666)`);
  return parseInt(m[1]!, 8);
}

/**
 * One entry of the trusted-proxy list: an IPv4 or IPv6 address, a CIDR block (10.0.0.0/8, fd00::/8), `unix` for
 * connections on Unix sockets, or `*` for every peer.
 */
export function parseTrustedPeer(raw: string): string {
  const v = raw.trim();
  if (v === "*" || v === "unix") return v;
  const slash = v.indexOf("/");
  const addr = slash === -1 ? v : v.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) throw new UsageError(`"${raw}" is not an IP address, a CIDR block, unix or *`);
  if (slash !== -1) {
    const bits = v.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) throw new UsageError(`"${raw}" has a bad prefix length`);
  }
  return v;
}

/** A readable file's path, checked when the settings are read, so a typo fails at start with its name. */
function readableFile(raw: string): string {
  if (raw === "") return raw;
  try {
    accessSync(raw, constants.R_OK);
  } catch (err) {
    throw new UsageError(`cannot read ${raw}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  return raw;
}

function headerValue(raw: string): string {
  if (/[^\x20-\x7e]/.test(raw)) throw new UsageError("a Server header must be printable ASCII");
  return raw.trim();
}

export function formatSize(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

const DAY = 86_400_000;

// ─── where each setting applies ─────────────────────────────────────────────────────────────────────────────

/**
 * Where a setting applies. `engine`: one server's engine (limits, timeouts, logs, proxies, WebSockets), in the
 * CLI's workers and in `serve()` alike. `cli`: the CLI's master and worker pool (binding, workers, supervision,
 * reload, metrics), or written another way in `serve()` (bind is port/hostname/unix there, TLS files are `tls`):
 * `serve()` refuses these.
 */
export type SettingScope = "engine" | "cli";

/** The scope of every setting: the one source of serve()'s option type and of the keys it refuses. */
export const SETTING_SCOPES = {
  bind: "cli", interface: "cli", workers: "cli", timeout: "cli", listenTimeout: "cli", maxRequests: "cli",
  maxRequestsJitter: "cli", workerConnections: "cli", maxSemiSpace: "cli", pidFile: "cli", certfile: "cli",
  keyfile: "cli", caCerts: "cli", metricsBind: "cli", shutdownDelay: "cli", maxWorkerMemory: "cli", reload: "cli",
  reloadDir: "cli", reloadInclude: "cli", reloadExclude: "cli",
  backlog: "engine", keepAliveTimeout: "engine", headerTimeout: "engine", requestTimeout: "engine",
  sendTimeout: "engine", gracefulTimeout: "engine", limitRequestLine: "engine", limitRequestFields: "engine",
  limitRequestFieldSize: "engine", limitRequestBody: "engine", serverHeader: "engine", accessLog: "engine",
  accessLogFormat: "engine", errorLog: "engine", logLevel: "engine", unixSocketMode: "engine",
  forwardedAllowIps: "engine", proxyProtocol: "engine", wsMaxMessage: "engine", wsIdleTimeout: "engine",
  wsBackpressureLimit: "engine",
} as const satisfies Record<keyof Settings, SettingScope>;

/** The settings of one server's engine: what `serve()` takes. */
export type EngineSettingKey = { [K in keyof Settings]: (typeof SETTING_SCOPES)[K] extends "engine" ? K : never }[keyof Settings];

// ─── the table ─────────────────────────────────────────────────────────────────────────────────────────────

/** Any one row of the table, each row typed by its own key. */
export type AnySetting = { [K in keyof Settings]: SettingSpec<K> }[keyof Settings];

export const SETTINGS: readonly AnySetting[] = [
  {
    key: "bind", flag: "bind", short: "b", meta: "ADDRESS", env: "ORYX_BIND", multiple: true,
    default: [{ kind: "tcp", host: "127.0.0.1", port: 8888 }], defaultText: "127.0.0.1:8888",
    parse: parseBind,
    help: "Where to listen: HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N (an inherited listening socket). Repeat, or separate with commas, for several. Port 0 picks a free port. Under systemd socket activation (LISTEN_FDS) the sockets passed are used in place of the default.",
  },
  {
    key: "interface", flag: "interface", meta: "KIND", env: "ORYX_INTERFACE",
    default: "auto", defaultText: "auto", parse: oneOf(INTERFACE_CHOICES),
    help: "How to serve the export: auto finds out from its shape (see the README's table); fetch or node forces one.",
  },
  {
    key: "workers", flag: "workers", short: "w", meta: "N|auto", env: "ORYX_WORKERS",
    default: 1, defaultText: "1", parse: workerCount,
    help: "How many worker processes serve requests; auto is one per available CPU. A master process binds the sockets and supervises them.",
  },
  {
    key: "timeout", flag: "timeout", meta: "DURATION", env: "ORYX_TIMEOUT",
    default: 30_000, defaultText: "30s", parse: parseDuration(500, DAY),
    help: "A worker whose event loop does not answer the master's heartbeat for this long (an app stuck in a busy loop) is killed and replaced.",
  },
  {
    key: "listenTimeout", flag: "listen-timeout", meta: "DURATION", env: "ORYX_LISTEN_TIMEOUT",
    default: 30_000, defaultText: "30s", parse: parseDuration(0, DAY),
    help: "How long a worker waits for an app that is not ready when its module has loaded: a module with no export that calls listen() later (a NestJS main.ts's bootstrap(), a listen() after a database connects), or a default export that is a promise. A worker still without an app then fails (exit 4); the master allows a booting worker this long plus 30s (and at least 60s) before it kills it. 0 does not wait.",
  },
  {
    key: "maxRequests", flag: "max-requests", meta: "N", env: "ORYX_MAX_REQUESTS",
    default: 0, defaultText: "0 (never)", parse: integer(0, 1e12),
    help: "A worker retires gracefully after about this many requests (its replacement starts first). 0 turns this off.",
  },
  {
    key: "maxRequestsJitter", flag: "max-requests-jitter", meta: "N", env: "ORYX_MAX_REQUESTS_JITTER",
    default: 0, defaultText: "0", parse: integer(0, 1e12),
    help: "A random 0..N added to --max-requests per worker, so workers do not all retire at once.",
  },
  {
    key: "workerConnections", flag: "worker-connections", meta: "N", env: "ORYX_WORKER_CONNECTIONS",
    default: 16_384, defaultText: "16384", parse: integer(1, 1_000_000),
    help: "Most connections one worker holds at once (never more than its open-files limit allows, less a tenth kept for the app). Over it, a new connection makes room by closing the one that has waited longest (at least 1s) for its request head, else the one idle longest; with none to close the worker stops accepting and the kernel's backlog queues the rest. 1 serves one connection at a time (an iterative server).",
  },
  {
    key: "maxSemiSpace", flag: "max-semi-space", meta: "MIB", env: "ORYX_MAX_SEMI_SPACE",
    default: SEMI_SPACE_AUTO, defaultText: "auto", parse: (raw) => (raw === "auto" ? SEMI_SPACE_AUTO : integer(0, 1024)(raw)),
    help: `Caps each worker's V8 young generation at two semi-spaces of MIB (node --max-semi-space-size; V8 rounds MIB up to a power of two), or auto: ${FETCH_APP_SEMI_SPACE} for a fetch app (without a cap a burst of new connections grows it to V8's 2 × 16 MiB and it stays that size while the worker is busy), none for a Node (req, res) app, which then allocates as on node:http with V8's own (its first worker finds out and is started again). 0 leaves it to V8; a --max-semi-space-size in NODE_OPTIONS is left alone.`,
  },
  {
    key: "pidFile", flag: "pid", meta: "FILE", env: "ORYX_PID",
    default: "", defaultText: "none", parse: (raw) => raw,
    help: "Write the master's pid to FILE (removed at exit).",
  },
  {
    key: "backlog", flag: "backlog", meta: "N", env: "ORYX_BACKLOG",
    default: 2048, defaultText: "2048", parse: integer(1, 65535),
    help: "Most connections the kernel queues before oryx accepts them.",
  },
  {
    key: "keepAliveTimeout", flag: "keep-alive-timeout", meta: "DURATION", env: "ORYX_KEEP_ALIVE_TIMEOUT",
    default: 5000, defaultText: "5s", parse: parseDuration(0, DAY),
    help: "How long an idle connection stays open waiting for its next request. 0 turns keep-alive off.",
  },
  {
    key: "headerTimeout", flag: "header-timeout", meta: "DURATION", env: "ORYX_HEADER_TIMEOUT",
    default: 20_000, defaultText: "20s", parse: parseDuration(1, DAY),
    help: "Longest time to receive a complete request head (from accept, or from the first byte of a later request); then 408 and close.",
  },
  {
    key: "requestTimeout", flag: "request-timeout", meta: "DURATION", env: "ORYX_REQUEST_TIMEOUT",
    default: 30_000, defaultText: "30s", parse: parseDuration(1, DAY),
    help: "Longest a request body may stall (no byte arrives while the app is reading it); then 408 and close.",
  },
  {
    key: "sendTimeout", flag: "send-timeout", meta: "DURATION", env: "ORYX_SEND_TIMEOUT",
    default: 60_000, defaultText: "60s", parse: parseDuration(0, DAY),
    help: "Longest a response may wait for a client that stopped reading it (no byte of it taken by the network for this long); then the connection is closed. 0 waits forever. Fetch apps (oryx's engine) only.",
  },
  {
    key: "gracefulTimeout", flag: "graceful-timeout", meta: "DURATION", env: "ORYX_GRACEFUL_TIMEOUT",
    default: 30_000, defaultText: "30s", parse: parseDuration(0, DAY),
    help: "On SIGTERM or SIGINT, how long requests in flight may take to finish before their connections are closed.",
  },
  {
    key: "limitRequestLine", flag: "limit-request-line", meta: "SIZE", env: "ORYX_LIMIT_REQUEST_LINE",
    default: 8192, defaultText: "8 KiB", parse: parseSize(64, 1024 ** 2),
    help: "Longest request line (method, target, version); longer gets 414.",
  },
  {
    key: "limitRequestFields", flag: "limit-request-fields", meta: "N", env: "ORYX_LIMIT_REQUEST_FIELDS",
    default: 100, defaultText: "100", parse: integer(1, 10_000),
    help: "Most header fields in a request; more gets 431. Also bounds trailer fields of a chunked body (400, fetch apps).",
  },
  {
    key: "limitRequestFieldSize", flag: "limit-request-field-size", meta: "SIZE", env: "ORYX_LIMIT_REQUEST_FIELD_SIZE",
    default: 8192, defaultText: "8 KiB", parse: parseSize(64, 1024 ** 2),
    help: "Longest header field line (name and value); longer gets 431.",
  },
  {
    key: "limitRequestBody", flag: "limit-request-body", meta: "SIZE", env: "ORYX_LIMIT_REQUEST_BODY",
    default: 16 * 1024 ** 2, defaultText: "16 MiB", parse: parseSize(0, 2 ** 50),
    help: "Largest request body (after chunked decoding); larger gets 413.",
  },
  {
    key: "serverHeader", flag: "server-header", meta: "TEXT", env: "ORYX_SERVER_HEADER",
    default: "", defaultText: "none", parse: headerValue,
    help: "Value of a Server header on every response. None is sent unless this is set.",
  },
  {
    key: "accessLog", flag: "access-log", meta: "FILE", env: "ORYX_ACCESS_LOG",
    default: "", defaultText: "off", parse: (raw) => raw,
    help: "Write an access log line per response to FILE, or to standard output for -. Reopened on SIGUSR1.",
  },
  {
    key: "accessLogFormat", flag: "access-log-format", meta: "FORMAT", env: "ORYX_ACCESS_LOG_FORMAT",
    default: "combined", defaultText: "combined", parse: (raw) => raw,
    help: "The access log's line: combined (Apache's), common, json (one JSON object per line), or a format string of Apache directives (see the README).",
  },
  {
    key: "errorLog", flag: "error-log", meta: "FILE", env: "ORYX_ERROR_LOG",
    default: "-", defaultText: "- (standard error)", parse: (raw) => raw,
    help: "Where the error log goes: FILE (appended to, reopened on SIGUSR1), or - for standard error.",
  },
  {
    key: "logLevel", flag: "log-level", meta: "LEVEL", env: "ORYX_LOG_LEVEL",
    default: "info", defaultText: "info", parse: oneOf(LOG_LEVELS),
    help: `Least severe error-log level written: ${LOG_LEVELS.join(", ")}.`,
  },
  {
    key: "certfile", flag: "certfile", meta: "FILE", env: "ORYX_CERTFILE",
    default: "", defaultText: "none", parse: readableFile,
    help: "Serve HTTPS with this PEM certificate (chain); needs --keyfile. Read again on SIGHUP.",
  },
  {
    key: "keyfile", flag: "keyfile", meta: "FILE", env: "ORYX_KEYFILE",
    default: "", defaultText: "none", parse: readableFile,
    help: "The PEM private key of --certfile.",
  },
  {
    key: "caCerts", flag: "ca-certs", meta: "FILE", env: "ORYX_CA_CERTS",
    default: "", defaultText: "none", parse: readableFile,
    help: "Ask clients for a certificate and accept only those signed by a CA in this PEM file (mutual TLS).",
  },
  {
    key: "unixSocketMode", flag: "unix-socket-mode", meta: "MODE", env: "ORYX_UNIX_SOCKET_MODE",
    default: 0o660, defaultText: "660", parse: fileMode,
    help: "File mode of Unix sockets oryx creates (octal): 660 lets the owner and its group connect.",
  },
  {
    key: "forwardedAllowIps", flag: "forwarded-allow-ips", meta: "LIST", env: "ORYX_FORWARDED_ALLOW_IPS", multiple: true,
    default: ["127.0.0.1", "::1", "unix"], defaultText: "127.0.0.1,::1,unix", parse: parseTrustedPeer,
    help: "Peers trusted as proxies: addresses, CIDR blocks, unix (Unix-socket peers) or *. Only their X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers (and PROXY protocol headers) are believed.",
  },
  {
    key: "proxyProtocol", flag: "proxy-protocol", meta: "", env: "ORYX_PROXY_PROTOCOL", boolean: true,
    default: false, defaultText: "off", parse: parseBoolean,
    help: "Read a PROXY protocol header (v1 or v2) at the start of connections from trusted peers (--forwarded-allow-ips); refuse one from anyone else.",
  },
  {
    key: "metricsBind", flag: "metrics-bind", meta: "HOST:PORT", env: "ORYX_METRICS_BIND",
    default: "", defaultText: "off", parse: parseMetricsBind,
    help: "Serve the admin listener here, from the master, apart from the app's addresses: GET /metrics (Prometheus text format, summed over the workers), /healthz (200 while at least one worker is ready) and /readyz (200 while ready and not stopping). A bare PORT listens on 127.0.0.1. Workers count requests only when this is set.",
  },
  {
    key: "shutdownDelay", flag: "shutdown-delay", meta: "DURATION", env: "ORYX_SHUTDOWN_DELAY",
    default: 0, defaultText: "0", parse: parseDuration(0, DAY),
    help: "On SIGTERM, /readyz fails at once but the workers go on serving (new connections too) for this long before the graceful stop begins, so a load balancer or Kubernetes stops sending first. A second SIGTERM, or SIGINT, starts the stop at once.",
  },
  {
    key: "maxWorkerMemory", flag: "max-worker-memory", meta: "SIZE", env: "ORYX_MAX_WORKER_MEMORY",
    default: 0, defaultText: "0 (no limit)", parse: parseSize(0, 2 ** 50),
    help: "A worker whose resident memory (RSS, as it reports on its heartbeat) passes SIZE retires gracefully, its replacement started first, as with --max-requests. 0 turns this off.",
  },
  {
    key: "reload", flag: "reload", meta: "", env: "ORYX_RELOAD", boolean: true,
    default: false, defaultText: "off", parse: parseBoolean,
    help: "Development: watch the app's directory (and --reload-dir, and the config file) and replace the workers gracefully when a file changes. An edit that does not load leaves the old workers serving. node_modules and dot-folders are never watched.",
  },
  {
    key: "reloadDir", flag: "reload-dir", meta: "DIR", env: "ORYX_RELOAD_DIR", multiple: true,
    default: [], defaultText: "the app's directory", parse: (raw) => raw,
    help: "With --reload, the directories to watch in place of the app's. Repeat, or separate with commas, for several.",
  },
  {
    key: "reloadInclude", flag: "reload-include", meta: "GLOB", env: "ORYX_RELOAD_INCLUDE", multiple: true,
    default: ["*.ts", "*.mts", "*.cts", "*.tsx", "*.js", "*.mjs", "*.cjs", "*.jsx", "*.json"], defaultText: "*.ts,*.mts,*.cts,*.tsx,*.js,*.mjs,*.cjs,*.jsx,*.json", parse: glob,
    help: "With --reload, the files whose change reloads: globs matched against the file name, or against the path from the watched directory when the glob has a /. Given, it replaces the default list.",
  },
  {
    key: "reloadExclude", flag: "reload-exclude", meta: "GLOB", env: "ORYX_RELOAD_EXCLUDE", multiple: true,
    default: [], defaultText: "none", parse: glob,
    help: "With --reload, files to ignore even if --reload-include matches them (same matching). node_modules and dot-folders are ignored whatever this says.",
  },
  {
    key: "wsMaxMessage", flag: "ws-max-message", meta: "SIZE", env: "ORYX_WS_MAX_MESSAGE",
    default: 16 * 1024 ** 2, defaultText: "16 MiB", parse: parseSize(125, 2 ** 40),
    help: "Largest WebSocket message a client may send (all its fragments together); a larger one closes the socket with 1009. An app's websocket.maxPayloadLength overrides it (Bun's default is also 16 MiB).",
  },
  {
    key: "wsIdleTimeout", flag: "ws-idle-timeout", meta: "DURATION", env: "ORYX_WS_IDLE_TIMEOUT",
    default: 120_000, defaultText: "120s", parse: parseDuration(0, DAY),
    help: "A WebSocket whose client sent nothing for this long is pinged, and closed (1001) if it still sends nothing for as long again. 0: never. An app's websocket.idleTimeout (seconds) overrides it.",
  },
  {
    key: "wsBackpressureLimit", flag: "ws-backpressure-limit", meta: "SIZE", env: "ORYX_WS_BACKPRESSURE_LIMIT",
    default: 16 * 1024 ** 2, defaultText: "16 MiB", parse: parseSize(1024, 2 ** 40),
    help: "Most bytes queued for one WebSocket client that does not read; past it, send() drops messages and returns 0 (or closes with 1008 if the app's websocket.closeOnBackpressureLimit is set). An app's websocket.backpressureLimit overrides it.",
  },
];

export function defaultSettings(): Settings {
  const s = {} as Record<string, unknown>;
  for (const spec of SETTINGS) s[spec.key] = structuredClone(spec.default);
  return s as unknown as Settings;
}

/** Checks that hold between settings (each value alone was checked by its parser). Throws UsageError. */
export function checkSettings(s: Settings): void {
  if ((s.certfile === "") !== (s.keyfile === "")) {
    throw new UsageError(s.certfile === "" ? "--keyfile needs --certfile" : "--certfile needs --keyfile");
  }
  if (s.caCerts !== "" && s.certfile === "") throw new UsageError("--ca-certs needs --certfile and --keyfile");
  if (!s.reload && (s.reloadDir.length > 0)) throw new UsageError("--reload-dir needs --reload");
}
