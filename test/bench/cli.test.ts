/**
 * `oryx bench` as a command: flags and refusals (exit 2, one sentence, no connection made), the --json shape,
 * client3 mode (a server that accepts, one that refuses, one whose backlog is full), a run against oryx itself
 * in process, and the built CLI (dist/cli.js) once for its exit code and report.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { benchMain } from "../../src/bench/cli.ts";
import type { Client3Report } from "../../src/bench/client3.ts";
import type { BenchReport } from "../../src/bench/report.ts";
import { ROOT, runCli } from "../support/cli.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { captureIO, deadPort, fixedServer, OK, type FixedServer } from "./fixtures.ts";

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function bench(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO();
  const code = await benchMain(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

async function serve(answer: Parameters<typeof fixedServer>[0]): Promise<FixedServer> {
  const s = await fixedServer(answer);
  cleanup.push(() => s.close());
  return s;
}

// ─── the documented --json shape, checked key by key ───────────────────────────────────────────────────────

type Shape = "number" | "string" | "boolean" | "number|null" | "string|null" | "counts" | { [k: string]: Shape } | [Shape];

const ERRORS: Shape = { refused: "number", reset: "number", timeout: "number", malformed: "number", other: "number" };
const LOAD_SHAPE: Shape = {
  mode: "string",
  url: "string",
  options: { connections: "number", threads: "number", pipelining: "number", durationSeconds: "number|null", requests: "number|null", rate: "number|null", warmupSeconds: "number", timeoutSeconds: "number", method: "string" },
  durationSeconds: "number",
  requests: { sent: "number", responses: "number", errors: "number", unsent: "number" },
  requestsPerSecond: "number",
  bytesReceived: "number",
  bytesPerSecond: "number",
  latencyMicroseconds: { count: "number", min: "number", mean: "number", stdev: "number", p50: "number", p90: "number", p99: "number", p99_9: "number", max: "number" },
  status: "counts",
  errors: ERRORS,
  otherError: "string|null",
  threads: [{ sent: "number", responses: "number", errors: "number" }],
};
const CLIENT3_SHAPE: Shape = {
  mode: "string",
  url: "string",
  clients: "number",
  connsPerClient: "number",
  holdSeconds: "number",
  timeoutSeconds: "number",
  repliesRead: "boolean",
  attempted: "number",
  connect: { connected: "number", refused: "number", timedOut: "number", reset: "number", other: "number" },
  replies: { responded: "number", malformed: "number", closed: "number", reset: "number", noResponse: "number", other: "number" },
  status: "counts",
  otherError: "string|null",
};

function checkShape(value: unknown, shape: Shape, at = "$"): void {
  if (typeof shape === "string") {
    if (shape === "counts") {
      assert.ok(value !== null && typeof value === "object" && !Array.isArray(value), `${at} is an object`);
      for (const [k, v] of Object.entries(value as object)) {
        assert.match(k, /^[1-5]\d\d$/, `${at} key ${k}`);
        assert.ok(Number.isInteger(v) && (v as number) > 0, `${at}.${k} is a positive count`);
      }
      return;
    }
    const ok = shape.split("|").some((t) => (t === "null" ? value === null : typeof value === t && (t !== "number" || Number.isFinite(value))));
    assert.ok(ok, `${at} should be ${shape}, is ${JSON.stringify(value)}`);
    return;
  }
  if (Array.isArray(shape)) {
    assert.ok(Array.isArray(value), `${at} is an array`);
    (value as unknown[]).forEach((v, i) => checkShape(v, shape[0]!, `${at}[${i}]`));
    return;
  }
  assert.ok(value !== null && typeof value === "object", `${at} is an object`);
  assert.deepEqual(Object.keys(value as object).sort(), Object.keys(shape).sort(), `${at} has exactly the documented keys`);
  for (const [k, s] of Object.entries(shape)) checkShape((value as Record<string, unknown>)[k], s, `${at}.${k}`);
}

// ─── tests ──────────────────────────────────────────────────────────────────────────────────────────────────

describe("oryx bench: usage", () => {
  test("--help lists the options and exits 0", async () => {
    const r = await bench(["--help"]);
    assert.equal(r.code, 0);
    for (const flag of ["--connections", "--duration", "--requests", "--rate", "--pipelining", "--method", "--header", "--body", "--body-file", "--timeout", "--warmup", "--threads", "--json", "--allow-remote", "--max-clients", "--max-conns", "--hold"]) {
      assert.ok(r.out.includes(flag), `help mentions ${flag}`);
    }
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /give the URL/],
    [["http://127.0.0.1:1/", "--frobnicate"], /Unknown option '--frobnicate'/],
    [["http://127.0.0.1:1/", "-c", "0"], /-c\/--connections takes a whole number/],
    [["http://127.0.0.1:1/", "-c", "ten"], /-c\/--connections/],
    [["http://127.0.0.1:1/", "-d", "-1"], /Option '-d' argument is ambiguous/],
    [["http://127.0.0.1:1/", "-d", "0"], /-d\/--duration takes a positive number of seconds/],
    [["http://127.0.0.1:1/", "-c"], /argument missing/],
    [["http://127.0.0.1:1/", "-d", "1", "-n", "5"], /not both/],
    [["http://127.0.0.1:1/", "--rate", "fast"], /--rate/],
    [["http://127.0.0.1:1/", "-H", "no colon"], /-H takes/],
    [["http://127.0.0.1:1/", "-H", "Content-Length: 5"], /sets the body's Content-Length/],
    [["http://127.0.0.1:1/", "--body", "a", "--body-file", "b"], /not both/],
    [["http://127.0.0.1:1/", "--body-file", "/nonexistent/file"], /cannot read --body-file/],
    [["https://127.0.0.1:1/"], /only http:\/\//],
    [["not a url"], /is not a URL/],
    [["http://127.0.0.1:1/", "--max-conns", "3", "-c", "4"], /does not apply to client3 mode/],
    [["http://127.0.0.1:1/", "--hold", "3"], /--hold applies only to client3 mode/],
  ];
  for (const [args, re] of bad) {
    test(`refuses ${JSON.stringify(args)} with one sentence and exit 2`, async () => {
      const r = await bench(args);
      assert.equal(r.code, 2);
      assert.equal(r.out, "");
      assert.match(r.err, re);
      assert.match(r.err, /^oryx bench: [^\n]+\.\n$/, "one line, one sentence");
    });
  }

  test("a non-loopback target is refused with exit 2 before any connection", async (t) => {
    const connect = t.mock.method(net, "connect");
    const createConnection = t.mock.method(net, "createConnection");
    for (const url of ["http://192.0.2.1/", "http://[2001:db8::1]:8080/", "http://example.com/", "http://10.0.0.1:8888/"]) {
      const r = await bench([url, "-d", "1"]);
      assert.equal(r.code, 2, url);
      assert.match(r.err, /^oryx bench: refusing to load .*, which is not a loopback address; pass --allow-remote if you mean it\.\n$/);
      const c3 = await bench([url, "--max-clients", "1", "--max-conns", "1"]);
      assert.equal(c3.code, 2);
    }
    assert.equal(connect.mock.callCount() + createConnection.mock.callCount(), 0, "no connection was attempted");
  });
});

describe("oryx bench: load mode", () => {
  test("--json: one line, exactly the documented shape, counts that add up", async () => {
    const srv = await serve(() => ({ write: OK }));
    const r = await bench([srv.url, "-n", "300", "-c", "3", "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim().split("\n").length, 1);
    const j = JSON.parse(r.out) as BenchReport;
    checkShape(j, LOAD_SHAPE);
    assert.equal(j.mode, "load");
    assert.equal(j.requests.sent, 300);
    assert.equal(j.requests.responses, 300);
    assert.equal(j.requests.errors, 0);
    assert.equal(j.latencyMicroseconds.count, 300);
    assert.deepEqual(j.status, { "200": 300 });
    assert.equal(j.bytesReceived, 300 * OK.length);
    assert.ok(j.latencyMicroseconds.p50 <= j.latencyMicroseconds.p99 && j.latencyMicroseconds.p99 <= j.latencyMicroseconds.max);
  });

  test("--json after errors: the error kinds are counted and sent = responses + errors", async () => {
    const srv = await serve((q) => (q.seq % 2 === 0 ? { write: OK } : { write: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", then: "end" }));
    const r = await bench([srv.url, "-n", "100", "-c", "1", "--json"]);
    const j = JSON.parse(r.out) as BenchReport;
    checkShape(j, LOAD_SHAPE);
    assert.equal(j.requests.responses, 50);
    assert.equal(j.errors.malformed, 50);
    assert.equal(j.requests.sent, j.requests.responses + j.requests.errors);
  });

  test("POST with a body and headers reaches the server as given", async () => {
    const heads: string[] = [];
    // The fixture cuts the stream at blank lines, so the body ("hi" then a blank line) comes as a segment of its own.
    const srv = await serve((q) => {
      heads.push(q.head);
      return q.head.startsWith("POST ") ? { write: OK } : null;
    });
    const r = await bench([srv.url + "p?q=1", "-n", "1", "-c", "1", "-m", "POST", "-H", "X-One: 1", "-H", "Host: example.test", "--body", "hi\r\n\r\n", "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as BenchReport).requests.responses, 1);
    assert.deepEqual(heads.slice(1), ["hi"]);
    assert.match(heads[0]!, /^POST \/p\?q=1 HTTP\/1\.1\r\n/);
    assert.match(heads[0]!, /\r\nX-One: 1/);
    assert.match(heads[0]!, /\r\nHost: example\.test/);
    assert.doesNotMatch(heads[0]!, /Host: 127/);
    assert.match(heads[0]!, /\r\nContent-Length: 6$/);
  });

  test("the text report names requests/s, latency percentiles, status codes and errors", async () => {
    const srv = await serve(() => ({ write: OK }));
    const r = await bench([srv.url, "-d", "0.3", "-c", "2"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^oryx bench GET http:\/\/127\.0\.0\.1:\d+\/: 2 connections, 1 thread; measured 0\.\d\d s\n/);
    assert.match(r.out, /\n {2}requests {4}[\d,]+ sent, [\d,]+ responses, 0 errors\n/);
    assert.match(r.out, /\n {2}throughput {2}[\d,]+ requests\/s, [\d.]+ \S+\/s received\n/);
    assert.match(r.out, /\n {2}latency {5}p50 \S+ \S+ {3}p90 .* p99 .* p99\.9 .* max .*\(mean .*\)\n/);
    assert.match(r.out, /\n {2}status {6}200 × [\d,]+\n/);
    assert.match(r.out, /\n {2}errors {6}none\n$/);
    assert.doesNotMatch(r.out, /\r|\x1b/, "no progress line when stdout is not a terminal");
  });

  test("a progress line is drawn on a terminal, and cleared before the report", async () => {
    const srv = await serve(() => ({ write: OK }));
    const c = captureIO();
    c.io.stdout.isTTY = true;
    const code = await benchMain([srv.url, "-d", "1.3", "-c", "1"], c.io);
    assert.equal(code, 0);
    assert.match(c.out(), /^\r\x1b\[K\[1s\] [\d,]+ responses, [\d,]+\/s now, 0 errors\r\x1b\[Koryx bench GET/);
  });
});

describe("oryx bench: client3 mode", () => {
  test("every connection connects and is answered; replies are read", async () => {
    const srv = await serve(() => ({ write: OK }));
    const r = await bench([srv.url, "--max-clients", "3", "--max-conns", "4", "--hold", "0.2", "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Client3Report;
    checkShape(j, CLIENT3_SHAPE);
    assert.equal(j.attempted, 12);
    assert.deepEqual(j.connect, { connected: 12, refused: 0, timedOut: 0, reset: 0, other: 0 });
    assert.deepEqual(j.replies, { responded: 12, malformed: 0, closed: 0, reset: 0, noResponse: 0, other: 0 });
    assert.deepEqual(j.status, { "200": 12 });
    assert.equal(srv.connections, 12);
    assert.equal(srv.received, 12);
  });

  test("the text report says what happened to the connections", async () => {
    const srv = await serve((q) => (q.seq % 2 === 0 ? { write: OK } : { then: "end" }));
    const r = await bench([srv.url, "--max-clients", "2", "--max-conns", "2", "--hold", "0.1"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /^oryx bench client3 mode: 2 clients × 2 connections to http:\/\/127\.0\.0\.1:\d+\/, one request each, held 0\.1 s, replies read\n/);
    assert.match(r.out, /\n {2}connect {5}4 attempted: 4 connected, 0 refused, 0 timed out, 0 reset, 0 other\n/);
    assert.match(r.out, /\n {2}replies {5}2 responded, 0 no response by the end, 2 closed unanswered, 0 reset, 0 malformed, 0 other\n/);
  });

  test("nothing listening: every connect is refused", async () => {
    const port = await deadPort();
    const r = await bench([`http://127.0.0.1:${port}/`, "--max-clients", "2", "--max-conns", "3", "--hold", "0", "--json"]);
    const j = JSON.parse(r.out) as Client3Report;
    assert.deepEqual(j.connect, { connected: 0, refused: 6, timedOut: 0, reset: 0, other: 0 });
    assert.equal(j.replies.responded, 0);
  });

  test("a server that never accepts, with a backlog of 1: connects time out, nothing crashes", async () => {
    // A child process listens with backlog 1 and then blocks its event loop, so nothing is ever accepted: the
    // kernel completes a handshake or two into the queue, and the later SYNs are dropped (connect timeouts).
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "-e",
        `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
           process.stdout.write(s.address().port + "\\n", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000));
         });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanup.push(() => {
      child.kill("SIGKILL");
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(Number(out.trim()));
      });
      child.on("exit", (code) => reject(new Error(`listener exited ${code}`)));
    });
    const r = await bench([`http://127.0.0.1:${port}/`, "--max-clients", "2", "--max-conns", "4", "--hold", "0.2", "--timeout", "0.5", "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as Client3Report;
    checkShape(j, CLIENT3_SHAPE);
    const c = j.connect;
    assert.equal(c.connected + c.refused + c.timedOut + c.reset + c.other, 8);
    assert.ok(c.timedOut + c.refused > 0, `some connects failed: ${JSON.stringify(c)}`);
    assert.equal(j.replies.responded, 0);
    const p = j.replies;
    assert.equal(p.responded + p.malformed + p.closed + p.reset + p.noResponse + p.other, c.connected);
  });
});

describe("oryx bench against oryx", () => {
  let oryx: TestServer;
  before(async () => {
    oryx = await startServer(() => new Response("Hello, World!"));
    cleanup.push(() => oryx.close());
  });

  test("-d 1 -c 10: 2xx responses and no errors", async () => {
    const r = await bench([oryx.url + "/", "-d", "1", "-c", "10", "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as BenchReport;
    checkShape(j, LOAD_SHAPE);
    assert.ok((j.status["200"] ?? 0) > 0);
    assert.equal(j.requests.errors, 0, JSON.stringify(j.errors));
    assert.equal(j.requests.sent, j.requests.responses);
  });

  test("-p 4 (oryx answers pipelined requests in order) and HEAD", async () => {
    const r = await bench([oryx.url + "/", "-n", "2000", "-c", "4", "-p", "4", "--json"]);
    const j = JSON.parse(r.out) as BenchReport;
    assert.equal(j.requests.responses, 2000);
    assert.equal(j.requests.errors, 0, JSON.stringify(j.errors));
    const h = JSON.parse((await bench([oryx.url + "/", "-n", "200", "-c", "2", "-m", "HEAD", "--json"])).out) as BenchReport;
    assert.equal(h.requests.responses, 200);
    assert.equal(h.requests.errors, 0);
  });
});

describe("oryx bench: the built CLI", () => {
  before(() => {
    // Build when dist/ lacks the bench or is older than its sources (npm test builds first anyway).
    const built = path.join(ROOT, "dist", "bench", "cli.js");
    const src = path.join(ROOT, "src", "bench");
    const newest = Math.max(...readdirSync(src).filter((f) => f.endsWith(".ts")).map((f) => statSync(path.join(src, f)).mtimeMs));
    if (!existsSync(built) || statSync(built).mtimeMs < newest) execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  });

  test("node dist/cli.js bench: exit 0 and the report; -t 2 runs its worker threads from dist", async () => {
    const srv = await serve(() => ({ write: OK }));
    const r = await runCli(["bench", srv.url, "-d", "0.5", "-c", "4"], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^oryx bench GET http:\/\/127\.0\.0\.1:\d+\/: 4 connections, 1 thread; measured/);
    assert.match(r.stdout, /requests\/s/);
    assert.match(r.stdout, /errors {6}none/);
    const t2 = await runCli(["bench", srv.url, "-n", "1000", "-c", "4", "-t", "2", "--json"], { timeoutMs: 30_000 });
    assert.equal(t2.code, 0, t2.stderr);
    const j = JSON.parse(t2.stdout) as BenchReport;
    assert.equal(j.threads.length, 2);
    assert.equal(j.requests.responses, 1000);
    assert.equal(j.latencyMicroseconds.count, 1000);
  });

  test("node dist/cli.js bench: usage errors and a remote target exit 2; --help exits 0", async () => {
    const remote = await runCli(["bench", "http://192.0.2.1/"]);
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /not a loopback address/);
    const bad = await runCli(["bench", "http://127.0.0.1:1/", "-c", "x"]);
    assert.equal(bad.code, 2);
    const help = await runCli(["bench", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: oryx bench URL/);
  });
});
