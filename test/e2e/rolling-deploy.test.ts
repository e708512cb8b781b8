/**
 * The rolling deploy of issue 20, for real on this machine: nginx in front of two oryx instances (-w 2 each,
 * --shutdown-delay), 50 busy keep-alive clients through nginx, and each instance stopped with SIGTERM and started
 * again in turn, twice. Not one request may fail. nginx is the upstream config of docs/deploy/nginx.conf (keep-alive
 * to the backends, the next instance tried on a refused connection). Every process is started here and killed by
 * pid in `after`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../support/cli.ts";
import { cleanup, launch, type Oryx, stop } from "../support/pool.ts";
import { killNginxes, startNginx, type Nginx } from "../support/nginx.ts";
import { freePort, until, within } from "../support/wait.ts";

const CLIENTS = 50;
const dir = mkdtempSync(path.join(tmpdir(), "oryx-rolling-"));
let nginx: Nginx | null = null;

before(ensureBuilt);
after(async () => {
  killNginxes();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** nginx in front of `upstreams` as docs/deploy/nginx.conf has it: kept-alive, the next instance tried on a refusal. */
async function nginxTo(upstreams: number[]): Promise<number> {
  const port = await freePort();
  nginx = await startNginx({
    home: dir,
    upstream: [...upstreams.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`), "keepalive 64;"],
    port,
    location: ["proxy_next_upstream error timeout;", "proxy_next_upstream_tries 2;", "proxy_connect_timeout 1s;"],
    workerConnections: 1024,
  });
  return port;
}

/** `n` clients, each with its own kept-alive connection to nginx, sending GETs back to back until stopped. */
function clients(port: number, n: number): { ok: () => number; stop(): Promise<{ ok: number; failed: string[] }> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/", agent, timeout: 10_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          if (res.statusCode === 200 && body === "Hello, World!") ok++;
          else failed.push(`${res.statusCode}: ${body.slice(0, 80)}`);
          resolve();
        });
        res.on("error", (e) => {
          failed.push(e.message);
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => {
        failed.push((e as NodeJS.ErrnoException).code ?? e.message);
        resolve();
      });
    });
  const loops = Array.from({ length: n }, async () => {
    while (running) await one();
  });
  return {
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed };
    },
  };
}

async function readyz(admin: string): Promise<number> {
  try {
    return (await fetch(`${admin}/readyz`)).status;
  } catch {
    return 0;
  }
}

describe("a rolling deploy behind nginx", () => {
  test("two instances, 50 busy keep-alive clients, each instance stopped (SIGTERM, --shutdown-delay) and started again in turn, twice: 0 failed requests", async () => {
    const ports = [await freePort(), await freePort()];
    const start = async (port: number): Promise<{ o: Oryx; admin: string }> => {
      const o = await launch(["examples/hello.ts", "-w", "2", "-b", `127.0.0.1:${port}`, "--metrics-bind", "127.0.0.1:0", "--shutdown-delay", "1s", "--graceful-timeout", "10s"]);
      const m = await o.waitLog(/admin listener at (http:\/\/[^\s]+)/, 5000, "the admin line");
      return { o, admin: m[1]! };
    };
    const instances = [await start(ports[0]!), await start(ports[1]!)];
    const proxy = await nginxTo(ports);
    const load = clients(proxy, CLIENTS);
    try {
      await until(() => load.ok() >= 500, 30_000, "traffic through nginx");
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < instances.length; i++) {
          const { o, admin } = instances[i]!;
          const before = load.ok();
          const exit = within(stop(o, "SIGTERM", 30_000), 30_000, `instance ${i} to stop`);
          // Not ready from the SIGTERM on, while it still serves through the delay.
          let status = 200;
          while ((status = await readyz(admin)) === 200) await new Promise((r) => setTimeout(r, 10));
          assert.equal(status, 503, "/readyz during the delay");
          const exited = await exit;
          assert.equal(exited.code, 0, `instance ${i} exited ${exited.code ?? exited.signal}: ${o.stderr()}`);
          assert.match(o.stderr(), /not ready any more[\s\S]*--shutdown-delay is over: stopping/);
          instances[i] = await start(ports[i]!);
          const deadline = Date.now() + 10_000;
          while ((status = await readyz(instances[i]!.admin)) !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          assert.equal(status, 200, "/readyz of the restarted instance");
          // Both instances serve again before the next is stopped.
          await until(() => load.ok() >= before + 200, 30_000, "traffic after the restart");
        }
      }
    } finally {
      const { ok, failed } = await load.stop();
      process.stderr.write(`# rolling deploy: ${ok} requests through nginx, ${failed.length} failed\n`);
      // Why nginx answered 502 is in its error log, gone with its directory after the test: its last lines then.
      const errorLog = path.join(dir, "error.log");
      const why = failed.length > 0 && existsSync(errorLog) ? `\nnginx's error log ends:\n${readFileSync(errorLog, "utf8").split("\n").slice(-15).join("\n")}` : "";
      assert.equal(failed.length, 0, `failed: ${failed.slice(0, 10).join("; ")}${why}`);
      assert.ok(ok > 0);
    }
    nginx!.proc.kill("SIGQUIT");
    for (const { o } of instances) assert.equal((await stop(o)).code, 0);
  });
});
