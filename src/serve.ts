import { readFileSync } from "node:fs";
import type { OryxConfig } from "./config/file.ts";
import { configToSettings } from "./config/file.ts";
import { SETTING_SCOPES, type Bind, type EngineSettingKey, type Settings } from "./config/settings.ts";
import { connectionOptions, serverEdges } from "./server/from-settings.ts";
import { fetchGateway, type FetchHandler } from "./gateway/fetch.ts";
import type { WebSocketHandler } from "./ws/context.ts";
import { createLogger } from "./log.ts";
import { checkNodeInternals } from "./node-internals.ts";
import { openAccessLog } from "./server/access-log.ts";
import { Server, type TlsOptions } from "./server/server.ts";

/** Settings of the CLI's master and workers, or named differently here (bind → port/hostname/unix, TLS → tls). */
const NOT_HERE: readonly string[] = ["app", ...Object.keys(SETTING_SCOPES).filter((k) => SETTING_SCOPES[k as keyof Settings] === "cli")];

/** Settings that make sense for one server in this process (scope "engine" in the settings table). */
type EngineConfig = Pick<OryxConfig, EngineSettingKey>;

export interface ServeOptions extends EngineConfig {
  /** The app: `fetch(request, info)`, as in Bun.serve, Deno.serve and srvx. */
  fetch: FetchHandler;
  /** Bun's WebSocket handlers, for `info.upgrade(request, { data })` in `fetch` (see the README). */
  websocket?: WebSocketHandler<unknown>;
  /** TCP port; 0 picks a free one. Default 8888 (as the CLI). Ignored when `unix` is set. */
  port?: number;
  /** Address to bind. Default 127.0.0.1: only this machine can connect unless told otherwise. */
  hostname?: string;
  /** Serve on this Unix socket path instead of TCP. */
  unix?: string;
  /** Serve HTTPS: PEM texts (`cert`, `key`, optional `ca`), or files (`certFile`, `keyFile`, `caFile`). */
  tls?: TlsOptions | { certFile: string; keyFile: string; caFile?: string };
  /** Aborting it closes the server gracefully. */
  signal?: AbortSignal;
  /** Called once listening (default: one line on standard error, as the CLI writes). Pass false for silence. */
  onListen?: ((server: OryxServer) => void) | false;
}

export interface OryxServer {
  /** Where the server listens, as a root URL: http://127.0.0.1:8888/, https://…/, or unix:/path. Valid once ready. */
  readonly url: string;
  /** The bound TCP port (0 on a Unix socket). Valid once ready. */
  readonly port: number;
  readonly hostname: string;
  /** Resolves when the server accepts connections (rejects if it cannot listen). */
  ready(): Promise<OryxServer>;
  /**
   * Stops accepting, lets requests in flight finish (up to `gracefulTimeout`, default 30 s, or `timeoutMs`),
   * then closes every connection. Resolves when all are closed.
   */
  close(timeoutMs?: number): Promise<void>;
  /** Resolves once the server has been closed. */
  readonly finished: Promise<void>;
}

/**
 * Serves a fetch handler in this process on oryx's engine: the same engine, limits and timeouts as the CLI,
 * one process, no workers. Returns at once; `await server.ready()` to know it listens.
 *
 *     import { serve } from "oryx";
 *     const server = serve({ fetch: () => new Response("hi"), port: 0 });
 *     await server.ready();
 *     console.log(server.url);
 *     await server.close();
 */
export function serve(options: ServeOptions): OryxServer {
  const { fetch, port, hostname, unix, tls, signal, onListen, websocket, ...engine } = options;
  if (typeof fetch !== "function") throw new TypeError("serve() needs a fetch(request) function");
  checkNodeInternals("engine");
  for (const key of NOT_HERE) {
    if (key in engine) {
      throw new TypeError(`serve() has no ${key} option: ${key === "bind" ? "use port and hostname, or unix" : key.endsWith("file") || key === "caCerts" ? "use tls" : "it belongs to the CLI's master and worker processes"}`);
    }
  }
  const settings: Settings = configToSettings(engine as OryxConfig, "serve()");
  const bind: Bind = unix !== undefined ? { kind: "unix", path: unix } : { kind: "tcp", host: hostname ?? "127.0.0.1", port: port ?? 8888 };
  const log = createLogger(settings.logLevel, settings.errorLog);
  const accessLog = settings.accessLog === "" ? null : openAccessLog(settings.accessLog, settings.accessLogFormat, (err) => log.error(`cannot write the access log ${settings.accessLog}`, err));
  const edges = serverEdges(settings);
  const server = new Server({
    binds: [bind],
    backlog: settings.backlog,
    // No connection limit: a worker stops accepting at --worker-connections because its master hands it the
    // socket again when it has room; one server alone would have nobody to do that.
    connection: connectionOptions(settings, fetchGateway(fetch, log), log, accessLog, websocket ?? null),
    ...edges,
    ...(tls !== undefined ? { tls: tlsTexts(tls) } : {}),
  });

  let url = "";
  let boundPort = 0;
  let closing: Promise<void> | null = null;
  let markFinished!: () => void;
  const finished = new Promise<void>((resolve) => (markFinished = resolve));
  const handle: OryxServer = {
    get url() {
      return url;
    },
    get port() {
      return boundPort;
    },
    get hostname() {
      return bind.kind === "tcp" ? bind.host : "";
    },
    ready: () => listening.then(() => handle),
    close: (timeoutMs?: number) => {
      closing ??= listening
        .catch(() => {})
        .then(() => server.close(timeoutMs ?? settings.gracefulTimeout))
        .then(() => accessLog?.close())
        .then(() => {
          signal?.removeEventListener("abort", onAbort);
          log.close?.();
          markFinished();
        });
      return closing;
    },
    finished,
  };
  const onAbort = (): void => void handle.close();
  const listening = server.listen().then(([first]) => {
    // As Bun's and srvx's: the root URL, so `new URL("path", server.url)` and `server.url + "path"` both work.
    url = first!.startsWith("unix:") ? first! : `${first!}/`;
    boundPort = url.startsWith("unix:") ? 0 : Number(new URL(url).port);
    if (onListen === undefined) log.info(`oryx serving on ${first!}`);
    else if (onListen !== false) onListen(handle);
  });
  // A listen failure is reported through ready(); never as an unhandled rejection.
  listening.catch(() => {});
  if (signal !== undefined) {
    if (signal.aborted) void handle.close();
    else signal.addEventListener("abort", onAbort, { once: true });
  }
  return handle;
}

function tlsTexts(t: NonNullable<ServeOptions["tls"]>): TlsOptions {
  if ("cert" in t) return t;
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    ...(t.caFile !== undefined ? { ca: readFileSync(t.caFile) } : {}),
  };
}
