/**
 * HTTPS: oryx's engine under node:tls, with whole processes and real clients (curl, Node's fetch, node:https),
 * certificates made by openssl in the test. Also mutual TLS and the certificate reload on SIGHUP.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { authority, clientCert, selfSigned, type Pem } from "../support/certs.ts";
import { ensureBuilt, ROOT, runCli } from "../support/cli.ts";
import { cleanup, launch, LOCAL, stop } from "../support/pool.ts";
import { alive, signal } from "../support/proc.ts";
import { until } from "../support/wait.ts";

const run = promisify(execFile);
const WHOAMI = path.join(ROOT, "test", "fixtures", "whoami.ts");
const NODE_WHOAMI = path.join(ROOT, "test", "fixtures", "node-whoami.ts");

let dir: string;
let server: Pem;

before(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "oryx-tls-"));
  server = selfSigned(dir, "server", "oryx-test-one");
});
after(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** One HTTPS GET with node:https; resolves with the status, body and the server certificate's common name. */
function get(url: string, opts: { ca: string; cert?: string; key?: string }): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...opts, agent: false }, (res) => {
      const cn = String((res.socket as tls.TLSSocket).getPeerCertificate().subject?.CN ?? "");
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, cn }));
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
  });
}

/** The common name of the certificate a TLS server presents (without trusting it). */
function presentedCN(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? "");
      s.destroy();
      resolve(cn);
    });
    s.on("error", reject);
  });
}

describe("HTTPS with --certfile and --keyfile", () => {
  test("curl and Node's fetch get answers over TLS from 2 workers; the app sees an https URL", async () => {
    const o = await launch([...LOCAL, "-w", "2", "--certfile", server.certFile, "--keyfile", server.keyFile, WHOAMI]);
    assert.match(o.urls[0]!, /^https:\/\/127\.0\.0\.1:\d+$/, "the startup line names an https URL");
    const url = `${o.urls[0]}/path?q=1`;

    const curl = await run("curl", ["-sS", "--cacert", server.certFile, url]);
    const seen = JSON.parse(curl.stdout) as { url: string; remoteAddress: string };
    assert.equal(seen.url, `https://127.0.0.1:${o.port}/path?q=1`);
    assert.equal(seen.remoteAddress, "127.0.0.1");

    // Node's fetch, in a child process that trusts the test certificate.
    const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()))`;
    const viaFetch = await run(process.execPath, ["-e", script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: server.certFile } });
    assert.match(viaFetch.stdout, /^200 \{.*"url":"https:\/\/127\.0\.0\.1:\d+\/path\?q=1"/);

    // Keep-alive over TLS: several requests on one connection, answered by both workers across connections.
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const r = await get(url, { ca: server.cert });
      assert.equal(r.status, 200);
      assert.equal(r.cn, "oryx-test-one");
      pids.add((JSON.parse(r.body) as { pid: number }).pid);
    }
    assert.ok(pids.size >= 1);

    // Plain HTTP to the TLS port is not served.
    const plain = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${o.port}/`]).catch((e: { stdout: string }) => e);
    assert.notEqual(plain.stdout, "200");
    // A failed handshake does not hurt the next client.
    assert.equal((await get(url, { ca: server.cert })).status, 200);
    assert.equal((await stop(o)).code, 0);
  });

  test("a Node (req, res) app runs over TLS and sees an encrypted socket", async () => {
    const o = await launch([...LOCAL, "--certfile", server.certFile, "--keyfile", server.keyFile, NODE_WHOAMI]);
    const r = await get(`${o.urls[0]}/x`, { ca: server.cert });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { encrypted: boolean; url: string };
    assert.equal(seen.encrypted, true);
    assert.equal(seen.url, "/x");
    assert.equal((await stop(o)).code, 0);
  });

  test("SIGHUP picks up a new certificate from the same files", async () => {
    const live = mkdtempSync(path.join(dir, "live-"));
    const certFile = path.join(live, "tls.crt");
    const keyFile = path.join(live, "tls.key");
    copyFileSync(server.certFile, certFile);
    copyFileSync(server.keyFile, keyFile);
    const o = await launch([...LOCAL, "-w", "2", "--certfile", certFile, "--keyfile", keyFile, WHOAMI]);
    assert.equal(await presentedCN(o.port), "oryx-test-one");
    const oldWorkers = o.workers();
    const next = selfSigned(dir, "renewed", "oryx-test-two");
    copyFileSync(next.certFile, certFile);
    copyFileSync(next.keyFile, keyFile);
    signal(o.pid, "SIGHUP");
    let cn = "";
    const deadline = Date.now() + 20_000;
    while (cn !== "oryx-test-two" && Date.now() < deadline) {
      cn = await presentedCN(o.port);
      if (cn !== "oryx-test-two") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(cn, "oryx-test-two", "after SIGHUP the new workers present the new certificate");
    // Once the old workers are gone, every connection gets it.
    await until(() => oldWorkers.every((w) => !alive(w)), 20_000, "the old workers to stop");
    for (let i = 0; i < 10; i++) assert.equal(await presentedCN(o.port), "oryx-test-two");
    assert.equal((await stop(o)).code, 0);
  });
});

describe("mutual TLS with --ca-certs", () => {
  test("a client certificate signed by the CA is required", async () => {
    const ca = authority(dir, "clients-ca");
    const good = clientCert(dir, "alice", ca);
    const otherCa = authority(dir, "other-ca");
    const stranger = clientCert(dir, "mallory", otherCa);
    const o = await launch([...LOCAL, "--certfile", server.certFile, "--keyfile", server.keyFile, "--ca-certs", ca.certFile, WHOAMI]);
    const url = `${o.urls[0]}/`;
    const ok = await get(url, { ca: server.cert, cert: good.cert, key: good.key });
    assert.equal(ok.status, 200);
    const curlOk = await run("curl", ["-sS", "--cacert", server.certFile, "--cert", good.certFile, "--key", good.keyFile, url]);
    assert.match(curlOk.stdout, /"url":"https:/);
    await assert.rejects(get(url, { ca: server.cert }), "no client certificate: refused");
    await assert.rejects(get(url, { ca: server.cert, cert: stranger.cert, key: stranger.key }), "a certificate from another CA: refused");
    assert.equal((await get(url, { ca: server.cert, cert: good.cert, key: good.key })).status, 200, "still serving");
    assert.equal((await stop(o)).code, 0);
  });
});

describe("TLS settings errors", () => {
  test("a missing file, a lone --certfile, and a key that is not PEM each get one sentence and exit 2", async () => {
    const missing = await runCli(["--certfile", path.join(dir, "nope.crt"), "--keyfile", server.keyFile, WHOAMI]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.crt: no such file/);
    const lone = await runCli(["--certfile", server.certFile, WHOAMI]);
    assert.equal(lone.code, 2);
    assert.match(lone.stderr, /--certfile needs --keyfile/);
    const bad = await runCli([...LOCAL, "--certfile", server.certFile, "--keyfile", path.join(ROOT, "package.json"), WHOAMI]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^oryx: cannot use the TLS certificate or key: /m);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  });
});
