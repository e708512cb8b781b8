/**
 * The real `oryx` command (dist/cli.js) as a child process: usage errors, loading apps of every kind, listening,
 * graceful shutdown on signals, the access log, and app errors. Every process started here is killed by PID.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SETTINGS } from "../../src/config/settings.ts";
import { CLI, ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { getOnce as get, raw, Session, tryConnect } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { sleep, until, within } from "../support/wait.ts";

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NO_APP = "oryx: provide an application as MODULE[:EXPORT], e.g. oryx examples/hello.ts";
const LOCAL = ["-b", "127.0.0.1:0"];

// ─── process bookkeeping ────────────────────────────────────────────────────────────────────────────────────

const running = new Set<ChildProcess>();

interface Oryx {
  proc: ChildProcess;
  /** The first URL's port. */
  port: number;
  urls: string[];
  /** The startup line. */
  line: string;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the CLI and waits for its startup line; the process is killed in `after` if a test leaves it running. */
async function launch(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Oryx> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);
  let err = "";
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    }),
  );
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill(proc);
      reject(new Error(`oryx ${args.join(" ")} did not start in time; stderr: ${err}`));
    }, opts.timeoutMs ?? 15_000);
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = /^.* serving .* on .*\(pid \d+\)$/m.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`oryx ${args.join(" ")} exited with ${code} before starting; stderr: ${err}`));
    });
  });
  const urls = [...(/ on (.*) \(pid \d+\)$/.exec(line)?.[1] ?? "").matchAll(/http:\/\/[^\s,]+/g)].map((m) => m[0]);
  const port = urls.length > 0 ? Number(new URL(urls[0]!).port) : 0;
  return { proc, port, urls, line, stderr: () => err, stdout: () => out, exited };
}

function kill(proc: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
    try {
      process.kill(proc.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, then waits for the exit (SIGKILL if it takes too long). */
async function stop(o: Oryx, signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  kill(o.proc, signal);
  const timer = setTimeout(() => kill(o.proc), 5000);
  const r = await o.exited;
  clearTimeout(timer);
  return r;
}

before(ensureBuilt);

after(() => {
  for (const p of running) kill(p);
  running.clear();
});

// ─── usage ──────────────────────────────────────────────────────────────────────────────────────────────────

describe("usage errors (exit 2)", { concurrency: true }, () => {
  test("no MODULE: the exact message and exit 2", async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `${NO_APP}\n`);
    assert.equal(r.stdout, "");
  });

  test("an unknown flag: exit 2 with a one-line message naming it", async () => {
    const r = await runCli(["--frobnicate", "examples/hello.ts"], { timeoutMs: 8000 });
    assert.equal(r.code, 2);
    const first = r.stderr.split("\n")[0]!;
    assert.match(first, /^oryx: .*--frobnicate/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace for a usage error");
  });

  const bad: Array<{ args: string[]; value: string }> = [
    { args: ["--backlog", "abc"], value: "abc" },
    { args: ["-b", "nonsense"], value: "nonsense" },
    { args: ["--log-level", "loud"], value: "loud" },
    { args: ["--limit-request-line", "1x"], value: "1x" },
  ];
  for (const { args, value } of bad) {
    test(`a bad value: ${args.join(" ")}`, async () => {
      const r = await runCli([...args, "examples/hello.ts"], { timeoutMs: 8000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^oryx: /);
      assert.ok(r.stderr.includes(value), `the message names the value: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  test("an environment variable with a bad value names the variable", async () => {
    const r = await runCli(["examples/hello.ts", ...LOCAL], { env: { ORYX_BACKLOG: "abc" }, timeoutMs: 8000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /ORYX_BACKLOG/);
  });
});

describe("--help and --version", { concurrency: true }, () => {
  test("--help lists every setting's flag and environment variable, exit 0", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    for (const spec of SETTINGS) {
      assert.ok(r.stdout.includes(`--${spec.flag}`), `--help misses --${spec.flag}`);
      assert.ok(r.stdout.includes(spec.env), `--help misses ${spec.env}`);
      if (spec.short) assert.ok(r.stdout.includes(`-${spec.short}, --${spec.flag}`), `--help misses -${spec.short}`);
    }
    assert.match(r.stdout, /--help/);
    assert.match(r.stdout, /--version/);
  });

  test("-V prints the package version", async () => {
    const r = await runCli(["-V"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `oryx ${VERSION}\n`);
  });
});

// ─── loading apps ───────────────────────────────────────────────────────────────────────────────────────────

describe("apps that cannot be loaded (exit 4)", { concurrency: true }, () => {
  test("a missing file", async () => {
    const r = await runCli(["test/fixtures/does-not-exist.ts", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /test\/fixtures\/does-not-exist\.ts/);
  });

  test("a missing export lists the available ones", async () => {
    const r = await runCli(["examples/hello.ts:nope", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /nope/);
    assert.match(r.stderr, /default/);
    const named = await runCli(["test/fixtures/named.ts:nope", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(named.code, 4, named.stderr);
    for (const name of ["api", "helper", "default"]) assert.ok(named.stderr.includes(name), `the list misses ${name}: ${named.stderr}`);
  });

  test("an export that is a number", async () => {
    const r = await runCli(["test/fixtures/number.ts", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /number\.ts/);
    assert.match(r.stderr, /number/);
  });

  test("an object without fetch", async () => {
    const r = await runCli(["test/fixtures/no-fetch.ts", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no-fetch\.ts/);
    assert.match(r.stderr, /fetch/);
  });

  test("a module that throws while loading: its message and stack", async () => {
    const r = await runCli(["test/fixtures/throws.ts", ...LOCAL], { timeoutMs: 8000 });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /fixture exploded while loading/);
    assert.match(r.stderr, /\n\s+at /, "a stack line");
  });
});

describe("apps of every kind are served", { concurrency: true }, () => {
  const kinds: Array<{ name: string; spec: string; target: string; body: string }> = [
    { name: "a default export that is a promise of a fetch app", spec: "test/fixtures/promise-app.ts", target: "/p", body: "from a promise: /p" },
    { name: "a function of one parameter", spec: "test/fixtures/handler.ts", target: "/h?x=1", body: "handler: GET ?x=1" },
    { name: "MODULE:EXPORT naming a named export", spec: "test/fixtures/named.ts:api", target: "/n", body: "named api: GET /n" },
    { name: "an .mjs app", spec: "test/fixtures/app.mjs", target: "/m", body: "mjs: /m" },
    { name: "a .cjs app", spec: "test/fixtures/app.cjs", target: "/c", body: "cjs: /c" },
    { name: "a .js app (ESM by package.json)", spec: "test/fixtures/plain.js", target: "/j", body: "js: /j" },
  ];
  for (const { name, spec, target, body } of kinds) {
    test(name, async () => {
      const o = await launch([spec, ...LOCAL]);
      try {
        assert.ok(o.line.includes(`serving ${spec} (fetch)`), o.line);
        const res = await get(o.port, target);
        assert.equal(res.status, 200);
        assert.equal(res.body, body);
      } finally {
        await stop(o);
      }
    });
  }
});

describe("a .ts app outside an ES-module package (tsx compiles it to CommonJS)", () => {
  test("its default and named exports are served as written", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oryx-cjs-ts-"));
    try {
      writeFileSync(
        path.join(dir, "app.ts"),
        'export const named = { fetch: () => new Response("named export") };\nexport default { fetch: () => new Response("default export") };\n',
      );
      for (const [spec, body] of [["app.ts", "default export"], ["app.ts:named", "named export"]] as const) {
        const o = await launch([spec, ...LOCAL], { cwd: dir });
        try {
          assert.equal((await get(o.port, "/")).body, body);
        } finally {
          await stop(o);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ─── listening ──────────────────────────────────────────────────────────────────────────────────────────────

describe("listening", () => {
  test("the startup line: version, app, interface, real URL and pid; and it serves there", async () => {
    const o = await launch(["examples/echo.ts", ...LOCAL]);
    try {
      const m = /oryx (\S+) serving (\S+) \((\w+)\) with 1 worker on (http:\/\/127\.0\.0\.1:(\d+)) \(pid (\d+)\)$/.exec(o.line);
      assert.ok(m, o.line);
      assert.equal(m[1], VERSION);
      assert.equal(m[2], "examples/echo.ts");
      assert.equal(m[3], "fetch");
      assert.notEqual(Number(m[5]), 0, "port 0 must be resolved to the real port");
      assert.equal(Number(m[6]), o.proc.pid);
      const res = await fetch(`${m[4]}/hello?x=1`, { method: "POST", body: "abc" });
      assert.equal(res.status, 200);
      const json = (await res.json()) as { method: string; target: string; body: { length: number } };
      assert.equal(json.method, "POST");
      assert.equal(json.target, "/hello?x=1");
      assert.equal(json.body.length, 3);
    } finally {
      await stop(o);
    }
  });

  test("-b twice binds two ports, both serving", async () => {
    const o = await launch(["examples/hello.ts", "-b", "127.0.0.1:0", "-b", "127.0.0.1:0"]);
    try {
      assert.equal(o.urls.length, 2, o.line);
      const ports = o.urls.map((u) => Number(new URL(u).port));
      assert.notEqual(ports[0], ports[1]);
      for (const port of ports) {
        const res = await get(port, "/");
        assert.equal(res.status, 200);
        assert.equal(res.body, "Hello, World!");
      }
    } finally {
      await stop(o);
    }
  });

  test("unix:PATH serves over a Unix socket (curl --unix-socket), beside a TCP bind; the socket file goes at exit", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oryx-unix-"));
    const sock = path.join(dir, "oryx.sock");
    try {
      const o = await launch(["examples/echo.ts", "-b", `unix:${sock}`, "-b", "127.0.0.1:0"]);
      try {
        assert.match(o.line, new RegExp(`on unix:${sock.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, http://127\\.0\\.0\\.1:\\d+ `));
        const out = execFileSync("curl", ["-s", "--unix-socket", sock, "http://oryx.test/over/unix?x=1"], { encoding: "utf8", timeout: 10_000 });
        const echoed = JSON.parse(out) as { url: string; target: string; remote: { address: string; port: number } };
        assert.equal(echoed.url, "http://oryx.test/over/unix?x=1");
        assert.equal(echoed.target, "/over/unix?x=1");
        assert.deepEqual(echoed.remote, { address: "", port: 0 });
        const tcp = await get(o.port, "/tcp");
        assert.equal(tcp.status, 200);
      } finally {
        assert.equal((await stop(o)).code, 0);
      }
      assert.equal(existsSync(sock), false, "the socket file was left behind");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("[::1]:0 binds the IPv6 loopback", async (t) => {
    const available = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(0, "::1", () => srv.close(() => resolve(true)));
    });
    if (!available) {
      t.skip("this machine has no IPv6 loopback (::1 cannot be bound)");
      return;
    }
    const o = await launch(["examples/hello.ts", "-b", "[::1]:0"]);
    try {
      const m = /on http:\/\/\[::1\]:(\d+) /.exec(o.line);
      assert.ok(m, o.line);
      const port = Number(m[1]);
      assert.notEqual(port, 0);
      const res = await fetch(`http://[::1]:${port}/`);
      assert.equal(await res.text(), "Hello, World!");
    } finally {
      await stop(o);
    }
  });

  test("an address in use: exit 3", async () => {
    const first = await launch(["examples/hello.ts", ...LOCAL]);
    try {
      const r = await runCli(["examples/hello.ts", "-b", `127.0.0.1:${first.port}`], { timeoutMs: 8000 });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /address already in use/);
      assert.equal((await get(first.port, "/")).body, "Hello, World!", "the first server is unaffected");
    } finally {
      await stop(first);
    }
  });
});

describe("Hono through the CLI", () => {
  test("examples/hono.ts serves unchanged", async () => {
    const o = await launch(["examples/hono.ts", ...LOCAL]);
    try {
      const root = await get(o.port, "/");
      assert.equal(root.status, 200);
      assert.equal(root.body, "Hello from Hono!");
      const user = await get(o.port, "/users/7", "User-Agent: cli-test\r\n");
      assert.equal(user.status, 200);
      assert.deepEqual(JSON.parse(user.body), { id: "7", agent: "cli-test" });
      const echo = await fetch(`http://127.0.0.1:${o.port}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"n":42}' });
      assert.equal(echo.status, 201);
      assert.deepEqual(await echo.json(), { received: { n: 42 } });
    } finally {
      await stop(o);
    }
  });
});

// ─── shutdown ───────────────────────────────────────────────────────────────────────────────────────────────

describe("graceful shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal}: the request in flight completes, new connections are refused, idle ones closed, exit 0`, async () => {
      const o = await launch(["examples/sleep.ts", ...LOCAL]);
      try {
        // An idle kept-alive connection.
        const idle = await Session.open(o.port);
        idle.write("GET /?ms=0 HTTP/1.1\r\nHost: a\r\n\r\n");
        await until(() => idle.text.includes("slept 0 ms"), 3000, "the first response on the idle connection");
        // A slow request in flight.
        let slowDoneAt = Infinity;
        const slow = raw(o.port, "GET /?ms=800 HTTP/1.1\r\nHost: a\r\n\r\n", { timeoutMs: 5000 }).then((r) => {
          slowDoneAt = performance.now();
          return r;
        });
        await sleep(200);
        kill(o.proc, signal);
        await until(() => /stopping/.test(o.stderr()), 2000, "the stopping log line");

        assert.ok(await idle.waitClosed(1000), "the idle connection was not closed at shutdown");
        const idleClosedAt = idle.closedAt;
        assert.ok(idleClosedAt < slowDoneAt, "the idle connection closes at once, not after the slow request");
        assert.equal(await tryConnect(o.port), "ECONNREFUSED", "new connections after the signal are refused");

        const r = await slow;
        const rs = parseResponses(r.text);
        assert.equal(rs.length, 1, r.text);
        assert.equal(rs[0]!.status, 200);
        assert.equal(rs[0]!.body, "slept 800 ms\n");
        assert.ok(r.closed, "the connection closes after the last response");
        const exit = await within(o.exited, 5000, "oryx did not exit");
        assert.deepEqual(exit, { code: 0, signal: null });
      } finally {
        kill(o.proc);
      }
    });
  }
});

// ─── access log ─────────────────────────────────────────────────────────────────────────────────────────────

const COMBINED = /^(\S+) - - \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(\S+) (\S+) HTTP\/1\.1" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;

describe("--access-log", () => {
  test("FILE: one line per request in Apache combined format", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oryx-cli-"));
    const file = path.join(dir, "access.log");
    try {
      const o = await launch(["examples/hello.ts", ...LOCAL, "--access-log", file]);
      try {
        await get(o.port, "/first?x=1", "Referer: http://ref.example/page\r\nUser-Agent: oryx-test/1.0\r\n");
        const r = await raw(o.port, "POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", { timeoutMs: 5000 });
        assert.equal(parseResponses(r.text)[0]!.status, 200);
      } finally {
        assert.equal((await stop(o)).code, 0);
      }
      const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 2, lines.join("\n"));
      const a = COMBINED.exec(lines[0]!);
      const b = COMBINED.exec(lines[1]!);
      assert.ok(a, lines[0]);
      assert.ok(b, lines[1]);
      assert.deepEqual(a.slice(1, 2).concat(a.slice(3)), ["127.0.0.1", "GET", "/first?x=1", "200", "13", "http://ref.example/page", "oryx-test/1.0"]);
      assert.deepEqual(b.slice(1, 2).concat(b.slice(3)), ["127.0.0.1", "POST", "/second", "200", "13", "-", "-"]);
      // The time is close to now.
      const [, day, mon, year, hh, mm, ss] = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})/.exec(a[2]!)!;
      const when = Date.parse(`${day} ${mon} ${year} ${hh}:${mm}:${ss} GMT`);
      assert.ok(Math.abs(Date.now() - when) < 120_000, `time ${a[2]}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("-: to standard output", async () => {
    const o = await launch(["examples/hello.ts", ...LOCAL, "--access-log", "-"]);
    try {
      await get(o.port, "/to-stdout", "User-Agent: stdout-test\r\n");
      await until(() => o.stdout().includes("/to-stdout"), 3000, "the access log line on stdout");
      const line = o.stdout().split("\n").find((l) => l.includes("/to-stdout"))!;
      const m = COMBINED.exec(line);
      assert.ok(m, line);
      assert.equal(m[3], "GET");
      assert.equal(m[5], "200");
      assert.equal(m[8], "stdout-test");
      assert.doesNotMatch(o.stderr(), /to-stdout/, "access lines do not go to stderr");
    } finally {
      await stop(o);
    }
  });
});

// ─── app errors ─────────────────────────────────────────────────────────────────────────────────────────────

describe("an app error in the CLI", () => {
  test("500 to the client, the stack in stderr, and the process keeps serving", async () => {
    const o = await launch(["test/fixtures/app-error.ts", ...LOCAL]);
    try {
      const boom = await get(o.port, "/boom");
      assert.equal(boom.status, 500);
      assert.doesNotMatch(boom.body, /kaboom/);
      await until(() => o.stderr().includes("app-error-fixture-kaboom"), 2000, "the error in stderr");
      assert.match(o.stderr(), /app-error-fixture-kaboom[^]*\n\s+at /);
      const ok = await get(o.port, "/ok");
      assert.equal(ok.status, 200);
      assert.equal(ok.body, "fine: /ok");
      assert.equal(o.proc.exitCode, null, "still running");
    } finally {
      await stop(o);
    }
  });
});
