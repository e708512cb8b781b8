/**
 * The connection over real sockets: keep-alive, pipelining, 100-continue, HEAD and bodiless statuses, default
 * headers, response framing, backpressure both ways, unread bodies, refusals that reach the client, timeouts,
 * leaks and abort signals.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { raw, Session } from "../support/client.ts";
import { completeResponses, type ParsedResponse, parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { settlesWithin, sleep } from "../support/wait.ts";

const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const get = (path = "/", extra = ""): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  overrides: Parameters<typeof startServer>[1],
  fn: (s: TestServer) => Promise<void>,
): Promise<void> {
  const s = await startServer(handler, overrides);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function withClient<T>(port: number, fn: (c: Session) => Promise<T>, opts: { paused?: boolean } = {}): Promise<T> {
  const c = await Session.open(port, opts);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

const hello = (): Response => new Response("hello");


// ─── keep-alive ─────────────────────────────────────────────────────────────────────────────────────────────

describe("keep-alive", { timeout: 20_000 }, () => {
  test("HTTP/1.1 stays open by default", () =>
    withServer(hello, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(get());
        const [r] = await c.responses(1);
        assert.equal(r!.status, 200);
        assert.equal(r!.headers["connection"], undefined);
        await sleep(200);
        assert.equal(c.closed, false, "the server closed a kept-alive HTTP/1.1 connection");
        c.write(get("/second"));
        const rs = await c.responses(2);
        assert.equal(rs[1]!.body, "hello");
        assert.equal(s.seen.length, 2);
        assert.equal(new URL(s.seen[1]!.url).pathname, "/second");
      }),
    ));

  test("Connection: close from the client: the response says close and the server closes", () =>
    withServer(hello, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(get("/", "Connection: close\r\n"));
        const [r] = await c.responses(1);
        assert.deepEqual(r!.headers["connection"], ["close"]);
        assert.equal(await c.waitClosed(1500), true, "the server did not close after Connection: close");
      }),
    ));

  test("HTTP/1.0 closes by default", () =>
    withServer(hello, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write("GET / HTTP/1.0\r\n\r\n");
        const [r] = await c.responses(1);
        assert.equal(r!.body, "hello");
        assert.notDeepEqual(r!.headers["connection"], ["keep-alive"]);
        assert.equal(await c.waitClosed(1500), true, "the server kept an HTTP/1.0 connection open without keep-alive");
      }),
    ));

  test("HTTP/1.0 with Connection: keep-alive stays open and says keep-alive", () =>
    withServer(hello, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        const [r] = await c.responses(1);
        assert.deepEqual(r!.headers["connection"], ["keep-alive"]);
        await sleep(200);
        assert.equal(c.closed, false);
        c.write("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        const rs = await c.responses(2);
        assert.equal(rs[1]!.status, 200);
        assert.deepEqual(rs[1]!.headers["connection"], ["keep-alive"]);
      }),
    ));

  test("an app Response with Connection: close makes the server close after it", () =>
    withServer(() => new Response("bye", { headers: { Connection: "close" } }), {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(get());
        const [r] = await c.responses(1);
        assert.equal(r!.body, "bye");
        assert.deepEqual(r!.headers["connection"], ["close"]);
        assert.equal(await c.waitClosed(1500), true, "the server did not close after the app's Connection: close");
      }),
    ));
});

// ─── pipelining ─────────────────────────────────────────────────────────────────────────────────────────────

describe("pipelining", { timeout: 20_000 }, () => {
  test("10 requests in one write are answered in order; with a synchronous handler, in one chunk", () =>
    withServer((req) => new Response(new URL(req.url).pathname), {}, (s) =>
      withClient(s.port, async (c) => {
        let all = "";
        for (let i = 0; i < 10; i++) all += get(`/r${i}`);
        c.write(all);
        const rs = await c.responses(10);
        assert.deepEqual(
          rs.map((r) => r.body),
          Array.from({ length: 10 }, (_, i) => `/r${i}`),
        );
        await sleep(50);
        assert.equal(c.chunks.length, 1, `the 10 responses came in ${c.chunks.length} reads, not one write`);
      }),
    ));

  test("pipelined requests whose handler finishes out of order are still answered in order", () =>
    withServer(
      async (req) => {
        const i = Number(new URL(req.url).pathname.slice(2));
        await sleep((10 - i) * 10);
        return new Response(`r${i}`);
      },
      {},
      (s) =>
        withClient(s.port, async (c) => {
          let all = "";
          for (let i = 0; i < 10; i++) all += get(`/r${i}`);
          c.write(all);
          const rs = await c.responses(10, 4000);
          assert.deepEqual(
            rs.map((r) => r.body),
            Array.from({ length: 10 }, (_, i) => `r${i}`),
          );
        }),
    ));
});

// ─── Expect: 100-continue ───────────────────────────────────────────────────────────────────────────────────

describe("Expect: 100-continue", { timeout: 20_000 }, () => {
  test("100 Continue is sent only once the app reads the body", () =>
    withServer(
      async (req) => {
        await sleep(200);
        const body = await req.text();
        return new Response(`got ${body}`);
      },
      {},
      (s) =>
        withClient(s.port, async (c) => {
          c.write("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
          await sleep(150);
          assert.equal(c.text, "", "something was sent before the app read the body");
          await c.waitFor((t) => t.includes("\r\n\r\n"), 1500, "100 Continue");
          assert.equal(c.text, "HTTP/1.1 100 Continue\r\n\r\n");
          const at100 = c.chunks[0]!.at - c.startedAt;
          assert.ok(at100 >= 180, `100 Continue came after ${at100} ms, before the app read`);
          c.write("hello");
          const rs = await c.responses(1);
          assert.equal(rs.length, 2);
          assert.equal(rs[0]!.status, 100);
          assert.equal(rs[1]!.status, 200);
          assert.equal(rs[1]!.body, "got hello");
        }),
    ));

  test("an app that answers without reading: no 100, and the connection closes after the response", () =>
    withServer(() => new Response("no thanks", { status: 403 }), {}, (s) =>
      withClient(s.port, async (c) => {
        c.write("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        const rs = await c.responses(1);
        assert.equal(rs.length, 1);
        assert.equal(rs[0]!.status, 403);
        assert.ok(!c.text.includes("100 Continue"), "100 Continue was sent though the app never read");
        assert.deepEqual(rs[0]!.headers["connection"], ["close"]);
        assert.equal(await c.waitClosed(1500), true, "the server did not close the connection");
      }),
    ));
});

// ─── HEAD, 204, 304 ─────────────────────────────────────────────────────────────────────────────────────────

describe("responses without a body", { timeout: 20_000 }, () => {
  test("HEAD: the same headers as GET, with the GET body's Content-Length, and no body bytes", () =>
    withServer(() => new Response("hello world", { headers: { "x-a": "1", "content-type": "text/x-test" } }), {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(`HEAD / HTTP/1.1\r\nHost: t\r\n\r\n${get()}`);
        const rs = await c.responses(2, 2000, 1);
        const [h, g] = rs;
        // The GET's status line must follow the HEAD's blank line at once: no body bytes in between.
        assert.match(c.text, /^HTTP\/1\.1 200 OK\r\n(?:[^\r]+\r\n)+\r\nHTTP\/1\.1 200 OK\r\n/);
        assert.equal(h!.body, "");
        assert.equal(g!.body, "hello world");
        assert.deepEqual(h!.headers["content-length"], ["11"]);
        const strip = (r: ParsedResponse): Record<string, string[]> => {
          const { date: _date, ...rest } = r.headers;
          return rest;
        };
        assert.deepEqual(strip(h!), strip(g!));
      }),
    ));

  test("204 and 304 carry no body, and 204 no Content-Length", () =>
    withServer(
      (req) => {
        const p = new URL(req.url).pathname;
        if (p === "/204") return new Response(null, { status: 204, headers: { "x-k": "v" } });
        if (p === "/304") return new Response(null, { status: 304, headers: { etag: '"abc"' } });
        return new Response("after");
      },
      {},
      (s) =>
        withClient(s.port, async (c) => {
          c.write(get("/204") + get("/304") + get("/after"));
          const rs = await c.responses(3);
          assert.deepEqual(
            rs.map((r) => r.status),
            [204, 304, 200],
          );
          assert.match(c.text, /^HTTP\/1\.1 204 No Content\r\n(?:[^\r]+\r\n)+\r\nHTTP\/1\.1 304 Not Modified\r\n(?:[^\r]+\r\n)+\r\nHTTP\/1\.1 200 OK\r\n/);
          assert.equal(rs[0]!.headers["content-length"], undefined);
          assert.equal(rs[0]!.headers["transfer-encoding"], undefined);
          assert.equal(rs[1]!.headers["transfer-encoding"], undefined);
          assert.equal(rs[2]!.body, "after");
        }),
    ));
});

// ─── default headers ────────────────────────────────────────────────────────────────────────────────────────

describe("default headers", { timeout: 20_000 }, () => {
  test("Date is present in IMF-fixdate form; no Server header by default", () =>
    withServer(hello, {}, async (s) => {
      const res = await fetch(s.url);
      await res.text();
      assert.match(res.headers.get("date") ?? "", IMF_FIXDATE);
      assert.ok(Math.abs(Date.parse(res.headers.get("date")!) - Date.now()) < 5000, "Date is not the current time");
      assert.equal(res.headers.get("server"), null);
      // Refusals written by oryx itself too.
      const r = await raw(s.port, "BAD\r\n\r\n", { timeoutMs: 1500 });
      const [bad] = parseResponses(r.text);
      assert.equal(bad!.status, 400);
      assert.match(bad!.headers["date"]?.[0] ?? "", IMF_FIXDATE);
      assert.equal(bad!.headers["server"], undefined);
    }));

  test("serverHeader adds a Server header", () =>
    withServer(hello, { serverHeader: "oryx-test" }, async (s) => {
      const res = await fetch(s.url);
      await res.text();
      assert.equal(res.headers.get("server"), "oryx-test");
    }));
});

// ─── response framing ───────────────────────────────────────────────────────────────────────────────────────

function slowStream(parts: string[], gapMs = 20): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (i > 0) await sleep(gapMs);
      if (i === parts.length) {
        ctrl.close();
        return;
      }
      ctrl.enqueue(new TextEncoder().encode(parts[i++]!));
    },
  });
}

const framingApp = (req: Request): Response => {
  const p = new URL(req.url).pathname;
  if (p === "/string") return new Response("a string body");
  if (p === "/bytes") return new Response(new Uint8Array([1, 2, 3, 4]));
  return new Response(slowStream(["one,", "two,", "three"]));
};

describe("response framing", { timeout: 20_000 }, () => {
  test("known-length bodies (string, Uint8Array) get Content-Length", () =>
    withServer(framingApp, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(get("/string") + get("/bytes"));
        const [a, b] = await c.responses(2);
        assert.deepEqual(a!.headers["content-length"], ["13"]);
        assert.equal(a!.headers["transfer-encoding"], undefined);
        assert.equal(a!.body, "a string body");
        assert.deepEqual(b!.headers["content-length"], ["4"]);
        assert.equal(b!.body, "\x01\x02\x03\x04");
      }),
    ));

  test("a ReadableStream body is chunked on HTTP/1.1", () =>
    withServer(framingApp, {}, (s) =>
      withClient(s.port, async (c) => {
        c.write(get("/stream"));
        const [r] = await c.responses(1);
        assert.deepEqual(r!.headers["transfer-encoding"], ["chunked"]);
        assert.equal(r!.headers["content-length"], undefined);
        assert.equal(r!.body, "one,two,three");
        assert.equal(c.closed, false);
      }),
    ));

  test("a ReadableStream body is close-delimited on HTTP/1.0", () =>
    withServer(framingApp, {}, async (s) => {
      const r = await raw(s.port, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", { timeoutMs: 2000 });
      assert.equal(r.closed, true, "the connection was not closed to end the body");
      const [res] = parseResponses(r.text);
      assert.equal(res!.headers["content-length"], undefined);
      assert.equal(res!.headers["transfer-encoding"], undefined);
      assert.notDeepEqual(res!.headers["connection"], ["keep-alive"]);
      assert.equal(res!.body, "one,two,three");
    }));
});

// ─── backpressure ───────────────────────────────────────────────────────────────────────────────────────────

describe("backpressure", { timeout: 20_000 }, () => {
  test("response side: a client that reads nothing stops the app's stream from being pulled", async () => {
    const CHUNK = 64 * 1024;
    let pulled = 0;
    let resolveCancel!: () => void;
    const cancelled = new Promise<void>((r) => (resolveCancel = r));
    await withServer(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(ctrl) {
              if (pulled >= 2000) {
                ctrl.close();
                return;
              }
              pulled++;
              ctrl.enqueue(new Uint8Array(CHUNK));
            },
            cancel() {
              resolveCancel();
            },
          }),
        ),
      {},
      async (s) => {
        const c = await Session.open(s.port, { paused: true });
        try {
          c.write(get());
          await sleep(500);
          assert.ok(pulled > 0, "the stream was never pulled");
          assert.ok(pulled < 200, `the server pulled ${pulled} chunks (${(pulled * CHUNK) / 2 ** 20} MiB) for a client that reads nothing`);
        } finally {
          c.destroy();
        }
        const ok = await settlesWithin(cancelled, 2000);
        assert.equal(ok, true, "the stream's cancel() was not called after the client went away");
      },
    );
  });

  test("request side: a body the app does not read is not read from the socket", () =>
    withServer(
      async () => {
        await sleep(900);
        return new Response("ignored");
      },
      { limitRequestBody: 100 * 1024 * 1024 },
      async (s) => {
        const TOTAL = 50 * 1024 * 1024;
        const c = await Session.open(s.port);
        try {
          c.write(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${TOTAL}\r\n\r\n`);
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          let accepted = 0;
          // What the kernel took (socket buffers on both ends), not what sits in this process.
          const taken = (): number => accepted - c.sock.writableLength;
          const t0 = Date.now();
          let at350 = -1;
          while (Date.now() - t0 < 750 && accepted < TOTAL && !c.closed) {
            if (at350 < 0 && Date.now() - t0 >= 350) at350 = taken();
            const ok = c.write(chunk);
            accepted += chunk.length;
            if (!ok) await settlesWithin(new Promise((r) => c.sock.once("drain", r)), 25);
          }
          const at750 = taken();
          const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
          assert.ok(at350 >= 0, "the client loop stalled");
          // A server that keeps reading lets the client go on writing; one that stopped leaves it stuck.
          assert.ok(at750 - at350 < 1024 * 1024, `the client wrote ${mib(at750 - at350)} more between 350 and 750 ms: the server kept reading`);
          assert.ok(at750 < 8 * 1024 * 1024, `the client could write ${mib(at750)} of an unread 50 MiB body`);
          assert.equal(s.seen.length, 1);
          const [r] = await c.responses(1, 3000);
          assert.equal(r!.body, "ignored");
          assert.deepEqual(r!.headers["connection"], ["close"]);
        } finally {
          c.destroy();
        }
      },
    ));
});

// ─── unread request bodies ──────────────────────────────────────────────────────────────────────────────────

describe("unread request bodies", { timeout: 20_000 }, () => {
  test("a small unread body is drained and the connection stays usable", () =>
    withServer((req) => new Response(`ok ${req.method}`), {}, (s) =>
      withClient(s.port, async (c) => {
        const body = Buffer.alloc(1024, 0x62);
        // Half the body before the response, half after: the rest must be drained, not taken for a request.
        c.write(Buffer.concat([Buffer.from("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n"), body.subarray(0, 512)]));
        const [r1] = await c.responses(1);
        assert.equal(r1!.body, "ok POST");
        assert.equal(r1!.headers["connection"], undefined);
        c.write(Buffer.concat([body.subarray(512), Buffer.from(get("/next"))]));
        const rs = await c.responses(2);
        assert.equal(rs.length, 2, "the body bytes were parsed as a request");
        assert.equal(rs[1]!.status, 200);
        assert.equal(rs[1]!.body, "ok GET");
        assert.equal(c.closed, false);
      }),
    ));

  test("a large (1 MiB) unread body: the response carries Connection: close", () =>
    withServer(() => new Response("ignored"), {}, (s) =>
      withClient(s.port, async (c) => {
        const n = 1024 * 1024;
        c.write(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${n}\r\n\r\n`);
        c.write(Buffer.alloc(n, 0x63));
        const [r] = await c.responses(1);
        assert.equal(r!.body, "ignored");
        assert.deepEqual(r!.headers["connection"], ["close"]);
        assert.equal(await c.waitClosed(3000), true);
      }),
    ));
});

// ─── refusals reach the client ──────────────────────────────────────────────────────────────────────────────

describe("refusals", { timeout: 20_000 }, () => {
  test("413 for a too-large Content-Length reaches a client that keeps sending", () =>
    withServer(hello, { limitRequestBody: 1024 * 1024 }, (s) =>
      withClient(s.port, async (c) => {
        c.write(`POST / HTTP/1.1\r\nHost: t\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
        const chunk = Buffer.alloc(64 * 1024, 0x64);
        let sent = 0;
        let full: ParsedResponse[] = [];
        const deadline = Date.now() + 3000;
        // Keep sending (about 8 MiB) while reading, as a client uploading without waiting would.
        while (Date.now() < deadline && sent < 8 * 1024 * 1024 && !c.closed) {
          if (!c.write(chunk)) await settlesWithin(new Promise((r) => c.sock.once("drain", r)), 20);
          sent += chunk.length;
          await new Promise((r) => setImmediate(r));
        }
        await c.waitFor((t) => (full = completeResponses(t)).length >= 1, 3000, "the 413 response");
        assert.equal(full[0]!.status, 413);
        assert.equal(full[0]!.body, "Content Too Large\n");
        assert.deepEqual(full[0]!.headers["connection"], ["close"]);
        assert.equal(s.seen.length, 0, "the app was called for a refused request");
      }),
    ));
});

// ─── timeouts ───────────────────────────────────────────────────────────────────────────────────────────────

const SHORT = { headerTimeout: 300, keepAliveTimeout: 300, requestTimeout: 300 };

describe("timeouts", { timeout: 20_000 }, () => {
  test("a partial head then silence: 408 and close", () =>
    withServer(hello, SHORT, (s) =>
      withClient(s.port, async (c) => {
        c.write("GET / HTTP/1.1\r\nHost: t\r\n");
        const [r] = await c.responses(1, 2000);
        assert.equal(r!.status, 408);
        const at = c.chunks[0]!.at - c.startedAt;
        assert.ok(at >= 250 && at < 1500, `408 after ${at} ms, headerTimeout is 300`);
        assert.equal(await c.waitClosed(1500), true);
        assert.equal(s.seen.length, 0);
      }),
    ));

  test("a connection that sends nothing is closed without a response", () =>
    withServer(hello, SHORT, (s) =>
      withClient(s.port, async (c) => {
        assert.equal(await c.waitClosed(2000), true, "an idle new connection was never closed");
        const at = c.closedAt - c.startedAt;
        assert.ok(at >= 250 && at < 1500, `closed after ${at} ms, headerTimeout is 300`);
        assert.equal(c.text, "");
      }),
    ));

  test("an idle kept-alive connection is closed after keepAliveTimeout", () =>
    withServer(hello, SHORT, (s) =>
      withClient(s.port, async (c) => {
        c.write(get());
        await c.responses(1);
        const answeredAt = performance.now();
        assert.equal(await c.waitClosed(2000), true, "an idle kept-alive connection was never closed");
        const idle = c.closedAt - answeredAt;
        assert.ok(idle >= 200 && idle < 1500, `closed ${idle} ms after the response, keepAliveTimeout is 300`);
        assert.equal(parseResponses(c.text).length, 1, "something besides the response was sent");
      }),
    ));

  test("connections armed at different times each expire at their own deadline; a re-armed one moves back", () =>
    // Connections with the same timeout share one queue and one Node timer: each must still close no earlier than
    // its own keep-alive period after its own last response, however the others come and go.
    withServer(hello, { ...SHORT, headerTimeout: 5000, keepAliveTimeout: 600 }, async (s) => {
      const clients = await Promise.all([Session.open(s.port), Session.open(s.port), Session.open(s.port)]);
      const [a, b, c] = clients as [Session, Session, Session];
      try {
        const lastAnswer = new Map<Session, number>();
        const ask = async (cl: Session, n: number): Promise<void> => {
          cl.write(get());
          await cl.responses(n);
          lastAnswer.set(cl, performance.now());
        };
        await ask(a, 1);
        await sleep(100);
        await ask(b, 1);
        await sleep(400);
        await ask(a, 2); // re-armed: now due about 400 ms after b
        await sleep(100);
        await ask(c, 1);
        for (const cl of clients) assert.equal(await cl.waitClosed(3000), true, "an idle kept-alive connection was never closed");
        for (const [name, cl] of [["a", a], ["b", b], ["c", c]] as const) {
          const idle = cl.closedAt - lastAnswer.get(cl)!;
          assert.ok(idle >= 500 && idle < 2500, `${name} closed ${idle} ms after its last response, keepAliveTimeout is 600`);
        }
        assert.ok(b.closedAt < a.closedAt && a.closedAt <= c.closedAt, `closing order b < a ≤ c: ${b.closedAt} ${a.closedAt} ${c.closedAt}`);
      } finally {
        for (const cl of clients) cl.sock.destroy();
      }
    }));

  test("a body that stalls mid-way: 408 and close", () => {
    let appError: unknown = null;
    return withServer(
      async (req) => {
        try {
          return new Response(await req.text());
        } catch (err) {
          appError = err;
          throw err;
        }
      },
      SHORT,
      (s) =>
        withClient(s.port, async (c) => {
          c.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
          const [r] = await c.responses(1, 2000);
          assert.equal(r!.status, 408);
          assert.equal(await c.waitClosed(1500), true);
          await sleep(20);
          assert.ok(appError !== null, "the app's body read did not fail");
        }),
    );
  });
});

// ─── leaks and shutdown ─────────────────────────────────────────────────────────────────────────────────────

describe("no leaks", { timeout: 30_000 }, () => {
  test("after good, bad, timed-out and aborted connections, no connection is left", async () => {
    const s = await startServer(
      async (req) => {
        const p = new URL(req.url).pathname;
        if (p === "/stream") return new Response(slowStream(Array.from({ length: 100 }, () => "x".repeat(1000)), 20));
        if (p === "/read") return new Response(await req.text());
        return new Response("ok");
      },
      SHORT,
    );
    try {
      await Promise.all([
        // good: keep-alive, client closes
        withClient(s.port, async (c) => {
          c.write(get());
          await c.responses(1);
        }),
        // good: fetch
        fetch(s.url).then((r) => r.text()),
        // good: Connection: close
        raw(s.port, get("/", "Connection: close\r\n")),
        // bad request
        raw(s.port, "NOT HTTP\r\n\r\n"),
        // bad chunked body
        raw(s.port, "POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        // timed-out head
        raw(s.port, "GET / HTTP/1.1\r\n", { timeoutMs: 1500 }),
        // silent
        raw(s.port, [], { timeoutMs: 1500 }),
        // idle keep-alive, left to time out
        raw(s.port, get(), { timeoutMs: 1500 }),
        // timed-out body
        raw(s.port, "POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12", { timeoutMs: 1500 }),
        // aborted mid-body
        withClient(s.port, async (c) => {
          c.write("POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc");
          await sleep(50);
        }),
        // aborted mid-response
        withClient(s.port, async (c) => {
          c.write(get("/stream"));
          await c.waitFor((t) => t.includes("xxxx"), 2000);
        }),
        // reset with a request pending
        withClient(s.port, async (c) => {
          c.write(get());
          c.sock.resetAndDestroy();
        }),
      ]);
      const deadline = Date.now() + 4000;
      while (s.server.connections.size > 0 && Date.now() < deadline) await sleep(25);
      assert.equal(s.server.connections.size, 0, `${s.server.connections.size} connection(s) leaked`);
    } finally {
      const closed = await settlesWithin(s.close(), 3000);
      assert.equal(closed, true, "server.close() did not resolve");
    }
  });

  test("close() resolves promptly with an idle kept-alive connection open, and closes it", async () => {
    const s = await startServer(hello);
    const c = await Session.open(s.port);
    try {
      c.write(get());
      await c.responses(1);
      const t0 = Date.now();
      const closed = await settlesWithin(s.close(), 3000);
      assert.equal(closed, true, "server.close() did not resolve");
      assert.ok(Date.now() - t0 < 900, `close() took ${Date.now() - t0} ms with only an idle connection`);
      assert.equal(await c.waitClosed(1000), true, "the idle connection was not closed");
      assert.equal(s.server.connections.size, 0);
    } finally {
      c.destroy();
    }
  });
});

// ─── abort signal ───────────────────────────────────────────────────────────────────────────────────────────

describe("request.signal", { timeout: 20_000 }, () => {
  test("a client that disconnects mid-response aborts the request's signal", async () => {
    let aborted!: () => void;
    const abortedP = new Promise<void>((r) => (aborted = r));
    let signal: AbortSignal | null = null;
    await withServer(
      (req) => {
        signal = req.signal;
        req.signal.addEventListener("abort", () => aborted());
        let sent = false;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(ctrl) {
              if (!sent) {
                sent = true;
                ctrl.enqueue(new TextEncoder().encode("first"));
                return;
              }
              await new Promise<void>(() => {}); // the rest never comes
            },
          }),
        );
      },
      {},
      async (s) => {
        await withClient(s.port, async (c) => {
          c.write(get());
          await c.waitFor((t) => t.includes("first"), 2000);
          assert.equal(signal!.aborted, false, "aborted before the client went away");
        });
        const ok = await settlesWithin(abortedP, 2000);
        assert.equal(ok, true, "request.signal did not fire abort");
        assert.equal(signal!.aborted, true);
      },
    );
  });

  test("a complete response does not abort the signal, even when the client closes afterwards", async () => {
    const signals: AbortSignal[] = [];
    await withServer(
      (req) => {
        signals.push(req.signal);
        return new Response("done");
      },
      {},
      async (s) => {
        await withClient(s.port, async (c) => {
          c.write(get() + "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
          await c.responses(2);
          await sleep(100);
        });
        await fetch(s.url).then((r) => r.text());
        await sleep(200);
        assert.equal(signals.length, 3);
        for (const [i, sig] of signals.entries()) assert.equal(sig.aborted, false, `request ${i}'s signal aborted after a complete response`);
      },
    );
  });
});
