/**
 * `oryx bench` command line: node:util parseArgs, then every value checked. A bad flag is one sentence in a
 * BenchUsageError (the CLI prints it and exits 2).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { OryxError } from "../errors.ts";

/** A bad `oryx bench` flag or target: one sentence; the CLI prints it and exits 2. */
export class BenchUsageError extends OryxError {
  constructor(message: string) {
    super("ORYX_ERR_BENCH_USAGE", message);
    this.name = "BenchUsageError";
  }
}

/** Options shared by the load mode and client3 mode. */
export interface Target {
  /** The URL as given. */
  url: string;
  /** Host name or address from the URL (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** Value of the Host header (URL host, with the port unless it is 80). */
  host: string;
  /** Request target: path and query. */
  path: string;
}

export interface RequestSpec {
  method: string;
  /** Extra header lines as given, "Name: value". */
  headers: string[];
  body: Buffer | null;
}

export interface LoadOptions {
  mode: "load";
  target: Target;
  request: RequestSpec;
  connections: number;
  /** Seconds of measurement, or null when `requests` bounds the run. */
  duration: number | null;
  requests: number | null;
  /** Requests per second across all connections and threads, or null for as fast as responses come. */
  rate: number | null;
  pipelining: number;
  /** Seconds. */
  timeout: number;
  /** Seconds. */
  warmup: number;
  threads: number;
  json: boolean;
  allowRemote: boolean;
}

export interface Client3Options {
  mode: "client3";
  target: Target;
  request: RequestSpec;
  maxClients: number;
  maxConns: number;
  /** Seconds the connections are held open once every one of them has been tried. */
  hold: number;
  /** Seconds a connect may take. */
  timeout: number;
  json: boolean;
  allowRemote: boolean;
}

export type BenchCommand = { mode: "help" } | LoadOptions | Client3Options;

export const BENCH_HELP = `Usage: oryx bench URL [options]

Load an HTTP/1.1 server with keep-alive connections and report requests/s, bytes/s, latency percentiles,
status codes and errors. Only loopback targets (127.0.0.0/8, ::1, localhost) unless --allow-remote.

Load:
  -c, --connections N     keep-alive connections (default 50)
  -d, --duration SECONDS  how long to measure (default 10; also 500ms, 2m)
  -n, --requests N        stop after N requests instead of after a duration
      --rate R            send R requests/s in total at fixed intervals; latency counts from each request's
                          intended send time, so a slow server cannot hide its queueing (coordinated omission)
  -p, --pipelining N      requests in flight on each connection (default 1)
  -t, --threads N         worker threads; connections are spread over them and results merged (default 1)
      --warmup SECONDS    load for this long first without counting (default 0)
      --timeout SECONDS   longest wait for a response (default 10)

Request:
  -m, --method METHOD     request method (default GET)
  -H, --header 'N: V'     add a header field; repeatable
      --body TEXT         request body (sent with Content-Length)
      --body-file FILE    request body read from FILE

client3 mode (many clients, each opening connections one after another):
      --max-clients N     clients (default 1), each opening --max-conns connections one after another
      --max-conns M       connections per client (default 1024)
      --hold SECONDS      keep every connection open this long once all were tried (default 5)
  Each connection sends one request; replies are read. --timeout bounds each connect.

Output:
      --json              print one JSON object instead of the report
      --allow-remote      allow a target that is not a loopback address
  -h, --help              print this help

Exit codes: 0 the run finished (errors are in the report), 1 unexpected failure, 2 usage error or refused target.
`;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function positiveInt(name: string, value: string | undefined, fallback: number, max = 1_000_000_000): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new BenchUsageError(`${name} takes a whole number from 1 to ${max}, not '${value}'.`);
  }
  return Number(value);
}

/** Seconds: "5", "0.5", "500ms", "5s", "2m". */
export function parseSeconds(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m)?$/.exec(value.trim());
  const n = m ? Number(m[1]) * (m[2] === "ms" ? 0.001 : m[2] === "m" ? 60 : 1) : NaN;
  if (!Number.isFinite(n) || n > 86_400 || (n === 0 && !allowZero)) {
    throw new BenchUsageError(`${name} takes ${allowZero ? "a" : "a positive"} number of seconds (or 500ms, 2m), not '${value}'.`);
  }
  return n;
}

export function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BenchUsageError(`'${url}' is not a URL; give one like http://127.0.0.1:8888/.`);
  }
  if (u.protocol !== "http:") throw new BenchUsageError(`only http:// URLs can be loaded, not '${url}'.`);
  if (u.username !== "" || u.password !== "") throw new BenchUsageError(`the URL must not carry a user name or password.`);
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === "" ? 80 : Number(u.port);
  return { url, hostname, port, host: u.host, path: `${u.pathname}${u.search}` };
}

function parseHeaders(list: string[]): string[] {
  for (const h of list) {
    const i = h.indexOf(":");
    const name = i < 0 ? "" : h.slice(0, i);
    if (!TOKEN.test(name) || !FIELD_VALUE.test(h.slice(i + 1))) {
      throw new BenchUsageError(`-H takes 'Name: value' with a token name and no control characters, not '${h}'.`);
    }
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") {
      throw new BenchUsageError(`-H ${name} is not allowed: oryx bench sets the body's Content-Length itself.`);
    }
  }
  return list.map((h) => {
    const i = h.indexOf(":");
    return `${h.slice(0, i)}: ${h.slice(i + 1).trim()}`;
  });
}

export function parseBenchArgs(argv: string[]): BenchCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        connections: { type: "string", short: "c" },
        duration: { type: "string", short: "d" },
        requests: { type: "string", short: "n" },
        rate: { type: "string" },
        pipelining: { type: "string", short: "p" },
        method: { type: "string", short: "m" },
        header: { type: "string", short: "H", multiple: true },
        body: { type: "string" },
        "body-file": { type: "string" },
        timeout: { type: "string" },
        warmup: { type: "string" },
        threads: { type: "string", short: "t" },
        json: { type: "boolean" },
        "allow-remote": { type: "boolean" },
        "max-clients": { type: "string" },
        "max-conns": { type: "string" },
        hold: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    // parseArgs's messages run to several sentences and lines ("Unknown option '--x'. To specify ..."): keep the first.
    const msg = err instanceof Error ? err.message.split("\n")[0]!.split(". ")[0]!.replace(/\.$/, "") : String(err);
    throw new BenchUsageError(`${msg}.`);
  }
  const v = parsed.values;
  if (v.help) return { mode: "help" };
  if (parsed.positionals.length !== 1) {
    throw new BenchUsageError(parsed.positionals.length === 0 ? "give the URL to load, e.g. oryx bench http://127.0.0.1:8888/." : `give one URL, not ${parsed.positionals.length} (${parsed.positionals.join(" ")}).`);
  }
  const target = parseTarget(parsed.positionals[0]!);

  const method = v.method ?? "GET";
  if (!TOKEN.test(method)) throw new BenchUsageError(`-m takes a method token such as GET or POST, not '${method}'.`);
  if (v.body !== undefined && v["body-file"] !== undefined) throw new BenchUsageError("give --body or --body-file, not both.");
  let body: Buffer | null = null;
  if (v.body !== undefined) body = Buffer.from(v.body, "utf8");
  if (v["body-file"] !== undefined) {
    try {
      body = readFileSync(v["body-file"]);
    } catch (err) {
      throw new BenchUsageError(`cannot read --body-file ${v["body-file"]}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`);
    }
  }
  const request: RequestSpec = { method, headers: parseHeaders(v.header ?? []), body };
  const timeout = parseSeconds("--timeout", v.timeout, 10);
  const json = v.json ?? false;
  const allowRemote = v["allow-remote"] ?? false;

  if (v["max-clients"] !== undefined || v["max-conns"] !== undefined) {
    const loadFlags = (["connections", "duration", "requests", "rate", "pipelining", "warmup", "threads"] as const).filter((k) => v[k] !== undefined);
    if (loadFlags.length > 0) throw new BenchUsageError(`--${loadFlags[0]} does not apply to client3 mode (--max-clients/--max-conns).`);
    return {
      mode: "client3",
      target,
      request,
      maxClients: positiveInt("--max-clients", v["max-clients"], 1, 100_000),
      maxConns: positiveInt("--max-conns", v["max-conns"], 1024, 1_000_000),
      hold: parseSeconds("--hold", v.hold, 5, true),
      timeout,
      json,
      allowRemote,
    };
  }
  if (v.hold !== undefined) throw new BenchUsageError("--hold applies only to client3 mode (--max-clients/--max-conns).");
  if (v.duration !== undefined && v.requests !== undefined) throw new BenchUsageError("give -d/--duration or -n/--requests, not both.");
  const requests = v.requests === undefined ? null : positiveInt("-n/--requests", v.requests, 0);
  const duration = requests !== null ? null : parseSeconds("-d/--duration", v.duration, 10);
  let rate: number | null = null;
  if (v.rate !== undefined) {
    rate = Number(v.rate);
    if (!/^\d+(\.\d+)?$/.test(v.rate) || !(rate > 0) || rate > 10_000_000) throw new BenchUsageError(`--rate takes a positive number of requests per second, not '${v.rate}'.`);
  }
  const connections = positiveInt("-c/--connections", v.connections, 50, 1_000_000);
  const threads = positiveInt("-t/--threads", v.threads, 1, 256);
  return {
    mode: "load",
    target,
    request,
    connections,
    duration,
    requests,
    rate,
    pipelining: positiveInt("-p/--pipelining", v.pipelining, 1, 1024),
    timeout,
    warmup: parseSeconds("--warmup", v.warmup, 0, true),
    // A thread without a connection would do nothing.
    threads: Math.min(threads, connections),
    json,
    allowRemote,
  };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (address literals only). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  if (a === "::1" || a === "0:0:0:0:0:0:0:1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
