/**
 * End to end with a real, independent client: curl (/usr/bin/curl) against the in-process server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "../support/server.ts";
import { settlesWithin, sleep } from "../support/wait.ts";

const CURL = "/usr/bin/curl";

interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs curl to completion (bounded by --max-time and a kill timer); never rejects, the exit code is checked. */
function curl(args: string[], timeoutMs = 15_000): Promise<CurlResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      CURL,
      ["--silent", "--show-error", "--max-time", String(Math.floor(timeoutMs / 1000) - 2), ...args],
      { encoding: "latin1", maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === "number" ? (err as unknown as { code: number }).code : -1;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Splits `curl -i` output into the final response's status line, headers and body (skipping 1xx heads). */
function splitIncluded(out: string): { status: string; headers: Record<string, string>; body: string } {
  let rest = out;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    assert.ok(end >= 0, `no response head in curl output: ${JSON.stringify(out.slice(0, 300))}`);
    const lines = rest.slice(0, end).split("\r\n");
    rest = rest.slice(end + 4);
    if (/^HTTP\/1\.[01] 1\d\d/.test(lines[0]!)) continue;
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: lines[0]!, headers, body: rest };
  }
}

interface Echo {
  method: string;
  url: string;
  sha256: string;
  length: number;
  expect: string | null;
  transferEncoding: string | null;
  contentLength: string | null;
}

describe("curl end to end", { timeout: 60_000 }, () => {
  let s: TestServer;
  let dir: string;
  let file1: string;
  let file2: string;
  let data1: Buffer;
  let data2: Buffer;
  const sse = { produced: [] as number[], seen: [] as number[], gates: [] as Array<() => void>, waits: [] as Array<Promise<void>> };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "oryx-curl-"));
    data1 = randomBytes(1024 * 1024);
    data2 = randomBytes(2 * 1024 * 1024 + 123);
    file1 = path.join(dir, "one-mib.bin");
    file2 = path.join(dir, "two-mib.bin");
    await writeFile(file1, data1);
    await writeFile(file2, data2);
    s = await startServer(async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/echo") {
        const body = new Uint8Array(await req.arrayBuffer());
        const echo: Echo = {
          method: req.method,
          url: req.url,
          sha256: sha256(body),
          length: body.length,
          expect: req.headers.get("expect"),
          transferEncoding: req.headers.get("transfer-encoding"),
          contentLength: req.headers.get("content-length"),
        };
        return Response.json(echo);
      }
      if (url.pathname === "/stream") {
        const parts = ["alpha,", "beta,", "gamma"];
        let i = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(ctrl) {
              if (i > 0) await sleep(20);
              if (i === parts.length) ctrl.close();
              else ctrl.enqueue(new TextEncoder().encode(parts[i++]!));
            },
          }),
        );
      }
      if (url.pathname === "/events") {
        let i = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(ctrl) {
              if (i === 5) {
                ctrl.close();
                return;
              }
              // Event i is produced only once curl has shown event i-1: a server (or curl) that buffered
              // events would never get here, and the stream errors after 3 s.
              if (i > 0) {
                const ok = await settlesWithin(sse.waits[i - 1]!, 3000);
                if (!ok) {
                  ctrl.error(new Error(`event ${i - 1} never reached curl`));
                  return;
                }
              }
              sse.produced[i] = Date.now();
              ctrl.enqueue(new TextEncoder().encode(`id: ${i}\ndata: event ${i}\n\n`));
              i++;
            },
          }),
          { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
        );
      }
      return new Response("hello from oryx\n", { headers: { "x-app": "curl-test" } });
    });
  });

  after(async () => {
    await s?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("GET", async () => {
    const r = await curl(["-i", `${s.url}/hello?x=1`]);
    assert.equal(r.code, 0, r.stderr);
    const res = splitIncluded(r.stdout);
    assert.equal(res.status, "HTTP/1.1 200 OK");
    assert.equal(res.headers["x-app"], "curl-test");
    assert.equal(res.headers["content-length"], "16");
    assert.equal(res.body, "hello from oryx\n");
    assert.equal(new URL(s.seen.at(-1)!.url).search, "?x=1");
  });

  test("POST --data-binary @file of 1 MiB arrives intact", async () => {
    const r = await curl(["-H", "Content-Type: application/octet-stream", "--data-binary", `@${file1}`, `${s.url}/echo`]);
    assert.equal(r.code, 0, r.stderr);
    const echo = JSON.parse(r.stdout) as Echo;
    assert.equal(echo.method, "POST");
    assert.equal(echo.length, data1.length);
    assert.equal(echo.contentLength, String(data1.length));
    assert.equal(echo.sha256, sha256(data1));
  });

  test("upload with Expect disabled (-H 'Expect:'): no 100 Continue, body intact", async () => {
    const r = await curl(["-v", "-H", "Expect:", "--data-binary", `@${file2}`, `${s.url}/echo`]);
    assert.equal(r.code, 0, r.stderr);
    const echo = JSON.parse(r.stdout) as Echo;
    assert.equal(echo.expect, null);
    assert.equal(echo.sha256, sha256(data2));
    assert.doesNotMatch(r.stderr, /< HTTP\/1\.1 100 Continue/);
  });

  test("upload with curl's default Expect: 100-continue: the server sends 100 Continue at once", async () => {
    // curl waits --expect100-timeout for the 100 before sending anyway; a server that never sent it would make
    // this take at least 3 s.
    const r = await curl(["-v", "--expect100-timeout", "3", "--data-binary", `@${file2}`, `${s.url}/echo`]);
    assert.equal(r.code, 0, r.stderr);
    const echo = JSON.parse(r.stdout) as Echo;
    assert.equal(echo.expect, "100-continue", "curl did not send Expect: 100-continue (the test proves nothing)");
    assert.match(r.stderr, /< HTTP\/1\.1 100 Continue/);
    assert.equal(echo.sha256, sha256(data2));
    assert.ok(r.ms < 2500, `the upload took ${r.ms} ms: curl waited for a 100 Continue that did not come`);
  });

  test("chunked upload (-H 'Transfer-Encoding: chunked')", async () => {
    const r = await curl(["-H", "Transfer-Encoding: chunked", "--data-binary", `@${file1}`, `${s.url}/echo`]);
    assert.equal(r.code, 0, r.stderr);
    const echo = JSON.parse(r.stdout) as Echo;
    assert.equal(echo.transferEncoding, "chunked");
    assert.equal(echo.contentLength, null);
    assert.equal(echo.length, data1.length);
    assert.equal(echo.sha256, sha256(data1));
  });

  test("--http1.0: a plain response, and a stream sent close-delimited", async () => {
    const r1 = await curl(["-i", "--http1.0", `${s.url}/`]);
    assert.equal(r1.code, 0, r1.stderr);
    const a = splitIncluded(r1.stdout);
    assert.match(a.status, /^HTTP\/1\.[01] 200 /);
    assert.equal(a.body, "hello from oryx\n");
    assert.equal(a.headers["transfer-encoding"], undefined);

    const r2 = await curl(["-i", "--http1.0", `${s.url}/stream`]);
    assert.equal(r2.code, 0, r2.stderr);
    const b = splitIncluded(r2.stdout);
    assert.equal(b.headers["transfer-encoding"], undefined, "chunked framing sent to an HTTP/1.0 client");
    assert.equal(b.headers["content-length"], undefined);
    assert.equal(b.body, "alpha,beta,gamma");

    // The same stream over HTTP/1.1 is chunked, and curl decodes it.
    const r3 = await curl(["-i", `${s.url}/stream`]);
    assert.equal(r3.code, 0, r3.stderr);
    const c = splitIncluded(r3.stdout);
    assert.equal(c.headers["transfer-encoding"], "chunked");
    assert.equal(c.body, "alpha,beta,gamma");
  });

  test("-I (HEAD): the GET's headers and Content-Length, no body, no hang", async () => {
    const r = await curl(["-I", `${s.url}/`]);
    assert.equal(r.code, 0, r.stderr);
    const res = splitIncluded(r.stdout);
    assert.equal(res.status, "HTTP/1.1 200 OK");
    assert.equal(res.headers["content-length"], "16");
    assert.equal(res.headers["x-app"], "curl-test");
    assert.equal(res.body, "");
    assert.ok(r.ms < 3000, `curl -I took ${r.ms} ms`);
    assert.equal(s.seen.at(-1)!.method, "HEAD");
  });

  test("--no-buffer on server-sent events: each event reaches curl before the next is produced", async () => {
    for (let i = 0; i < 5; i++) sse.waits[i] = new Promise<void>((r) => (sse.gates[i] = r));
    let out = "";
    const t0 = Date.now();
    const done = new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        CURL,
        ["--silent", "--show-error", "--no-buffer", "--max-time", "15", `${s.url}/events`],
        { encoding: "latin1", timeout: 20_000, killSignal: "SIGKILL" },
        (err, _stdout, stderr) => resolve({ code: err === null ? 0 : Number((err as unknown as { code: unknown }).code) || -1, stderr }),
      );
      child.stdout!.on("data", (d: string | Buffer) => {
        out += d.toString();
        for (let i = 0; i < 5; i++) {
          if (sse.seen[i] === undefined && out.includes(`data: event ${i}\n\n`)) {
            sse.seen[i] = Date.now();
            sse.gates[i]!();
          }
        }
      });
    });
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(out, [0, 1, 2, 3, 4].map((i) => `id: ${i}\ndata: event ${i}\n\n`).join(""));
    for (let i = 0; i < 4; i++) {
      assert.ok(sse.seen[i]! <= sse.produced[i + 1]!, `event ${i} was seen after event ${i + 1} was produced`);
    }
    assert.ok(Date.now() - t0 < 5000);
  });
});
