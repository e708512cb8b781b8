import { AccessFormatError } from "../errors.ts";
import type { AccessRecord } from "../gateway/exchange.ts";

/**
 * Access-log formats: the named ones (combined, common, json) and format strings of Apache mod_log_config
 * directives. A format is compiled once into a list of literal strings and small functions; formatting a record
 * then only calls them and joins the results (no parsing, no regular expression over the format per request).
 */

export { AccessFormatError };

export type AccessFormatter = (record: AccessRecord) => string;

/** The named formats that are format strings (`json` is built in code). */
export const NAMED_FORMATS: ReadonlyMap<string, string> = new Map([
  ["combined", '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'],
  ["common", '%h %l %u %t "%r" %>s %b'],
]);

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

let clfSecond = -1;
let clfText = "";
/** `[22/Nov/2026:10:00:00 +0000]`: the Common Log Format time, always in UTC (formatted once a second). */
export function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === clfSecond) return clfText;
  const d = new Date(second * 1000);
  const p = (n: number): string => (n < 10 ? `0${n}` : String(n));
  clfText = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
  clfSecond = second;
  return clfText;
}

// Quotes, backslashes, controls, DEL and everything beyond ASCII.
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;
const ESCAPE_ALL = /["\\\x00-\x1f\x7f-\xff]|[\u0100-\uffff]/g;

function escapeChar(c: string): string {
  if (c === '"') return '\\"';
  if (c === "\\") return "\\\\";
  const code = c.charCodeAt(0);
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
  // Beyond latin1 (a Node app's URL, say): its UTF-8 bytes, each escaped.
  let out = "";
  for (const b of Buffer.from(c, "utf8")) out += `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

/**
 * Client-controlled text goes into the log escaped, so nobody can forge a log line: `"` and `\` get a backslash,
 * control bytes, DEL and bytes beyond ASCII become `\xHH`.
 */
export function escapeLogText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, escapeChar) : s;
}

/** A request header's value (several copies joined with ", "), or undefined; `name` is lowercase. */
function headerValue(headers: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) value = value === undefined ? headers[i + 1]! : `${value}, ${headers[i + 1]!}`;
  }
  return value;
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

type Part = string | AccessFormatter;

const dash = (s: string): string => (s === "" ? "-" : s);

/** The directives without a `{argument}`. */
const SIMPLE = new Map<string, AccessFormatter>(Object.entries({
  h: (r) => dash(escapeLogText(r.info.remoteAddress ?? "")),
  a: (r) => dash(escapeLogText(r.info.remoteAddress ?? "")),
  l: () => "-",
  u: () => "-",
  t: (r) => clfTime(r.startedAt),
  r: (r) => `${escapeLogText(r.head.method)} ${escapeLogText(r.head.target)} HTTP/1.${r.head.versionMinor}`,
  m: (r) => escapeLogText(r.head.method),
  U: (r) => escapeLogText(pathOf(r.head.target)),
  q: (r) => {
    const q = r.head.target.indexOf("?");
    return q < 0 ? "" : `?${escapeLogText(r.head.target.slice(q + 1))}`;
  },
  H: (r) => `HTTP/1.${r.head.versionMinor}`,
  s: (r) => (r.status > 0 ? String(r.status) : "-"),
  b: (r) => (r.bytes > 0 ? String(r.bytes) : "-"),
  B: (r) => String(r.bytes),
  D: (r) => String(Math.round(r.durationMs * 1000)),
  T: (r) => String(Math.floor(r.durationMs / 1000)),
  p: (r) => String(r.info.localPort ?? 0),
  P: () => String(process.pid),
} satisfies Record<string, AccessFormatter>));

/** `%{UNIT}T`: the duration in seconds (as %T), milliseconds or microseconds (as %D). */
const DURATION_UNITS = new Map<string, AccessFormatter>([
  ["s", SIMPLE.get("T")!],
  ["ms", (r) => String(Math.round(r.durationMs))],
  ["us", SIMPLE.get("D")!],
]);

function parseFormat(format: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  const quoted = JSON.stringify(format);
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf("%", i);
    if (pct < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    let j = pct + 1;
    if (j >= format.length) throw new AccessFormatError(`the access-log format ends with a lone % in ${quoted} (write %% for a literal %)`);
    if (format[j] === "%") {
      literal += "%";
      i = j + 1;
      continue;
    }
    let arg: string | undefined;
    if (format[j] === "{") {
      const close = format.indexOf("}", j + 1);
      if (close < 0) throw new AccessFormatError(`unterminated access-log directive ${format.slice(pct)} in ${quoted} (a %{ without its })`);
      arg = format.slice(j + 1, close);
      j = close + 1;
    }
    // Apache's %>s (final status) and %<s (original): oryx has one status, so both are %s.
    let modifier = "";
    if (format[j] === ">" || format[j] === "<") modifier = format[j++]!;
    if (j >= format.length) throw new AccessFormatError(`unterminated access-log directive ${format.slice(pct)} in ${quoted} (no directive letter)`);
    const letter = format[j]!;
    const directive = format.slice(pct, j + 1);
    const fn = directiveFor(letter, arg, modifier);
    if (fn === null) throw new AccessFormatError(`unknown access-log directive ${directive} in ${quoted}`);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(fn);
    i = j + 1;
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

function directiveFor(letter: string, arg: string | undefined, modifier: string): AccessFormatter | null {
  if (modifier !== "" && letter !== "s") return null;
  if (arg === undefined) return SIMPLE.get(letter) ?? null;
  if (letter === "i") {
    if (arg === "") return null;
    const name = arg.toLowerCase();
    return (r) => {
      const v = headerValue(r.head.headers, name);
      return v === undefined || v === "" ? "-" : escapeLogText(v);
    };
  }
  if (letter === "T") return DURATION_UNITS.get(arg) ?? null;
  return null;
}

/** The formatter of compiled parts: literals as they are, directives called. */
function joinParts(parts: Part[]): AccessFormatter {
  const n = parts.length;
  if (n === 0) return () => "\n";
  return (r) => {
    let out = "";
    for (let k = 0; k < n; k++) {
      const p = parts[k]!;
      out += typeof p === "string" ? p : p(r);
    }
    return `${out}\n`;
  };
}

/** One JSON object per line. */
function jsonFormatter(): AccessFormatter {
  return (r) => {
    const h = r.head;
    const q = h.target.indexOf("?");
    return `${JSON.stringify({
      time: new Date(r.startedAt).toISOString(),
      pid: process.pid,
      remote_addr: r.info.remoteAddress ?? "",
      remote_port: r.info.remotePort ?? 0,
      method: h.method,
      path: q < 0 ? h.target : h.target.slice(0, q),
      query: q < 0 ? "" : h.target.slice(q + 1),
      protocol: `HTTP/1.${h.versionMinor}`,
      host: h.host,
      status: r.status,
      bytes: r.bytes,
      duration_ms: Math.round(r.durationMs * 1000) / 1000,
      referer: headerValue(h.headers, "referer") ?? "",
      user_agent: headerValue(h.headers, "user-agent") ?? "",
    })}\n`;
  };
}

/**
 * Compiles an access-log format: `combined`, `common`, `json`, or a format string of Apache directives (see the
 * README). The formatter returns the whole line, with its "\n". Throws AccessFormatError for a bad format.
 */
export function compileAccessFormat(format: string): AccessFormatter {
  if (format === "json") return jsonFormatter();
  if (format === "") throw new AccessFormatError('the access-log format is empty (combined, common, json, or a format string such as "%h %r %>s")');
  return joinParts(parseFormat(NAMED_FORMATS.get(format) ?? format));
}
