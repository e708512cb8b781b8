/**
 * The access log and the error log as whole processes (dist/cli.js): --access-log-format json with two workers,
 * read back field by field, then rotated with SIGUSR1; the default (combined) format on stdout; --error-log FILE
 * with the startup line and workers' lines, rotated too; and bad formats and files refused at start. Every process
 * started here is killed by pid in `after`.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { children, signal } from "../support/proc.ts";
import { until, within } from "../support/wait.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "oryx-logs-"));
  dirs.push(dir);
  return dir;
}

/** The non-empty lines of `file` ("" if it does not exist). */
function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
}

/** The paths among `wanted` that `pid` holds open, as /proc shows them. */
function openPaths(pid: number, wanted: string[]): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const t = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (wanted.includes(t)) out.push(t);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "--max-time", "10", ...args], { encoding: "utf8" }, (err, stdout) => {
      if (err && typeof err.code !== "number") reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout });
    });
  });
}

const HAS_CURL = (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(path.join(d, "curl")));

interface JsonLine {
  time: string;
  pid: number;
  remote_addr: string;
  remote_port: number;
  method: string;
  path: string;
  query: string;
  protocol: string;
  host: string;
  status: number;
  bytes: number;
  duration_ms: number;
  referer: string;
  user_agent: string;
}

before(() => ensureBuilt());
after(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) signal(p.pid!, "SIGKILL");
  await cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// ─── --access-log-format json, -w 2, and SIGUSR1 ────────────────────────────────────────────────────────────

describe("--access-log FILE --access-log-format json with two workers", () => {
  test("each request is one JSON line with its fields; SIGUSR1 after a rename moves the workers to a new FILE", async () => {
    const dir = tempDir();
    const file = path.join(dir, "access.log");
    const rotated = `${file}.1`;
    const o = await launch(["test/fixtures/pid.ts", "-w", "2", ...LOCAL, "--access-log", file, "--access-log-format", "json"]);
    try {
      const workers = o.workers();
      assert.equal(workers.length, 2, `two workers: ${workers.join(", ")}`);
      assert.ok(!workers.includes(o.pid));
      const base = `http://127.0.0.1:${o.port}`;

      // Node's fetch (keep-alive), with a Referer and its own User-Agent.
      const startedAt = Date.now();
      const viaFetch: Array<{ target: string; body: string; status: number }> = [];
      for (const target of ["/fetch/one?a=1&b=two", "/fetch/two", "/fetch/three?"]) {
        const res = await fetch(base + target, { headers: { referer: "http://ref.example/page", "user-agent": "fetch-test/1.0" } });
        viaFetch.push({ target, body: await res.text(), status: res.status });
      }
      // curl, with a User-Agent that carries quotes and a backslash, and a Host of its own.
      const UA = 'curl-test/2.0 "quoted" back\\slash';
      assert.ok(HAS_CURL, "curl is needed for this test");
      const c = await curl(["-A", UA, "-H", "Host: curl.example:81", `${base}/curl/path?q=a%20b`]);
      assert.equal(c.code, 0, "curl failed");

      await until(() => lines(file).length >= 4, 5000, "four access-log lines", () => lines(file).join("\n"));
      const got = lines(file).map((l) => JSON.parse(l) as JsonLine);
      assert.equal(got.length, 4, lines(file).join("\n"));

      for (const [i, want] of viaFetch.entries()) {
        const j = got.find((g) => `${g.path}${g.query === "" ? "" : `?${g.query}`}` === want.target.replace(/\?$/, ""))!;
        assert.ok(j, `no line for ${want.target}: ${lines(file).join("\n")}`);
        const q = want.target.indexOf("?");
        assert.equal(j.method, "GET");
        assert.equal(j.path, q < 0 ? want.target : want.target.slice(0, q));
        assert.equal(j.query, q < 0 ? "" : want.target.slice(q + 1));
        assert.equal(j.status, want.status);
        assert.equal(j.status, 200);
        // pid.ts answers with the pid of the worker that served the request: the line's pid is that worker's.
        assert.equal(j.pid, Number(want.body), `request ${i}: the line's pid is not the serving worker's`);
        assert.ok(workers.includes(j.pid), `pid ${j.pid} is not one of the workers ${workers.join(", ")}`);
        assert.notEqual(j.pid, o.pid, "the master wrote an access line");
        assert.equal(j.bytes, Buffer.byteLength(want.body));
        assert.equal(j.remote_addr, "127.0.0.1");
        assert.ok(Number.isInteger(j.remote_port) && j.remote_port > 0 && j.remote_port !== o.port, `remote_port ${j.remote_port}`);
        assert.equal(j.protocol, "HTTP/1.1");
        assert.equal(j.host, `127.0.0.1:${o.port}`);
        assert.equal(j.referer, "http://ref.example/page");
        assert.equal(j.user_agent, "fetch-test/1.0");
        assert.equal(typeof j.duration_ms, "number");
        assert.ok(j.duration_ms >= 0 && j.duration_ms < 10_000, `duration_ms ${j.duration_ms}`);
        assert.match(j.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        const t = Date.parse(j.time);
        assert.ok(t >= startedAt - 1000 && t <= Date.now() + 1000, `time ${j.time}`);
      }
      const cl = got.find((g) => g.path === "/curl/path")!;
      assert.ok(cl, lines(file).join("\n"));
      assert.equal(cl.method, "GET");
      assert.equal(cl.query, "q=a%20b");
      assert.equal(cl.user_agent, UA);
      assert.equal(cl.referer, "");
      assert.equal(cl.host, "curl.example:81");
      assert.equal(cl.status, 200);
      assert.equal(cl.pid, Number(c.stdout));
      assert.equal(cl.bytes, Buffer.byteLength(c.stdout));
      assert.ok(workers.includes(cl.pid));
      assert.equal(cl.remote_addr, "127.0.0.1");

      // Rotate: rename, SIGUSR1 to the master, and every worker reopens FILE.
      const before = readFileSync(file, "utf8");
      renameSync(file, rotated);
      for (const w of workers) assert.deepEqual(openPaths(w, [file, rotated]), [rotated], `worker ${w} before SIGUSR1`);
      const from = o.stderr().length;
      signal(o.pid, "SIGUSR1");
      await o.waitLog(/SIGUSR1: reopening log files/, 5000, "the master's reopen line", from);
      await until(
        () => workers.every((w) => { const f = openPaths(w, [file, rotated]); return f.length === 1 && f[0] === file; }),
        5000,
        "every worker to hold the new file and not the renamed one",
        () => workers.map((w) => `${w}: ${openPaths(w, [file, rotated]).join(", ")}`).join("; "),
      );
      assert.ok(existsSync(file), "FILE was created anew");
      // New connections each time, so both workers are likely to serve some.
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${base}/after-${i}?n=${i}`, { headers: { connection: "close" } });
        assert.equal(res.status, 200);
        await res.text();
      }
      await until(() => lines(file).length >= 6, 5000, "six lines in the new file", () => lines(file).join("\n"));
      const fresh = lines(file).map((l) => JSON.parse(l) as JsonLine);
      assert.deepEqual(fresh.map((j) => `${j.path}?${j.query}`).sort(), [0, 1, 2, 3, 4, 5].map((i) => `/after-${i}?n=${i}`));
      for (const j of fresh) assert.ok(workers.includes(j.pid));
      assert.equal(readFileSync(rotated, "utf8"), before, "the renamed file got lines after SIGUSR1");
    } finally {
      await stop(o);
    }
  });
});

// ─── --access-log - ─────────────────────────────────────────────────────────────────────────────────────────

const COMBINED = /^(\S+) (\S+) (\S+) \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;

describe("--access-log -", () => {
  test("the default format writes combined lines to standard output, and only there", async () => {
    const o = await launch(["examples/hello.ts", ...LOCAL, "--access-log", "-"]);
    try {
      const res = await fetch(`http://127.0.0.1:${o.port}/stdout/x?y=1`, { headers: { referer: "http://r.example/", "user-agent": 'ua "q"' } });
      assert.equal(await res.text(), "Hello, World!");
      await until(() => o.stdout().includes("/stdout/x"), 5000, "the line on stdout", () => o.stdout());
      const out = o.stdout().split("\n").filter((l) => l !== "");
      assert.equal(out.length, 1, o.stdout());
      const m = COMBINED.exec(out[0]!);
      assert.ok(m, out[0]);
      const [, host, ident, user, time, request, status, bytes, referer, ua] = m;
      assert.equal(host, "127.0.0.1");
      assert.equal(ident, "-");
      assert.equal(user, "-");
      const when = Date.parse(time!.replace(/^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}:\d{2}:\d{2}) \+0000$/, "$1 $2 $3 $4 GMT"));
      assert.ok(Math.abs(Date.now() - when) < 60_000, `time ${time}`);
      assert.equal(request, "GET /stdout/x?y=1 HTTP/1.1");
      assert.equal(status, "200");
      assert.equal(bytes, "13");
      assert.equal(referer, "http://r.example/");
      assert.equal(ua, 'ua \\"q\\"');
      assert.doesNotMatch(o.stderr(), /stdout\/x/, "an access line went to stderr");
    } finally {
      await stop(o);
    }
  });
});

// ─── --error-log FILE ───────────────────────────────────────────────────────────────────────────────────────

const spawned = new Set<ChildProcess>();

/** Starts the CLI with its error log in a file; waits for the startup line there. */
async function launchLoggingTo(args: string[], errorLog: string): Promise<{ proc: ChildProcess; pid: number; port: number; stderr: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [CLI, ...args, "--error-log", errorLog], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  spawned.add(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  proc.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  let m: RegExpExecArray | null = null;
  try {
    await until(
      () => {
        if (proc.exitCode !== null) throw new Error(`oryx exited with ${proc.exitCode}; stderr: ${err}`);
        m = / serving .* on http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)\)$/m.exec(lines(errorLog).join("\n"));
        return m !== null;
      },
      30_000,
      "the startup line in the error log",
      () => `file: ${lines(errorLog).join("\n")}; stderr: ${err}`,
    );
  } catch (e) {
    signal(proc.pid!, "SIGKILL");
    throw e;
  }
  const found = m as unknown as RegExpExecArray;
  assert.equal(Number(found[2]), proc.pid, "the startup line names the master");
  return { proc, pid: proc.pid!, port: Number(found[1]), stderr: () => err, exited };
}

/** `[time] [pid] [LEVEL] message` */
const LOG_LINE = /^\[(\d{4}-\d{2}-\d{2}T[\d:.]+Z)\] \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] (.*)$/;

describe("--error-log FILE", () => {
  test("gets the master's startup line and the workers' lines (not stderr); SIGUSR1 after a rename reopens it in every process", async () => {
    const dir = tempDir();
    const file = path.join(dir, "error.log");
    const rotated = `${file}.1`;
    const o = await launchLoggingTo(["test/fixtures/app-error.ts", "-w", "2", ...LOCAL], file);
    try {
      const workers = children(o.pid).filter((c) => c.state !== "Z").map((c) => c.pid);
      assert.equal(workers.length, 2);
      const startup = lines(file).find((l) => l.includes(" serving "))!;
      const s = LOG_LINE.exec(startup);
      assert.ok(s, startup);
      assert.equal(Number(s[2]), o.pid);
      assert.equal(s[3], "INFO");
      assert.match(s[4]!, /^oryx \S+ serving test\/fixtures\/app-error\.ts \(fetch\) with 2 workers on http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)$/);

      // A worker's line: the app throws; its error and stack go to the file, with the worker's pid.
      const res = await fetch(`http://127.0.0.1:${o.port}/boom`);
      assert.equal(res.status, 500);
      await res.text();
      await until(() => lines(file).some((l) => l.includes("app-error-fixture-kaboom")), 5000, "the app's error in the file", () => lines(file).join("\n"));
      const all = lines(file);
      const errLine = all.find((l) => / the app failed on GET \/boom$/.test(l))!;
      const e = LOG_LINE.exec(errLine);
      assert.ok(e, all.join("\n"));
      assert.equal(e[3], "ERROR");
      assert.ok(workers.includes(Number(e[2])), `the error line's pid ${e[2]} is not a worker's (${workers.join(", ")})`);
      assert.ok(all.some((l) => /^\s+at /.test(l)), "the stack is in the file");
      assert.doesNotMatch(o.stderr(), /serving|kaboom|\[INFO\]|\[ERROR\]/, "log lines went to stderr");

      // Rotation: every process must let go of the renamed file and hold FILE again.
      renameSync(file, rotated);
      const pids = [o.pid, ...workers];
      for (const p of pids) assert.deepEqual(openPaths(p, [file, rotated]), [rotated], `process ${p} before SIGUSR1`);
      signal(o.pid, "SIGUSR1");
      await until(
        () => pids.every((p) => { const f = openPaths(p, [file, rotated]); return f.length === 1 && f[0] === file; }),
        5000,
        "the master and every worker to hold the new file and not the renamed one",
        () => pids.map((p) => `${p}: ${openPaths(p, [file, rotated]).join(", ")}`).join("; "),
      );
      const old = readFileSync(rotated, "utf8");
      const reopened = lines(file).find((l) => l.includes("SIGUSR1: reopening log files"));
      assert.ok(reopened, `the master's reopen line is not in the new file: ${lines(file).join("\n")}`);
      assert.equal(Number(LOG_LINE.exec(reopened)![2]), o.pid);
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`http://127.0.0.1:${o.port}/boom`, { headers: { connection: "close" } });
        assert.equal(r.status, 500);
        await r.text();
      }
      await until(() => lines(file).filter((l) => / the app failed on GET \/boom$/.test(l)).length === 4, 5000, "four error lines in the new file", () => lines(file).join("\n"));
      assert.equal(readFileSync(rotated, "utf8"), old, "the renamed file got lines after SIGUSR1");
      assert.doesNotMatch(old, /SIGUSR1/);

      signal(o.pid, "SIGTERM");
      assert.equal(await within(o.exited, 15_000, "the exit after SIGTERM"), 0);
      assert.ok(lines(file).some((l) => /\[INFO\] stopped$/.test(l)), "the master's last line is in the file");
    } finally {
      if (o.proc.exitCode === null) signal(o.pid, "SIGKILL");
    }
  });
});

// ─── refused at start ───────────────────────────────────────────────────────────────────────────────────────

describe("refused at start", () => {
  test("a bad --access-log-format exits 2 with one sentence on stderr, before any worker writes the log", async () => {
    const dir = tempDir();
    const file = path.join(dir, "access.log");
    const r = await runCli(["examples/hello.ts", ...LOCAL, "--access-log", file, "--access-log-format", "%Z"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, 'oryx: --access-log-format: unknown access-log directive %Z in "%Z"\n');
    assert.equal(r.stdout, "");
    assert.equal(existsSync(file), false, "the access log was created");
  });

  test("ORYX_ACCESS_LOG_FORMAT is checked the same way", async () => {
    const r = await runCli(["examples/hello.ts", ...LOCAL, "--access-log", "-"], { env: { ORYX_ACCESS_LOG_FORMAT: '%h "%{User-Agent' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^oryx: --access-log-format: unterminated access-log directive %\{User-Agent in "%h \\"%\{User-Agent"/);
    assert.equal(r.stderr.split("\n").length, 2, "one line");
  });

  test("an --error-log that cannot be opened exits 2 with one sentence on stderr", async () => {
    const missing = path.join(tempDir(), "no", "such", "dir", "error.log");
    const r = await runCli(["examples/hello.ts", ...LOCAL, "--error-log", missing]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `oryx: --error-log: cannot open ${missing}: no such file or directory (ENOENT)\n`);
  });
});
