/**
 * Behind proxies: real nginx (started by the test on loopback, with keep-alive upstream connections and a TLS
 * listener) in front of oryx, forwarded headers believed only from trusted peers, and the PROXY protocol (v1 from
 * curl --haproxy-protocol, v1 and v2 from raw sockets). Loopback has many addresses: clients connect from
 * 127.0.0.2…127.0.0.9 so that who is trusted is visible.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { selfSigned, type Pem } from "../support/certs.ts";
import { ensureBuilt, ROOT } from "../support/cli.ts";
import { raw } from "../support/client.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { parseResponses } from "../support/response.ts";
import { killNginxes, startNginx } from "../support/nginx.ts";
import { freePort } from "../support/wait.ts";

const run = promisify(execFile);
const WHOAMI = path.join(ROOT, "test", "fixtures", "whoami.ts");
const NODE_WHOAMI = path.join(ROOT, "test", "fixtures", "node-whoami.ts");

interface Seen {
  url: string;
  remoteAddress: string;
  remotePort: number;
  forwardedFor: string | null;
}

let dir: string;
let cert: Pem;

before(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "oryx-proxies-"));
  cert = selfSigned(dir, "edge", "oryx-edge");
});
after(async () => {
  killNginxes();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** nginx in the foreground, proxying to oryx on `upstream` with kept-alive connections from 127.0.0.1. */
async function nginxTo(upstream: number): Promise<{ http: number; https: number; stop(): Promise<void> }> {
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const nginx = await startNginx({
    home: mkdtempSync(path.join(dir, "nginx-")),
    upstream: [`server 127.0.0.1:${upstream};`, "keepalive 4;"],
    port: httpPort,
    listen: [`127.0.0.1:${httpsPort} ssl`],
    server: [`ssl_certificate ${cert.certFile};`, `ssl_certificate_key ${cert.keyFile};`],
    location: ["proxy_set_header Host $http_host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header X-Forwarded-Proto $scheme;", "proxy_bind 127.0.0.1;"],
  });
  return { http: httpPort, https: httpsPort, stop: nginx.stop };
}

/** curl from a chosen loopback address; resolves with what the app saw. */
async function curlFrom(from: string, url: string, headers: string[] = [], extra: string[] = []): Promise<Seen> {
  const args = ["-sS", "--max-time", "10", "--interface", from, ...extra];
  for (const h of headers) args.push("-H", h);
  const r = await run("curl", [...args, url]);
  return JSON.parse(r.stdout) as Seen;
}

/** One request on a raw socket from `from`, after `preamble` bytes; resolves with everything the server sent. */
async function rawFrom(from: string, port: number, preamble: Buffer | string, request = "GET /raw HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"): Promise<string> {
  const r = await raw(port, [Buffer.concat([Buffer.from(preamble), Buffer.from(request)])], { localAddress: from, timeoutMs: 10_000 });
  if (r.error !== "") throw new Error(`${r.error} from ${from}; got ${JSON.stringify(r.text)}`);
  if (!r.closed) throw new Error(`timeout; got ${JSON.stringify(r.text)}`);
  return r.text;
}

/** The one response in `response` is a 200; what the app saw, from its JSON body. */
function bodyOf(response: string): Seen {
  assert.match(response, /^HTTP\/1\.1 200 /, response);
  const rs = parseResponses(response);
  assert.equal(rs.length, 1, response);
  return JSON.parse(rs[0]!.body) as Seen;
}

/** A PROXY v2 header for TCP over IPv4. */
function proxyV2(src: string, dst: string, sport: number, dport: number, command: "proxy" | "local" = "proxy"): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const head = Buffer.from([command === "proxy" ? 0x21 : 0x20, 0x11, 0x00, 12]);
  const addr = Buffer.alloc(12);
  src.split(".").forEach((b, i) => (addr[i] = Number(b)));
  dst.split(".").forEach((b, i) => (addr[4 + i] = Number(b)));
  addr.writeUInt16BE(sport, 8);
  addr.writeUInt16BE(dport, 10);
  return Buffer.concat([sig, head, addr]);
}

describe("behind nginx", () => {
  test("through nginx, the app sees the real client and scheme because nginx is trusted; sent directly, the same headers are ignored", async () => {
    const o = await launch([...LOCAL, "-w", "2", "--forwarded-allow-ips", "127.0.0.1", WHOAMI]);
    const nginx = await nginxTo(o.port);
    try {
      const viaHttp = await curlFrom("127.0.0.2", `http://127.0.0.1:${nginx.http}/a?b=c`);
      assert.equal(viaHttp.remoteAddress, "127.0.0.2", "the client's address, from X-Forwarded-For");
      assert.equal(viaHttp.url, `http://127.0.0.1:${nginx.http}/a?b=c`);

      const viaHttps = await curlFrom("127.0.0.4", `https://127.0.0.1:${nginx.https}/secure`, [], ["--cacert", cert.certFile]);
      assert.equal(viaHttps.remoteAddress, "127.0.0.4");
      assert.equal(viaHttps.url, `https://127.0.0.1:${nginx.https}/secure`, "the scheme nginx saw, from X-Forwarded-Proto");

      // A client lying to nginx: nginx appends the real address; the lie is the leftmost hop, not believed.
      const liar = await curlFrom("127.0.0.5", `http://127.0.0.1:${nginx.http}/`, ["X-Forwarded-For: 203.0.113.9"]);
      assert.equal(liar.forwardedFor, "203.0.113.9, 127.0.0.5");
      assert.equal(liar.remoteAddress, "127.0.0.5");

      // Many requests over nginx's kept-alive upstream connections, from alternating clients: each sees its own.
      for (let i = 0; i < 10; i++) {
        const from = i % 2 === 0 ? "127.0.0.6" : "127.0.0.7";
        assert.equal((await curlFrom(from, `http://127.0.0.1:${nginx.http}/n${i}`)).remoteAddress, from);
      }

      // Directly from an untrusted address, forwarded headers pass through untouched and change nothing.
      const direct = await curlFrom("127.0.0.3", `http://127.0.0.1:${o.port}/direct`, [
        "X-Forwarded-For: 203.0.113.7",
        "X-Forwarded-Proto: https",
        "X-Forwarded-Host: evil.example",
        "Forwarded: for=203.0.113.8;proto=https;host=evil.example",
      ]);
      assert.equal(direct.remoteAddress, "127.0.0.3");
      assert.equal(direct.url, `http://127.0.0.1:${o.port}/direct`);
      assert.equal(direct.forwardedFor, "203.0.113.7", "the header reaches the app unchanged");
    } finally {
      await nginx.stop();
    }
    assert.equal((await stop(o)).code, 0);
  });

  test("with nginx's address not trusted, requests through it show nginx as the client", async () => {
    const o = await launch([...LOCAL, "--forwarded-allow-ips", "10.0.0.0/8", WHOAMI]);
    const nginx = await nginxTo(o.port);
    try {
      const seen = await curlFrom("127.0.0.2", `https://127.0.0.1:${nginx.https}/x`, [], ["--cacert", cert.certFile]);
      assert.equal(seen.remoteAddress, "127.0.0.1");
      assert.match(seen.url, /^http:\/\//);
      assert.equal(seen.forwardedFor, "127.0.0.2");
    } finally {
      await nginx.stop();
    }
    assert.equal((await stop(o)).code, 0);
  });
});

describe("the PROXY protocol (--proxy-protocol)", () => {
  test("v1 from curl --haproxy-protocol, v1 and v2 from raw sockets, from a trusted peer; refused from others (2 workers)", async () => {
    const o = await launch([...LOCAL, "-w", "2", "--proxy-protocol", "--forwarded-allow-ips", "127.0.0.1,127.0.0.2", WHOAMI]);
    const curl = await run("curl", ["-sS", "--max-time", "10", "--haproxy-protocol", `http://127.0.0.1:${o.port}/curl`]);
    const viaCurl = JSON.parse(curl.stdout) as Seen;
    assert.equal(viaCurl.remoteAddress, "127.0.0.1");
    assert.equal(viaCurl.url, `http://127.0.0.1:${o.port}/curl`);

    const v1 = bodyOf(await rawFrom("127.0.0.2", o.port, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n"));
    assert.deepEqual([v1.remoteAddress, v1.remotePort], ["203.0.113.7", 40000]);
    const v1six = bodyOf(await rawFrom("127.0.0.1", o.port, "PROXY TCP6 2001:db8::7 ::1 40001 443\r\n"));
    assert.deepEqual([v1six.remoteAddress, v1six.remotePort], ["2001:db8::7", 40001]);
    const v2 = bodyOf(await rawFrom("127.0.0.2", o.port, proxyV2("198.51.100.4", "127.0.0.1", 50000, 443)));
    assert.deepEqual([v2.remoteAddress, v2.remotePort], ["198.51.100.4", 50000]);
    // LOCAL (a proxy's health check): the real peer.
    const local = bodyOf(await rawFrom("127.0.0.2", o.port, proxyV2("198.51.100.4", "127.0.0.1", 50000, 443, "local")));
    assert.equal(local.remoteAddress, "127.0.0.2");
    // The header split across writes, and a pipelined pair of requests after it.
    const twoRequests = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const pipelined = await rawFrom("127.0.0.2", o.port, "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n", twoRequests);
    assert.equal((pipelined.match(/HTTP\/1\.1 200 /g) ?? []).length, 2, pipelined);
    assert.equal((pipelined.match(/"remoteAddress":"192\.0\.2\.1"/g) ?? []).length, 2);
    // A trusted peer may also speak HTTP directly.
    assert.equal(bodyOf(await rawFrom("127.0.0.2", o.port, "")).remoteAddress, "127.0.0.2");

    // From an untrusted peer: a PROXY header is refused (400, closed); the app never sees it.
    const refused = await rawFrom("127.0.0.3", o.port, "PROXY TCP4 203.0.113.7 127.0.0.1 40000 443\r\n");
    assert.match(refused, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(refused, /203\.0\.113\.7/);
    const refusedV2 = await rawFrom("127.0.0.3", o.port, proxyV2("198.51.100.4", "127.0.0.1", 50000, 443));
    assert.match(refusedV2, /^HTTP\/1\.1 400 /);
    // … but plain HTTP from it is served, as itself.
    assert.equal(bodyOf(await rawFrom("127.0.0.3", o.port, "")).remoteAddress, "127.0.0.3");
    // A malformed header from a trusted peer: 400.
    assert.match(await rawFrom("127.0.0.2", o.port, "PROXY TCP4 203.0.113.777 127.0.0.1 1 2\r\n"), /^HTTP\/1\.1 400 /);
    assert.equal((await stop(o)).code, 0);
  });

  test("PROXY header before TLS (curl --haproxy-protocol over https), and for a Node app", async () => {
    const o = await launch([...LOCAL, "--proxy-protocol", "--certfile", cert.certFile, "--keyfile", cert.keyFile, WHOAMI]);
    const curl = await run("curl", ["-sS", "--max-time", "10", "--haproxy-protocol", "--cacert", cert.certFile, `https://127.0.0.1:${o.port}/tls`]);
    assert.equal((JSON.parse(curl.stdout) as Seen).url, `https://127.0.0.1:${o.port}/tls`);
    // A raw PROXY v2 header, then TLS on the same socket.
    const seen = await new Promise<Seen>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: o.port }, () => {
        s.write(proxyV2("198.51.100.9", "127.0.0.1", 6000, 443));
        const t = tls.connect({ socket: s, ca: cert.cert, servername: "localhost" }, () => {
          t.end("GET /v2tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        });
        let got = "";
        t.setEncoding("latin1");
        t.on("data", (d) => (got += d));
        t.on("end", () => resolve(bodyOf(got)));
        t.on("error", reject);
      });
      s.on("error", reject);
    });
    assert.equal(seen.remoteAddress, "198.51.100.9");
    assert.equal(seen.url, "https://localhost/v2tls");
    assert.equal((await stop(o)).code, 0);

    const node = await launch([...LOCAL, "--proxy-protocol", NODE_WHOAMI]);
    const viaNode = bodyOf(await rawFrom("127.0.0.1", node.port, "PROXY TCP4 203.0.113.70 127.0.0.1 41000 80\r\n"));
    assert.deepEqual([viaNode.remoteAddress, viaNode.remotePort], ["203.0.113.70", 41000]);
    assert.equal((await stop(node)).code, 0);
  });
});
