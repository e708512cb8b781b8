/**
 * The compatibility suite's harness: serve one app file twice, under oryx's CLI with two workers and on the
 * server its docs use (srvx, @hono/node-server or node:http, through apps/run-usual.ts), send each case's request
 * to both, and compare what came back: status, the headers that matter (content-type, location, each Set-Cookie,
 * x-*, access-control-*, and what a case names) and the body's bytes. A mismatch fails with a readable diff.
 *
 * Every process started here is killed by pid in `after()` (oryx through test/support/pool.ts's launch/cleanup).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureBuilt, ROOT } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { cleanup, launch, LOCAL, type Oryx, stop, workersGone } from "../support/pool.ts";
import { parseResponses, type ParsedResponse } from "../support/response.ts";

export { ROOT };

export const APPS = path.join(path.dirname(fileURLToPath(import.meta.url)), "apps");
/** An app file under test/compat/apps, relative to the repository (as the CLI is given it). */
export const appPath = (name: string): string => path.relative(ROOT, path.join(APPS, name));

export type UsualKind = "srvx" | "hono-node" | "node";

// ─── the servers ────────────────────────────────────────────────────────────────────────────────────────────

export interface Usual {
  proc: ChildProcess;
  kind: UsualKind;
  port: number;
  stderr(): string;
  exited: Promise<number | null>;
}

const usuals = new Set<Usual>();

/** Starts `app` on its usual server (apps/run-usual.ts) and waits for the port it printed. */
export async function startUsual(app: string, kind: UsualKind, timeoutMs = 30_000): Promise<Usual> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(APPS, "run-usual.ts"), app, kind], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const u: Usual = { proc, kind, port: 0, stderr: () => err, exited };
  usuals.add(u);
  void exited.then(() => usuals.delete(u));
  u.port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${app} on ${kind} did not start in ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    proc.stdout!.on("data", () => {
      const m = /^PORT (\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${app} on ${kind} exited with ${code} before listening; stderr: ${err}`));
    });
  });
  return u;
}

/** Stops a usual server by its pid (SIGKILL if it has not gone in 5 s). */
export async function stopUsual(u: Usual): Promise<void> {
  if (u.proc.exitCode !== null || u.proc.signalCode !== null) return;
  u.proc.kill("SIGTERM");
  const timer = setTimeout(() => u.proc.kill("SIGKILL"), 5000);
  await u.exited;
  clearTimeout(timer);
}

const oryxes = new Set<Oryx>();

/** Starts `app` under oryx's CLI: `-w workers -b 127.0.0.1:0`. */
export async function startOryx(app: string, workers = 2, extra: string[] = []): Promise<Oryx> {
  ensureBuilt();
  const o = await launch([app, "-w", String(workers), ...LOCAL, ...extra], { timeoutMs: 20_000 });
  oryxes.add(o);
  return o;
}

/** Stops oryx with SIGTERM, and SIGKILL after 5 s (an exchange the app never finished would hold a graceful stop for 30 s). */
export async function stopOryx(o: Oryx): Promise<void> {
  oryxes.delete(o);
  if (o.proc.exitCode === null && o.proc.signalCode === null) await stop(o, "SIGTERM", 5000);
  // After a SIGKILL the workers take a moment to go; cleanup() would count them as survivors.
  await workersGone(o, 5000);
}

/**
 * For a file's `after()`: stops every usual server and every oryx started by this process, by pid (oryx
 * gracefully first, so its workers have exited before pool.ts's cleanup() looks for survivors).
 */
export async function stopAll(): Promise<void> {
  await Promise.all([...[...usuals].map((u) => stopUsual(u)), ...[...oryxes].map((o) => stopOryx(o))]);
  await cleanup();
}

// ─── one exchange ───────────────────────────────────────────────────────────────────────────────────────────

export interface Reply {
  /** 0 when no response came (see `error`). */
  status: number;
  statusText: string;
  /** Header fields but Set-Cookie, lowercase names; several fields of one name joined by ", ". */
  headers: Map<string, string>;
  /** Each Set-Cookie field, in order. */
  setCookie: string[];
  body: Buffer;
  /** Why no response came: a network error or "timeout". */
  error?: string;
  /** Raw exchanges only: every field as sent (lowercase names), for framing checks. */
  fields?: Record<string, string[]>;
  /** Raw exchanges only: the client's port on 127.0.0.1 (what the server should see as the peer's port). */
  clientPort?: number;
}

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Over a raw socket (Connection: close), for cases about the bytes on the wire: framing, HEAD. */
  raw?: boolean;
  timeoutMs?: number;
}

/** Sends `spec` to 127.0.0.1:`port` (fetch with redirect: "manual", or a raw socket). */
export async function send(port: number, spec: RequestSpec): Promise<Reply> {
  return spec.raw ? sendRaw(port, spec) : sendFetch(port, spec);
}

async function sendFetch(port: number, spec: RequestSpec): Promise<Reply> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${spec.path}`, {
      method: spec.method ?? "GET",
      headers: spec.headers,
      body: spec.body,
      redirect: "manual",
      signal: AbortSignal.timeout(spec.timeoutMs ?? 10_000),
    });
    const headers = new Map<string, string>();
    for (const [k, v] of res.headers) if (k !== "set-cookie") headers.set(k, v);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, statusText: res.statusText, headers, setCookie: res.headers.getSetCookie(), body };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? "timeout" : `${e.message}${e.cause ? ` (${e.cause.code ?? e.cause.message})` : ""}`;
    return { status: 0, statusText: "", headers: new Map(), setCookie: [], body: Buffer.alloc(0), error: why };
  }
}

async function sendRaw(port: number, spec: RequestSpec): Promise<Reply> {
  const method = spec.method ?? "GET";
  const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
  const lines = [`${method} ${spec.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
  for (const [k, v] of Object.entries(spec.headers ?? {})) lines.push(`${k}: ${v}`);
  if (spec.body !== undefined) lines.push(`Content-Length: ${body.length}`);
  const r = await raw(port, [Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body])], { timeoutMs: spec.timeoutMs ?? 10_000 });
  const empty = { status: 0, statusText: "", headers: new Map<string, string>(), setCookie: [], body: Buffer.alloc(0), clientPort: r.localPort };
  if (!r.closed) return { ...empty, error: `no EOF in time; got ${JSON.stringify(r.text.slice(0, 300))}` };
  if (r.text === "") return { ...empty, error: r.reset ? "connection reset without a response" : "EOF without a response" };
  const parsed = parseOne(Buffer.from(r.text, "latin1"), method === "HEAD");
  if (typeof parsed === "string") return { ...empty, error: `${parsed}: ${JSON.stringify(r.text.slice(0, 400))}` };
  return { ...parsed, clientPort: r.localPort };
}

/**
 * Reads exactly one HTTP/1.1 response that fills `buf` (the connection closed after it): framed by
 * Content-Length, chunked, or by the close. A string says why not: malformed, incomplete, bytes after it, …
 */
export function parseOne(buf: Buffer, head: boolean): Reply | string {
  let rs: ParsedResponse[];
  try {
    rs = parseResponses(buf, head ? 1 : 0);
  } catch (err) {
    return (err as Error).message;
  }
  if (rs.length !== 1) return `${rs.length} responses where one was expected`;
  const r = rs[0]!;
  const te = r.headers["transfer-encoding"];
  if (te !== undefined && te.join(",").toLowerCase().trim() !== "chunked") return `unexpected Transfer-Encoding ${te}`;
  const headers = new Map<string, string>();
  for (const [k, vs] of Object.entries(r.headers)) if (k !== "set-cookie") headers.set(k, vs.join(", "));
  return { status: r.status, statusText: r.reason, headers, setCookie: r.headers["set-cookie"] ?? [], body: Buffer.from(r.body, "latin1"), fields: r.headers };
}

// ─── comparing ──────────────────────────────────────────────────────────────────────────────────────────────

export interface Case extends RequestSpec {
  name: string;
  /** More header names to compare (beside content-type, location, set-cookie, x-* and access-control-*). */
  compareHeaders?: string[];
  /** Header names not to compare (a value that differs run to run, such as a timing). */
  ignoreHeaders?: string[];
  /** Compare the reason phrase too. */
  statusText?: boolean;
  /**
   * How to compare bodies: "bytes" (the default), "ignore", or a function mapping a body (as UTF-8 text, with
   * each server's origin already written as http://ORIGIN) to what is compared, for parts that differ by design
   * (a multipart boundary, a timestamp).
   */
  bodyAs?: "bytes" | "ignore" | ((body: string, reply: Reply) => string);
  /**
   * Asserted on both replies (so a wrong expectation shows on the usual server too), after the comparison. Gets
   * the reply (origin-normalized) and the port of the server that sent it (to check it keeps serving).
   */
  expect?: (r: Reply, port: number, who: string) => void | Promise<void>;
  /**
   * Set when the usual server is not the reference for this case (the reason is the test's diagnostic): only
   * `expect` is asserted on oryx's reply, and the usual server's reply is shown for information.
   */
  oryxOnly?: string;
}

/** What each server's own origin is written as, in header values and bodies, so the two can be compared. */
export const ORIGIN = "http://ORIGIN";

/** Rewrites `http://127.0.0.1:PORT` (and the bare host) to ORIGIN in headers and body. */
export function normalizeOrigin(r: Reply, port: number): Reply {
  const from = `http://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  const fix = (s: string): string => s.split(from).join(ORIGIN).split(host).join("ORIGIN");
  const headers = new Map<string, string>();
  for (const [k, v] of r.headers) headers.set(k, fix(v));
  const body = r.body.includes(host) ? Buffer.from(fix(r.body.toString("latin1")), "latin1") : r.body;
  return { ...r, headers, setCookie: r.setCookie.map(fix), body };
}

const DEFAULT_HEADERS = ["content-type", "location"];
const comparedByPrefix = (name: string): boolean => name.startsWith("x-") || name.startsWith("access-control-");

function show(s: string | undefined, max = 300): string {
  if (s === undefined) return "(none)";
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}… (${s.length} chars)` : JSON.stringify(s);
}

function bodyText(b: Buffer): string {
  return b.toString("utf8");
}

/**
 * Content-Type values that mean the same: "text/plain;charset=UTF-8" (undici's) and "text/plain; charset=utf-8"
 * (srvx's): type, subtype, parameter names and the charset are case-insensitive, and space around ";" is not
 * significant (RFC 9110, section 8.3.1).
 */
export function sameMediaType(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const norm = (v: string): string =>
    v
      .split(";")
      .map((p) => p.trim())
      .map((p, i) => (i === 0 ? p.toLowerCase() : p.replace(/^([^=]+)=(.*)$/, (_m, k: string, val: string) => `${k.toLowerCase()}=${k.toLowerCase() === "charset" ? val.toLowerCase() : val}`)))
      .join(";");
  return norm(a) === norm(b);
}

/** The differences between oryx's reply `a` and the usual server's `b`, as lines; empty when they agree. */
export function differences(c: Case, a: Reply, b: Reply, names: [string, string]): string[] {
  const [na, nb] = names;
  const out: string[] = [];
  if (a.error !== undefined || b.error !== undefined) {
    // Both failing is agreement (the error texts are each client's own words for a cut connection).
    if (a.error === undefined || b.error === undefined) {
      out.push(`no complete response: ${na} ${a.error ?? `(answered ${a.status})`}, ${nb} ${b.error ?? `(answered ${b.status})`}`);
    }
    return out;
  }
  if (a.status !== b.status) out.push(`status: ${na} ${a.status}, ${nb} ${b.status}`);
  if (c.statusText && a.statusText !== b.statusText) out.push(`status text: ${na} ${show(a.statusText)}, ${nb} ${show(b.statusText)}`);
  const ignore = new Set((c.ignoreHeaders ?? []).map((h) => h.toLowerCase()));
  const names2 = new Set([...DEFAULT_HEADERS, ...(c.compareHeaders ?? []).map((h) => h.toLowerCase())]);
  for (const k of [...a.headers.keys(), ...b.headers.keys()]) if (comparedByPrefix(k)) names2.add(k);
  for (const k of [...names2].sort()) {
    if (ignore.has(k)) continue;
    const va = a.headers.get(k);
    const vb = b.headers.get(k);
    const same = k === "content-type" ? sameMediaType(va, vb) : va === vb;
    if (!same) out.push(`header ${k}: ${na} ${show(va)}, ${nb} ${show(vb)}`);
  }
  if (!ignore.has("set-cookie") && JSON.stringify(a.setCookie) !== JSON.stringify(b.setCookie)) {
    out.push(`set-cookie: ${na} ${JSON.stringify(a.setCookie)}, ${nb} ${JSON.stringify(b.setCookie)}`);
  }
  const how = c.bodyAs ?? "bytes";
  if (how === "bytes") {
    if (!a.body.equals(b.body)) {
      let i = 0;
      while (i < a.body.length && i < b.body.length && a.body[i] === b.body[i]) i++;
      out.push(
        `body: ${na} ${show(bodyText(a.body))} (${a.body.length} bytes), ${nb} ${show(bodyText(b.body))} (${b.body.length} bytes); first difference at byte ${i}`,
      );
    }
  } else if (how !== "ignore") {
    const ta = how(bodyText(a.body), a);
    const tb = how(bodyText(b.body), b);
    if (ta !== tb) out.push(`body (as compared): ${na} ${show(ta, 600)}, ${nb} ${show(tb, 600)}`);
  }
  return out;
}

/** A one-line summary of a reply, for diagnostics. */
export function summary(r: Reply): string {
  if (r.error !== undefined) return `no response (${r.error})`;
  const h = [...r.headers].map(([k, v]) => `${k}: ${v}`).join("; ");
  return `${r.status} ${r.statusText} [${h}${r.setCookie.length ? `; set-cookie: ${JSON.stringify(r.setCookie)}` : ""}] ${show(bodyText(r.body), 200)}`;
}

export interface Pair {
  oryx: Oryx;
  usual: Usual;
}

/** Runs one case against both servers: compares, then asserts `expect` on each reply. */
export async function runCase(pair: Pair, c: Case, t?: { diagnostic(msg: string): void }): Promise<void> {
  const what = `${c.method ?? "GET"} ${c.path}`;
  const usualName = pair.usual.kind;
  const [a0, b0] = await Promise.all([send(pair.oryx.port, c), send(pair.usual.port, c)]);
  const a = normalizeOrigin(a0, pair.oryx.port);
  const b = normalizeOrigin(b0, pair.usual.port);
  if (c.oryxOnly !== undefined) {
    t?.diagnostic(`not compared with ${usualName}: ${c.oryxOnly}`);
    t?.diagnostic(`${usualName} answered: ${summary(b)}`);
    t?.diagnostic(`oryx answered: ${summary(a)}`);
    assert.ok(c.expect, `case ${c.name} is oryx-only and must have an expect()`);
    await expectOn(c, a, pair.oryx.port, "oryx");
    return;
  }
  const diff = differences(c, a, b, ["oryx", usualName]);
  if (diff.length > 0) {
    assert.fail(`${what}: oryx (2 workers) and ${usualName} differ:\n  ${diff.join("\n  ")}\n  oryx:  ${summary(a)}\n  ${usualName}: ${summary(b)}`);
  }
  if (c.expect) {
    // The usual server first: a failure there is a wrong expectation, not an oryx bug.
    await expectOn(c, b, pair.usual.port, usualName);
    await expectOn(c, a, pair.oryx.port, "oryx");
  }
}

/** Runs the case's expect() on one reply; a failure names the server and shows the reply. */
async function expectOn(c: Case, r: Reply, port: number, who: string): Promise<void> {
  try {
    await c.expect!(r, port, who);
  } catch (err) {
    if (err instanceof Error) err.message = `[${who}] ${c.method ?? "GET"} ${c.path}: ${err.message}\n  ${who} answered: ${summary(r)}`;
    throw err;
  }
}

export interface SuiteOptions {
  /** The app file under test/compat/apps. */
  app: string;
  usual: UsualKind;
  workers?: number;
}

/**
 * A describe() block for one app: starts oryx (-w 2) and the usual server once (before), runs every case
 * concurrently, checks at the end that oryx's master and workers are the ones it started with (no worker died on
 * the way), and stops both (after). `more` may add tests of its own; it gets the pair once started.
 */
export function compatSuite(title: string, opts: SuiteOptions, cases: Case[], more?: (pair: () => Pair) => void): void {
  describe(title, () => {
    let pair: Pair | undefined;
    let startError: Error | undefined;
    let workersAtStart: number[] = [];
    before(async () => {
      // A server that does not start fails every case with the reason (a failing before() would only cancel them).
      const [oryx, usual] = await Promise.allSettled([startOryx(appPath(opts.app), opts.workers ?? 2), startUsual(appPath(opts.app), opts.usual)]);
      if (oryx.status === "fulfilled" && usual.status === "fulfilled") {
        pair = { oryx: oryx.value, usual: usual.value };
        workersAtStart = oryx.value.workers();
      } else {
        const why = [oryx, usual].filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => (r.reason as Error).message);
        startError = new Error(why.join("\n"));
      }
    });
    after(async () => {
      if (pair) await Promise.all([stopOryx(pair.oryx), stopUsual(pair.usual)]);
      await stopAll();
    });
    const get = (): Pair => {
      if (!pair) throw startError ?? new Error("the servers did not start");
      return pair;
    };
    describe("cases", { concurrency: true }, () => {
      for (const c of cases) test(c.name, (t) => runCase(get(), c, t));
    });
    more?.(get);
    test("afterwards: oryx still runs with the same workers (none died or was replaced)", async () => {
      const p = get();
      assert.equal(p.oryx.proc.exitCode, null, `oryx exited; stderr:\n${p.oryx.stderr()}`);
      assert.deepEqual(p.oryx.workers(), workersAtStart, `oryx's workers changed; stderr:\n${p.oryx.stderr()}`);
      assert.equal(p.usual.proc.exitCode, null, `${p.usual.kind} exited; stderr:\n${p.usual.stderr()}`);
    });
  });
}

// ─── small helpers for cases ────────────────────────────────────────────────────────────────────────────────

/** The body parsed as JSON (with the body in the message if it is not JSON). */
export function json(r: Reply): unknown {
  try {
    return JSON.parse(r.body.toString("utf8"));
  } catch {
    assert.fail(`not JSON: ${summary(r)}`);
  }
}

/** GET `path` on `port` answers `status` (the server keeps serving after a failed request). */
export async function stillServes(port: number, who: string, path = "/", status = 200): Promise<void> {
  const r = await send(port, { path });
  assert.equal(r.status, status, `${who} still serves ${path} afterwards: ${summary(r)}`);
}
