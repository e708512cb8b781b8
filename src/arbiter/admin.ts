import http from "node:http";
import { parseBind } from "../config/settings.ts";
import { ListenError } from "../server/errors.ts";

/**
 * The admin listener (--metrics-bind): served by the master on its own socket, so it answers whatever the
 * workers are doing (all busy, all reloading) and is never reachable on the app's addresses. node:http is
 * enough here: a scrape every few seconds and two probes, none of it on the app's hot path.
 */
export interface AdminHandlers {
  /** The master is alive and at least one worker is ready. */
  healthy(): boolean;
  /** Healthy, and not stopping (nor in --shutdown-delay). */
  ready(): boolean;
  metrics(): Promise<string>;
}

export class AdminServer {
  private readonly server: http.Server;
  url = "";

  constructor(private readonly handlers: AdminHandlers) {
    this.server = http.createServer((req, res) => void this.serve(req, res));
    // A probe or scraper that keeps its connection must not hold the master's exit.
    this.server.keepAliveTimeout = 5000;
  }

  /** Binds `address` (HOST:PORT, normalized by parseMetricsBind). Throws ListenError with a human reason. */
  async listen(address: string): Promise<void> {
    const b = parseBind(address);
    if (b.kind !== "tcp") throw new Error(`--metrics-bind ${address} is not a TCP address`);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(`${address} (--metrics-bind)`, err)));
      this.server.listen({ host: b.host, port: b.port }, () => resolve());
    });
    const a = this.server.address();
    if (a !== null && typeof a !== "string") this.url = a.family === "IPv6" ? `http://[${a.address}]:${a.port}` : `http://${a.address}:${a.port}`;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    const text = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : body);
    };
    switch (path) {
      case "/healthz": {
        const ok = this.handlers.healthy();
        text(ok ? 200 : 503, ok ? "ok\n" : "no worker is ready\n");
        return;
      }
      case "/readyz": {
        const ok = this.handlers.ready();
        text(ok ? 200 : 503, ok ? "ready\n" : "not ready\n");
        return;
      }
      case "/metrics":
        try {
          text(200, await this.handlers.metrics(), "text/plain; version=0.0.4; charset=utf-8");
        } catch (err) {
          text(500, `could not collect the metrics: ${(err as Error).message}\n`);
        }
        return;
      default:
        text(404, "not found: this is oryx's admin listener (/metrics, /healthz, /readyz)\n");
    }
  }
}
