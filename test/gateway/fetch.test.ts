/**
 * The fetch gateway, end to end through oryx's engine: what the app is handed (a real Request and the
 * connection info), how abort signals behave, and how every kind of Response goes out on the wire.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { inspect } from "node:util";
import { after, before, describe, test } from "node:test";
import type { ConnectionInfo } from "../../src/gateway/exchange.ts";
import { ClientGoneError } from "../../src/errors.ts";
import app from "../../examples/hono.ts";
import { raw, Session } from "../support/client.ts";
import { parseResponses } from "../support/response.ts";
import { startServer, type TestServer } from "../support/server.ts";
import { sleep } from "../support/wait.ts";

/** A promise and its resolver. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Rejects if `p` does not settle within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

const onlyResponse = (text: string) => {
  const rs = parseResponses(text);
  assert.equal(rs.length, 1, `expected one response, got ${JSON.stringify(text)}`);
  return rs[0]!;
};

const countLines = (text: string, re: RegExp): number => text.slice(0, text.indexOf("\r\n\r\n")).split("\r\n").filter((l) => re.test(l)).length;

// ─── the Request ────────────────────────────────────────────────────────────────────────────────────────────

describe("the Request the app receives", () => {
  let s: TestServer;
  const bodies: Array<string | null> = [];
  before(async () => {
    s = await startServer(async (req) => {
      bodies.push(req.body === null ? null : await req.text());
      return new Response("ok");
    });
  });
  after(() => s.close());

  test("is a real Request with an absolute URL built from Host and the target", async () => {
    const r = await raw(s.port, "GET /path/to?q=1&r=two HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(r.text).status, 200);
    const req = s.seen.at(-1)!;
    assert.ok(req instanceof Request, "the app should get a Request");
    assert.equal(req.url, "http://example.test:8080/path/to?q=1&r=two");
    assert.equal(req.method, "GET");
    const url = new URL(req.url);
    assert.equal(url.host, "example.test:8080");
    assert.equal(url.searchParams.get("r"), "two");
  });

  test("an absolute-form target's authority wins over Host", async () => {
    const r = await raw(s.port, "GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(r.text).status, 200);
    assert.equal(s.seen.at(-1)!.url, "http://example.com/x?y=1");
  });

  test("an absolute-form target's scheme is the connection's: https:// over plain TCP is not believed", async () => {
    const r = await raw(s.port, "GET https://example.com/x HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(r.text).status, 200);
    assert.equal(s.seen.at(-1)!.url, "http://example.com/x");
    const r2 = await raw(s.port, "GET HTTPS://example.com:443/y HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(r2.text).status, 200);
    assert.equal(s.seen.at(-1)!.url, "http://example.com:443/y");
  });

  test("method and headers, with repeated headers combined as fetch does", async () => {
    const r = await raw(
      s.port,
      "DELETE /thing HTTP/1.1\r\nHost: a\r\nX-Multi: one\r\nX-Single: solo\r\nx-multi: two\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n",
    );
    assert.equal(onlyResponse(r.text).status, 200);
    const req = s.seen.at(-1)!;
    assert.equal(req.method, "DELETE");
    assert.equal(req.headers.get("x-single"), "solo");
    assert.equal(req.headers.get("x-multi"), "one, two");
    assert.equal(req.headers.get("cookie"), "a=1; b=2");
    assert.equal(req.headers.get("host"), "a");
  });

  test("GET and HEAD have a null body; POST has its body", async () => {
    const before = bodies.length;
    const r = await raw(
      s.port,
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n" +
        "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" +
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\npayload",
    );
    assert.equal(r.text.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 3, r.text);
    assert.deepEqual(bodies.slice(before), [null, null, "payload"]);
    const [get, head, post] = s.seen.slice(-3);
    assert.equal(get!.method, "GET");
    assert.equal(get!.body, null);
    assert.equal(head!.method, "HEAD");
    assert.equal(head!.body, null);
    assert.equal(post!.method, "POST");
  });
});

describe("a request body streams to the app", () => {
  test("Content-Length body: the handler runs before the body is complete and reads all of it", async () => {
    const called = deferred();
    let read: string | null = null;
    const s = await startServer(async (req) => {
      called.resolve();
      read = await req.text();
      return new Response(`got ${read.length}`);
    });
    try {
      const c = await Session.open(s.port);
      c.write("POST /up HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello");
      await within(called.promise, 2000, "the handler was not called before the whole body arrived");
      await sleep(50);
      assert.equal(read, null, "the app cannot have the whole body yet");
      assert.equal(c.text, "", "no response before the body is complete");
      c.write("world");
      const text = await c.waitFor((t) => t.includes("got 10"), 2000, "the response");
      assert.equal(read, "helloworld");
      assert.equal(onlyResponse(text).body, "got 10");
      c.destroy();
    } finally {
      await s.close();
    }
  });

  test("chunked body: the app sees the first chunk before the last one is sent", async () => {
    const chunks: string[] = [];
    const firstChunk = deferred();
    const s = await startServer(async (req) => {
      assert.ok(req.body !== null);
      const dec = new TextDecoder();
      for await (const c of req.body) {
        chunks.push(dec.decode(c, { stream: true }));
        firstChunk.resolve();
      }
      return new Response(chunks.join(""));
    });
    try {
      const c = await Session.open(s.port);
      c.write("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n");
      await within(firstChunk.promise, 2000, "the first chunk did not reach the app");
      assert.equal(chunks.join(""), "hello");
      c.write("6\r\n world\r\n0\r\n\r\n");
      const text = await c.waitFor((t) => t.endsWith("hello world"), 2000, "the response");
      assert.equal(onlyResponse(text).body, "hello world");
      c.destroy();
    } finally {
      await s.close();
    }
  });
});

describe("the connection info (second argument)", () => {
  test("remote and local address and port, and Deno's remoteAddr", async () => {
    let info: ConnectionInfo | null = null;
    const s = await startServer((_req, i) => {
      info = i;
      return new Response("ok");
    });
    try {
      const c = await Session.open(s.port);
      c.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      await c.waitClosed(2000);
      assert.equal(onlyResponse(c.text).status, 200);
      assert.ok(info !== null);
      const got = info as ConnectionInfo;
      assert.equal(got.remoteAddress, "127.0.0.1");
      assert.equal(got.remotePort, c.localPort);
      assert.equal(got.localAddress, "127.0.0.1");
      assert.equal(got.localPort, s.port);
      assert.deepEqual({ ...got.remoteAddr }, { transport: "tcp", hostname: "127.0.0.1", port: c.localPort });
    } finally {
      await s.close();
    }
  });
});

describe("the connection info as other servers' helpers read it", () => {
  test("JSON and console.log show its facts; Bun's requestIP and @hono/node-server's incoming.socket name the client", async () => {
    let json = "";
    let viaBun: unknown = null;
    let viaNode: unknown = null;
    let shown = "";
    const s = await startServer((req, i) => {
      json = JSON.stringify(i);
      viaBun = i.requestIP(req);
      viaNode = { ...i.incoming.socket };
      shown = inspect(i);
      return new Response("ok");
    });
    try {
      const c = await Session.open(s.port);
      c.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      await c.waitClosed(2000);
      assert.equal(onlyResponse(c.text).status, 200);
      assert.deepEqual(JSON.parse(json), {
        remoteAddress: "127.0.0.1",
        remotePort: c.localPort,
        remoteFamily: "IPv4",
        localAddress: "127.0.0.1",
        localPort: s.port,
        remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: c.localPort },
      });
      assert.deepEqual(viaBun, { address: "127.0.0.1", family: "IPv4", port: c.localPort });
      assert.deepEqual(viaNode, { remoteAddress: "127.0.0.1", remotePort: c.localPort, remoteFamily: "IPv4" });
      assert.match(shown, new RegExp(`remoteAddress: '127\\.0\\.0\\.1',\\s+remotePort: ${c.localPort},`), "console.log shows the facts");
    } finally {
      await s.close();
    }
  });
});

describe("pipelined requests to an async handler", () => {
  test("answers come in order and whole, whether the app answers in a microtask, after a timer, or streams", async () => {
    const s = await startServer(async (req) => {
      const url = new URL(req.url);
      const n = Number(url.searchParams.get("n"));
      if (n % 5 === 1) await sleep(5);
      if (req.method === "POST") return new Response(`posted ${n}: ${await req.text()}`);
      if (n % 7 === 3) {
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode(`streamed ${n}`));
              c.close();
            },
          }),
        );
      }
      return new Response(`answer ${n}`, { headers: { "x-n": String(n) } });
    });
    try {
      let wire = "";
      const expected: string[] = [];
      for (let n = 0; n < 40; n++) {
        if (n % 4 === 2) {
          const body = `body-${n}`;
          wire += `POST /?n=${n} HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          expected.push(`posted ${n}: ${body}`);
        } else {
          wire += `GET /?n=${n} HTTP/1.1\r\nHost: a\r\n\r\n`;
          expected.push(n % 7 === 3 ? `streamed ${n}` : `answer ${n}`);
        }
      }
      wire += "GET /?n=99 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
      expected.push("answer 99");
      const r = await raw(s.port, wire, { timeoutMs: 5000 });
      const got = parseResponses(r.text);
      assert.deepEqual(got.map((x) => x.body), expected);
      assert.ok(got.every((x) => x.status === 200));
    } finally {
      await s.close();
    }
  });
});

describe("a large response to a client that reads slowly", () => {
  test("arrives whole with the send timeout armed (the default), byte for byte", async () => {
    const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
    const s = await startServer(() => new Response(big), { sendTimeout: 30_000 });
    try {
      const got = await new Promise<Buffer>((resolve, reject) => {
        const parts: Buffer[] = [];
        const c = net.connect(s.port, "127.0.0.1", () => c.write("GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        // Read nothing for a while, so the server's writes queue up and the send timeout is armed.
        c.pause();
        setTimeout(() => c.resume(), 300);
        c.on("data", (d: Buffer) => parts.push(d));
        c.on("end", () => resolve(Buffer.concat(parts)));
        c.on("error", reject);
      });
      const head = got.indexOf("\r\n\r\n");
      assert.match(got.subarray(0, head).toString("latin1"), /^HTTP\/1\.1 200 OK/);
      assert.ok(Buffer.from(big).equals(got.subarray(head + 4)), "the body, byte for byte");
      assert.equal(s.logs.filter((l) => /ERROR/.test(l)).length, 0, s.logs.join("\n"));
    } finally {
      await s.close();
    }
  });
});

describe("a client that goes away is not an application error", () => {
  test("the body of an upload cut short fails with a ClientGoneError (code ORYX_ERR_CLIENT_GONE) the app can tell apart", async () => {
    let failure: unknown = null;
    const s = await startServer(async (req) => {
      try {
        return new Response(String((await req.arrayBuffer()).byteLength));
      } catch (err) {
        failure = err;
        throw err;
      }
    });
    try {
      const c = net.connect(s.port, "127.0.0.1", () => {
        c.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${"x".repeat(5000)}`);
        setTimeout(() => c.destroy(), 50);
      });
      c.on("error", () => {});
      for (let i = 0; i < 100 && failure === null; i++) await sleep(20);
      assert.ok(failure instanceof ClientGoneError, String(failure));
      assert.equal(failure.code, "ORYX_ERR_CLIENT_GONE");
    } finally {
      await s.close();
    }
  });

  test("uploads cut short: one line at info each, no stack, and no more than 5 a second plus a count", async () => {
    const s = await startServer(async (req) => new Response(String((await req.arrayBuffer()).byteLength)));
    try {
      const cut = (): Promise<void> =>
        new Promise((resolve) => {
          const c = net.connect(s.port, "127.0.0.1", () => {
            c.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n${"x".repeat(5000)}`);
            setTimeout(() => c.destroy(), 50);
          });
          c.on("close", () => resolve());
          c.on("error", () => {});
        });
      await sleep(1100); // the limit's window is per process: start one of our own
      await Promise.all(Array.from({ length: 12 }, cut));
      await sleep(1100);
      await cut(); // a new second: the count of the ones left out comes first
      await sleep(100);
      const gone = s.logs.filter((l) => /went away/.test(l));
      assert.equal(s.logs.filter((l) => /\[ERROR\]/.test(l)).length, 0, s.logs.join("\n"));
      assert.ok(gone.every((l) => /\[INFO\]/.test(l)), gone.join("\n"));
      assert.equal(gone.filter((l) => /a client went away before its response to POST \/upload/.test(l)).length, 6, gone.join("\n"));
      assert.ok(gone.some((l) => /^.*7 more clients went away/.test(l)), gone.join("\n"));
      assert.ok(!s.logs.some((l) => /\n\s+at /.test(l)), "no stack");
    } finally {
      await s.close();
    }
  });
});

describe("a Response from anywhere", () => {
  // A class that implements the Fetch standard's Response interface without being undici's, as
  // @whatwg-node's PonyfillResponse (GraphQL Yoga) does: its headers have forEach and getSetCookie, its body is
  // an async iterable with a getReader of its own.
  class PonyHeaders {
    readonly #fields: Array<[string, string]>;
    constructor(fields: Array<[string, string]>) {
      this.#fields = fields;
    }
    forEach(cb: (value: string, name: string) => void): void {
      const joined = new Map<string, string>();
      for (const [n, v] of this.#fields) if (n.toLowerCase() !== "set-cookie") joined.set(n, joined.has(n) ? `${joined.get(n)}, ${v}` : v);
      for (const [n, v] of joined) cb(v, n);
      const cookies = this.getSetCookie();
      if (cookies.length > 0) cb(cookies.join(", "), "set-cookie");
    }
    getSetCookie(): string[] {
      return this.#fields.filter(([n]) => n.toLowerCase() === "set-cookie").map(([, v]) => v);
    }
  }
  class PonyResponse {
    readonly status: number;
    readonly statusText: string;
    readonly headers: PonyHeaders;
    readonly #chunks: string[] | null;
    constructor(chunks: string[] | null, status: number, fields: Array<[string, string]>) {
      this.#chunks = chunks;
      this.status = status;
      this.statusText = "Pony";
      this.headers = new PonyHeaders(fields);
    }
    get body(): AsyncIterable<Uint8Array> | null {
      const chunks = this.#chunks;
      if (chunks === null) return null;
      return (async function* () {
        for (const c of chunks) yield new TextEncoder().encode(c);
      })();
    }
  }

  let s: TestServer;
  before(async () => {
    s = await startServer(async (req): Promise<Response> => {
      const url = new URL(req.url);
      switch (url.pathname) {
        case "/redirect":
          return Response.redirect(new URL("/there", url), 301);
        case "/error":
          return Response.error();
        case "/clone":
          return new Response("cloned", { headers: { "x-c": "1" } }).clone();
        case "/pony":
          return new PonyResponse(["po", "ny"], 202, [["X-Pony", "1"], ["Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"], ["Set-Cookie", "b=2"]]) as unknown as Response;
        case "/pony-empty":
          return new PonyResponse(null, 204, []) as unknown as Response;
        case "/pony-bad-header":
          return new PonyResponse(["x"], 200, [["bad name", "1"]]) as unknown as Response;
        case "/object":
          return { status: 200 } as unknown as Response;
        default:
          return new Response("still serving");
      }
    });
  });
  after(() => s.close());

  const get = async (target: string) => parseResponses((await raw(s.port, `GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`)).text)[0]!;

  test("Response.redirect and clones go out as they say", async () => {
    const r = await get("/redirect");
    assert.equal(r.status, 301);
    assert.deepEqual(r.headers["location"], ["http://a/there"]);
    const c = await get("/clone");
    assert.equal(c.status, 200);
    assert.deepEqual(c.headers["x-c"], ["1"]);
    assert.equal(c.body, "cloned");
  });

  test("another class's Response: status, reason, headers (each Set-Cookie apart) and a streamed body", async () => {
    const res = await raw(s.port, "GET /pony HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const r = parseResponses(res.text)[0]!;
    assert.match(res.text, /^HTTP\/1\.1 202 Pony\r\n/);
    assert.deepEqual(r.headers["x-pony"], ["1"]);
    assert.deepEqual(r.headers["set-cookie"], ["a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT", "b=2"]);
    assert.equal(r.body, "pony");
    const empty = await get("/pony-empty");
    assert.equal(empty.status, 204);
    assert.equal(empty.body, "");
  });

  test("Response.error(), a header name that is no token, and a value that is no Response get a 500; the server goes on", async () => {
    for (const target of ["/error", "/pony-bad-header", "/object"]) {
      const r = await get(target);
      assert.equal(r.status, 500, target);
    }
    assert.equal((await get("/")).body, "still serving");
  });
});

describe("request.signal", () => {
  let s: TestServer;
  const slowStarted = deferred<Request>();
  const abortSeen = deferred<unknown>();
  before(async () => {
    s = await startServer((req) => {
      if (new URL(req.url).pathname !== "/slow") return new Response("fast");
      slowStarted.resolve(req);
      return new Promise<Response>((resolve) => {
        const timer = setTimeout(() => resolve(new Response("slow done")), 5000);
        req.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          abortSeen.resolve(req.signal.reason);
          resolve(new Response("too late"));
        });
      });
    });
  });
  after(() => s.close());

  test("aborts when the client leaves before the response is complete", async () => {
    const c = await Session.open(s.port);
    c.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    const req = await within(slowStarted.promise, 2000, "the slow handler did not start");
    await sleep(30);
    assert.equal(req.signal.aborted, false, "not aborted while the client is still there");
    c.destroy();
    await within(abortSeen.promise, 2000, "the app never saw the abort");
    assert.equal(req.signal.aborted, true);
  });

  test("does not abort after a normal request, on close or on keep-alive", async () => {
    const r = await raw(s.port, "GET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(r.text).body, "fast");
    const closedReq = s.seen.at(-1)!;
    const c = await Session.open(s.port);
    c.write("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
    await c.waitFor((t) => t.endsWith("fast"), 2000, "the response");
    const keptReq = s.seen.at(-1)!;
    assert.notEqual(keptReq, closedReq);
    c.destroy(); // the client leaves an idle kept-alive connection
    await sleep(100);
    assert.equal(closedReq.signal.aborted, false);
    assert.equal(keptReq.signal.aborted, false);
  });
});

// ─── the Response ───────────────────────────────────────────────────────────────────────────────────────────

describe("responses", () => {
  let s: TestServer;
  const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
  before(async () => {
    s = await startServer((req) => {
      const path = new URL(req.url).pathname;
      switch (path) {
        case "/status":
          return new Response("fine", { status: 299, statusText: "Fine" });
        case "/standard-reason":
          return new Response("missing", { status: 404, statusText: "" });
        case "/created":
          return new Response(null, { status: 201 });
        case "/cookies": {
          const h = new Headers();
          h.append("set-cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/");
          h.append("set-cookie", "b=2; HttpOnly");
          h.append("x-other", "yes");
          return new Response("c", { headers: h });
        }
        case "/string":
          return new Response("héllo wörld");
        case "/uint8array":
          return new Response(bytes);
        case "/arraybuffer":
          return new Response(bytes.slice().buffer);
        case "/blob":
          return new Response(new Blob(["<svg/>"], { type: "image/svg+xml" }));
        case "/blob-untyped":
          return new Response(new Blob(["plain blob"]));
        case "/formdata": {
          const fd = new FormData();
          fd.append("name", "oryx");
          fd.append("file", new Blob(["file contents\n"], { type: "text/plain" }), "a.txt");
          return new Response(fd);
        }
        case "/urlsearchparams":
          return new Response(new URLSearchParams({ a: "1", b: "two words" }));
        case "/stream":
          return new Response(
            new ReadableStream<Uint8Array>({
              async start(c) {
                c.enqueue(new TextEncoder().encode("first,"));
                await sleep(20);
                c.enqueue(new TextEncoder().encode("second"));
                c.close();
              },
            }),
          );
        case "/string-stream":
          return new Response(
            new ReadableStream<string>({
              async start(c) {
                c.enqueue("ab");
                await sleep(10);
                c.enqueue("cd€");
                c.close();
              },
            }) as unknown as ReadableStream<Uint8Array>,
          );
        case "/null":
          return new Response(null);
        default:
          return new Response("not found", { status: 404 });
      }
    });
  });
  after(() => s.close());

  const get = async (path: string) => {
    const r = await raw(s.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    assert.ok(r.closed, `the server should close after ${path}`);
    return { text: r.text, res: onlyResponse(r.text) };
  };

  test("custom status and statusText go on the status line", async () => {
    const { text, res } = await get("/status");
    assert.ok(text.startsWith("HTTP/1.1 299 Fine\r\n"), text);
    assert.equal(res.body, "fine");
  });

  test("an empty statusText uses the standard reason phrase", async () => {
    assert.ok((await get("/standard-reason")).text.startsWith("HTTP/1.1 404 Not Found\r\n"));
    assert.ok((await get("/created")).text.startsWith("HTTP/1.1 201 Created\r\n"));
  });

  test("several Set-Cookie stay separate header lines", async () => {
    const { text, res } = await get("/cookies");
    assert.equal(countLines(text, /^set-cookie:/i), 2);
    assert.deepEqual(res.headers["set-cookie"], ["a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", "b=2; HttpOnly"]);
    assert.deepEqual(res.headers["x-other"], ["yes"]);
  });

  test("a string body, UTF-8, with fetch's default content-type", async () => {
    const { res } = await get("/string");
    assert.equal(Buffer.from(res.body, "latin1").toString("utf8"), "héllo wörld");
    assert.deepEqual(res.headers["content-type"], ["text/plain;charset=UTF-8"]);
    assert.deepEqual(res.headers["content-length"], [String(Buffer.byteLength("héllo wörld"))]);
  });

  test("Uint8Array and ArrayBuffer bodies, byte for byte, with no content-type", async () => {
    for (const path of ["/uint8array", "/arraybuffer"]) {
      const { res } = await get(path);
      assert.deepEqual([...Buffer.from(res.body, "latin1")], [...bytes], path);
      assert.equal(res.headers["content-type"], undefined, path);
      assert.deepEqual(res.headers["content-length"], [String(bytes.length)], path);
    }
  });

  test("Blob bodies: the blob's type, or none", async () => {
    const typed = await get("/blob");
    assert.equal(typed.res.body, "<svg/>");
    assert.deepEqual(typed.res.headers["content-type"], ["image/svg+xml"]);
    const untyped = await get("/blob-untyped");
    assert.equal(untyped.res.body, "plain blob");
    assert.equal(untyped.res.headers["content-type"], undefined);
  });

  test("FormData: multipart with its boundary, parsing back to the same fields", async () => {
    const { res } = await get("/formdata");
    const ct = res.headers["content-type"]?.[0] ?? "";
    const m = /^multipart\/form-data; boundary=(.+)$/.exec(ct);
    assert.ok(m, `content-type: ${ct}`);
    const body = Buffer.from(res.body, "latin1");
    assert.ok(res.body.includes(`--${m[1]}`), "the body uses the announced boundary");
    assert.ok(res.body.includes(`--${m[1]}--`), "the body is terminated");
    const parsed = await new Response(body, { headers: { "content-type": ct } }).formData();
    assert.equal(parsed.get("name"), "oryx");
    const file = parsed.get("file");
    assert.ok(file instanceof Blob);
    assert.equal(await file.text(), "file contents\n");
    assert.equal((file as File).name, "a.txt");
  });

  test("URLSearchParams: form-urlencoded", async () => {
    const { res } = await get("/urlsearchparams");
    assert.equal(res.body, "a=1&b=two+words");
    assert.deepEqual(res.headers["content-type"], ["application/x-www-form-urlencoded;charset=UTF-8"]);
  });

  test("a ReadableStream body of bytes, and one that enqueues strings", async () => {
    const bytesStream = await get("/stream");
    assert.equal(bytesStream.res.body, "first,second");
    assert.equal(bytesStream.res.headers["content-type"], undefined);
    const strings = await get("/string-stream");
    assert.equal(strings.res.status, 200);
    assert.equal(Buffer.from(strings.res.body, "latin1").toString("utf8"), "abcd€");
  });

  test("a null body: empty, Content-Length 0, no content-type", async () => {
    const { text, res } = await get("/null");
    assert.equal(res.status, 200);
    assert.equal(res.body, "");
    assert.deepEqual(res.headers["content-length"], ["0"]);
    assert.equal(res.headers["content-type"], undefined);
    assert.ok(text.endsWith("\r\n\r\n"));
  });
});

describe("a streaming response (server-sent events)", () => {
  test("the head and the first event arrive before the second is produced", async () => {
    const produced: number[] = [];
    let interval: NodeJS.Timeout | undefined;
    const s = await startServer(() => {
      const enc = new TextEncoder();
      let i = 0;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          produced.push(performance.now());
          c.enqueue(enc.encode(`data: event ${i++}\n\n`));
          interval = setInterval(() => {
            produced.push(performance.now());
            c.enqueue(enc.encode(`data: event ${i++}\n\n`));
            if (i === 4) {
              clearInterval(interval);
              c.close();
            }
          }, 100);
        },
        cancel() {
          clearInterval(interval);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    });
    try {
      const c = await Session.open(s.port);
      c.write("GET /events HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n");
      await c.waitClosed(3000);
      clearInterval(interval);
      const res = onlyResponse(c.text);
      assert.deepEqual(res.headers["content-type"], ["text/event-stream"]);
      assert.deepEqual(res.headers["transfer-encoding"], ["chunked"]);
      assert.equal(res.body, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\ndata: event 3\n\n");
      assert.equal(produced.length, 4);
      const headAt = c.firstArrival("\r\n\r\n");
      const firstAt = c.firstArrival("data: event 0");
      const secondAt = c.firstArrival("data: event 1");
      assert.ok(headAt !== undefined && firstAt !== undefined && secondAt !== undefined);
      assert.ok(headAt < produced[1]!, `head arrived ${headAt - produced[1]!} ms after the second event was produced`);
      assert.ok(firstAt < produced[1]!, `first event arrived ${firstAt - produced[1]!} ms after the second was produced`);
      assert.ok(secondAt >= produced[1]!);
      assert.ok(c.text.endsWith("0\r\n\r\n"), "the stream ends with the last chunk");
    } finally {
      clearInterval(interval);
      await s.close();
    }
  });
});

describe("a streamed body no response may carry", () => {
  test("a 204 Response-like with a stream: the head alone, and the stream is cancelled, not read", async () => {
    let pulls = 0;
    let cancelled = false;
    const s = await startServer(() => {
      const enc = new TextEncoder();
      // Endless: a stream read to its end here would never finish the response.
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          pulls++;
          c.enqueue(enc.encode("never sent"));
          return new Promise((r) => setTimeout(r, 5));
        },
        cancel() {
          cancelled = true;
        },
      });
      // undici's Response refuses a body with 204; a Response-like class (as other libraries have) does not.
      return { status: 204, statusText: "", headers: new Headers({ "x-a": "1" }), body } as unknown as Response;
    });
    try {
      const c = await Session.open(s.port);
      c.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      await c.waitClosed(3000);
      const text = c.text;
      assert.ok(text.startsWith("HTTP/1.1 204 No Content\r\n"), text);
      assert.ok(text.endsWith("\r\n\r\n"), "nothing after the head");
      assert.equal(text.includes("never sent"), false);
      assert.equal(/transfer-encoding|content-length/i.test(text), false, text);
      assert.equal(cancelled, true, "the stream was cancelled");
      assert.ok(pulls <= 3, `the stream was read ${pulls} times`);
    } finally {
      await s.close();
    }
  });
});

// ─── app failures ───────────────────────────────────────────────────────────────────────────────────────────

describe("an app that fails", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer((req): Response | Promise<Response> => {
      switch (new URL(req.url).pathname) {
        case "/throw":
          throw new Error("secret-throw-4711");
        case "/reject":
          return Promise.reject(new Error("secret-reject-4712"));
        case "/string":
          return "a string, not a Response" as unknown as Response;
        case "/undefined":
          return undefined as unknown as Response;
        case "/stream-error":
          return new Response(
            new ReadableStream<Uint8Array>({
              async start(c) {
                c.enqueue(new TextEncoder().encode("partial"));
                await sleep(30);
                c.error(new Error("secret-stream-4713"));
              },
            }),
          );
        default:
          return new Response("still serving");
      }
    });
  });
  after(() => s.close());

  const cases: Array<{ path: string; logged: RegExp }> = [
    { path: "/throw", logged: /secret-throw-4711/ },
    { path: "/reject", logged: /secret-reject-4712/ },
    { path: "/string", logged: /not a Response/ },
    { path: "/undefined", logged: /not a Response/ },
  ];
  for (const { path, logged } of cases) {
    test(`${path}: 500 with a generic body, the stack in the log, and the server goes on`, async () => {
      const logsBefore = s.logs.length;
      const r = await raw(s.port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      const res = onlyResponse(r.text);
      assert.equal(res.status, 500);
      assert.doesNotMatch(r.text, /secret-/);
      assert.doesNotMatch(res.body, /\n\s+at |TypeError|\.ts:\d/);
      assert.doesNotMatch(res.body, logged);
      const newLogs = s.logs.slice(logsBefore).join("");
      assert.match(newLogs, logged);
      assert.match(newLogs, /\n\s+at /, "the log holds a stack trace");
      const next = await raw(s.port, "GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      const ok = onlyResponse(next.text);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, "still serving");
    });
  }

  test("a stream that errors after the head: the connection closes without a terminating chunk", async () => {
    const logsBefore = s.logs.length;
    const r = await raw(s.port, "GET /stream-error HTTP/1.1\r\nHost: a\r\n\r\n", { timeoutMs: 2000 });
    assert.ok(r.closed, "the server must close the connection");
    assert.ok(r.text.startsWith("HTTP/1.1 200 OK\r\n"), r.text);
    assert.match(r.text, /\r\ntransfer-encoding: chunked\r\n/i);
    assert.ok(r.text.includes("partial"));
    assert.ok(!r.text.endsWith("0\r\n\r\n"), "no last chunk: the client must not take the body as complete");
    assert.doesNotMatch(r.text, /secret-stream-4713/);
    await sleep(20);
    assert.match(s.logs.slice(logsBefore).join(""), /secret-stream-4713/);
    const next = await raw(s.port, "GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(onlyResponse(next.text).body, "still serving");
  });
});

describe("framing headers belong to oryx", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer((req) => {
      switch (new URL(req.url).pathname) {
        case "/wrong-length":
          return new Response("hello", { headers: { "content-length": "100" } });
        case "/te-stream":
          return new Response(
            new ReadableStream<Uint8Array>({
              async start(c) {
                c.enqueue(new TextEncoder().encode("one "));
                await sleep(20);
                c.enqueue(new TextEncoder().encode("two"));
                c.close();
              },
            }),
            { headers: { "transfer-encoding": "chunked" } },
          );
        case "/te-string":
          return new Response("plain", { headers: { "transfer-encoding": "chunked" } });
        default:
          return new Response("next");
      }
    });
  });
  after(() => s.close());

  test("a wrong app Content-Length on a string body is replaced by the real one", async () => {
    const r = await raw(s.port, "GET /wrong-length HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const rs = parseResponses(r.text);
    assert.equal(rs.length, 2, r.text);
    assert.deepEqual(rs[0]!.headers["content-length"], ["5"]);
    assert.equal(rs[0]!.body, "hello");
    assert.equal(rs[1]!.body, "next");
  });

  test("an app Transfer-Encoding is not duplicated on a stream", async () => {
    const r = await raw(s.port, "GET /te-stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert.equal(countLines(r.text, /^transfer-encoding:/i), 1, r.text);
    assert.equal(countLines(r.text, /^content-length:/i), 0, r.text);
    assert.equal(onlyResponse(r.text).body, "one two");
  });

  test("an app Transfer-Encoding does not go out beside a Content-Length", async () => {
    const r = await raw(s.port, "GET /te-string HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const head = r.text.slice(0, r.text.indexOf("\r\n\r\n"));
    assert.doesNotMatch(head, /^transfer-encoding:/im);
    const rs = parseResponses(r.text);
    assert.equal(rs.length, 2, r.text);
    assert.deepEqual(rs[0]!.headers["content-length"], ["5"]);
    assert.equal(rs[0]!.body, "plain");
    assert.equal(rs[1]!.body, "next");
  });
});

// ─── a real framework ───────────────────────────────────────────────────────────────────────────────────────

describe("Hono (examples/hono.ts) through the gateway", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer((req, info) => app.fetch(req, info));
  });
  after(() => s.close());

  test("GET / and a route with a parameter", async () => {
    const root = await fetch(`${s.url}/`);
    assert.equal(root.status, 200);
    assert.equal(await root.text(), "Hello from Hono!");
    const user = await fetch(`${s.url}/users/7`, { headers: { "user-agent": "oryx-test/1" } });
    assert.equal(user.status, 200);
    assert.match(user.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await user.json(), { id: "7", agent: "oryx-test/1" });
  });

  test("POST /echo: JSON in, 201 and JSON out", async () => {
    const res = await fetch(`${s.url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: [1, 2], b: "x" }) });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { received: { a: [1, 2], b: "x" } });
  });

  test("/stream streams its ticks", async () => {
    const r = await raw(s.port, "GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", { timeoutMs: 3000 });
    const res = onlyResponse(r.text);
    assert.equal(res.status, 200);
    assert.equal(res.body, "tick 1\ntick 2\ntick 3\n");
  });

  test("/error goes through onError as a 500 JSON; unknown paths get the 404 JSON", async () => {
    const err = await fetch(`${s.url}/error`);
    assert.equal(err.status, 500);
    assert.deepEqual(await err.json(), { error: "boom" });
    const missing = await fetch(`${s.url}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "not found" });
  });
});
