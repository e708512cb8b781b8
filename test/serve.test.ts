/**
 * The programmatic API: `serve({ fetch, port, hostname, ... })` in this process, on the same engine as the CLI.
 * Started and closed many times without leaking descriptors or handles; graceful close; TLS; Unix sockets.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { serve, ListenError, type ServeOptions } from "../src/index.ts";
import { SETTINGS, SETTING_SCOPES } from "../src/config/settings.ts";
import { selfSigned, type Pem } from "./support/certs.ts";
import { raw } from "./support/client.ts";

let dir: string;
let cert: Pem;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), "oryx-serve-"));
  cert = selfSigned(dir, "serve", "oryx-serve");
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fds = (): number => readdirSync("/proc/self/fd").length;
/** Active handles and requests by kind, without the ones that come and go with the test runner's own I/O. */
const resources = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "PipeWrap").sort();

describe("serve()", () => {
  test("answers a fetch handler on a free port and reports where", async () => {
    const server = serve({ fetch: (req, info) => new Response(`${req.method} ${new URL(req.url).pathname} from ${info.remoteAddress}`), port: 0, onListen: false });
    await server.ready();
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(new URL(server.url).pathname, "/");
    assert.ok(server.port > 0);
    assert.equal(server.hostname, "127.0.0.1");
    const res = await fetch(`${server.url}hi`);
    assert.equal(await res.text(), "GET /hi from 127.0.0.1");
    await server.close();
    await server.finished;
    await assert.rejects(fetch(`${server.url}hi`), "closed: nothing listens");
  });

  test("started and closed 100 times: no descriptor or handle left behind", async () => {
    // Warm up once (lazy module state, the first fetch's connection pool), then measure.
    const warm = serve({ fetch: () => new Response("w"), port: 0, onListen: false });
    await warm.ready();
    await (await fetch(warm.url, { headers: { connection: "close" } })).text();
    await warm.close();
    await new Promise((r) => setTimeout(r, 50));
    const fdBefore = fds();
    const resBefore = resources();
    for (let i = 0; i < 100; i++) {
      const s = serve({ fetch: () => new Response(String(i)), port: 0, onListen: false });
      await s.ready();
      const body = (await raw(s.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", { end: true, timeoutMs: 10_000 })).text;
      assert.match(body, new RegExp(`\\r\\n\\r\\n${i}$`));
      await s.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fds(), fdBefore, "descriptors");
    assert.deepEqual(resources(), resBefore, "active handles");
  });

  test("close() is graceful: a request in flight finishes, new connections are refused", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const server = serve({
      fetch: async () => {
        started();
        await gate;
        return new Response("finished");
      },
      port: 0,
      onListen: false,
    });
    await server.ready();
    const pending = fetch(`${server.url}slow`);
    await inFlight;
    const closed = server.close();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(
      new Promise((resolve, reject) => {
        const c = net.connect(server.port, "127.0.0.1", () => resolve(c));
        c.on("error", reject);
      }),
      "no new connections once closing",
    );
    release();
    const res = await pending;
    assert.equal(await res.text(), "finished");
    assert.equal(res.headers.get("connection"), "close");
    await closed;
  });

  test("engine settings by the config file's names; an AbortSignal closes it", async () => {
    const ac = new AbortController();
    const server = serve({ fetch: async (req) => new Response(await req.text()), port: 0, onListen: false, serverHeader: "embedded", limitRequestBody: "1k", signal: ac.signal });
    await server.ready();
    const ok = await fetch(server.url, { method: "POST", body: "x".repeat(100) });
    assert.equal(ok.headers.get("server"), "embedded");
    assert.equal((await ok.text()).length, 100);
    const big = await fetch(server.url, { method: "POST", body: "x".repeat(2000) });
    assert.equal(big.status, 413);
    ac.abort();
    await server.finished;
    assert.throws(() => serve({ fetch: () => new Response(""), port: 0, timeout: 5 } as never), /timeout/);
    assert.throws(() => serve({ fetch: () => new Response(""), port: 0, workerConnections: 1 } as never), /workerConnections/);
    assert.throws(() => serve({ fetch: () => new Response(""), port: 0, keepAliveTimeout: "soon" }), /keepAliveTimeout/);
  });

  test("TLS from PEM texts or files, and a Unix socket", async () => {
    const server = serve({ fetch: (req) => new Response(req.url), port: 0, tls: { cert: cert.cert, key: cert.key }, onListen: false });
    await server.ready();
    assert.match(server.url, /^https:\/\//);
    const body = await new Promise<string>((resolve, reject) => {
      https.get(`${server.url}tls`, { ca: cert.cert, agent: false }, (res) => {
        let b = "";
        res.on("data", (d) => (b += d));
        res.on("end", () => resolve(b));
      }).on("error", reject);
    });
    assert.equal(body, `https://127.0.0.1:${server.port}/tls`);
    await server.close();

    const fromFiles = serve({ fetch: () => new Response("f"), port: 0, tls: { certFile: cert.certFile, keyFile: cert.keyFile }, onListen: false });
    await fromFiles.ready();
    assert.match(fromFiles.url, /^https:/);
    await fromFiles.close();

    const sock = path.join(dir, "serve.sock");
    const overUnix = serve({ fetch: (req) => new Response(req.url), unix: sock, onListen: false });
    await overUnix.ready();
    assert.equal(overUnix.url, `unix:${sock}`);
    const got = (await raw(0, "GET /u HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", { path: sock, end: true, timeoutMs: 10_000 })).text;
    assert.match(got, /\r\n\r\nhttp:\/\/localhost\/u$/);
    await overUnix.close();
  });

  test("a port in use: ready() rejects with a ListenError; nothing is left open", async () => {
    const first = serve({ fetch: () => new Response("1"), port: 0, onListen: false });
    await first.ready();
    const before = fds();
    const second = serve({ fetch: () => new Response("2"), port: first.port, onListen: false });
    await assert.rejects(second.ready(), (err: Error) => err instanceof ListenError && /address already in use/.test(err.message));
    await second.close();
    assert.equal(fds(), before);
    await first.close();
  });

  test("refuses every setting of the CLI's master and workers (scope cli), and takes every engine setting", async () => {
    const fetch = (): Response => new Response("x");
    const cliKeys = SETTINGS.filter((s) => SETTING_SCOPES[s.key] === "cli").map((s) => s.key);
    assert.ok(cliKeys.includes("workers") && cliKeys.includes("metricsBind") && cliKeys.includes("reload"), cliKeys.join());
    for (const key of [...cliKeys, "app"]) {
      const options = { fetch, port: 0, onListen: false, [key]: "x" } as unknown as ServeOptions;
      assert.throws(() => serve(options), (e: unknown) => e instanceof TypeError && e.message.startsWith(`serve() has no ${key} option`), key);
    }
    // An engine setting (one of each kind) is taken and applied: the Server header is the one asked for.
    const server = serve({ fetch, port: 0, onListen: false, serverHeader: "scoped", keepAliveTimeout: 2, limitRequestBody: "8k", forwardedAllowIps: ["127.0.0.1"] });
    await server.ready();
    const res = await globalThis.fetch(server.url);
    assert.equal(res.headers.get("server"), "scoped");
    await res.arrayBuffer();
    await server.close();
  });
});
