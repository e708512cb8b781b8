/**
 * nginx in the foreground as a reverse proxy in front of oryx, for the tests that need a real one: a config of
 * our own in a directory of the test's, started by pid and stopped by pid. Every nginx started here is
 * remembered; `killNginxes()` in an `after()` ends those still running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { accepting, within } from "./wait.ts";

// Debian puts nginx in /usr/sbin, which is not on every PATH.
const NGINX = existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";

const started = new Set<ChildProcess>();

export interface NginxOptions {
  /** A directory of its own: the prefix, pid file, error log and temp paths go there. */
  home: string;
  /** The lines of `upstream oryx { … }`: its servers and keepalive. */
  upstream: string[];
  /** The ports to listen on, on 127.0.0.1; readiness is checked on the first. */
  port: number;
  /** More `listen` arguments, e.g. "127.0.0.1:8443 ssl". */
  listen?: string[];
  /** Lines of the server block beside the listens and the location (certificates…). */
  server?: string[];
  /** Directives of `location /` beside proxy_pass over HTTP/1.1 with kept-alive upstream connections. */
  location?: string[];
  workerConnections?: number;
}

export interface Nginx {
  proc: ChildProcess;
  /** SIGQUIT (graceful), then SIGKILL if it has not gone in 10 s. */
  stop(): Promise<void>;
}

/** Starts nginx with `opts` and waits (bounded) until it accepts on `opts.port`. */
export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const home = opts.home;
  for (const d of ["client", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(path.join(home, d), { recursive: true });
  const lines = (xs: string[] | undefined, indent: string): string => (xs ?? []).map((x) => `${indent}${x}\n`).join("");
  const conf = `
worker_processes 1;
daemon off;
pid ${home}/nginx.pid;
error_log ${home}/error.log warn;
events { worker_connections ${opts.workerConnections ?? 64}; }
http {
  access_log off;
  client_body_temp_path ${home}/client; proxy_temp_path ${home}/proxy; fastcgi_temp_path ${home}/fastcgi;
  uwsgi_temp_path ${home}/uwsgi; scgi_temp_path ${home}/scgi;
  upstream oryx {
${lines(opts.upstream, "    ")}  }
  server {
    listen 127.0.0.1:${opts.port};
${lines(opts.listen?.map((l) => `listen ${l};`), "    ")}${lines(opts.server, "    ")}    location / {
      proxy_pass http://oryx;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
${lines(opts.location, "      ")}    }
  }
}
`;
  writeFileSync(path.join(home, "nginx.conf"), conf);
  const proc = spawn(NGINX, ["-p", home, "-c", path.join(home, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  started.add(proc);
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  void exited.then(() => started.delete(proc));
  await accepting(opts.port, 10_000, () => proc.exitCode === null, () => `nginx did not start: ${err}`);
  return {
    proc,
    stop: async () => {
      proc.kill("SIGQUIT");
      await within(exited, 10_000, "nginx to stop").catch(() => proc.kill("SIGKILL"));
    },
  };
}

/** For `after()`: SIGKILLs every nginx started here that still runs. */
export function killNginxes(): void {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL");
}
