/** The engine in this process around a fetch handler, on 127.0.0.1:0: fast, and the test sees what the app saw. */
import { defaultSettings, type Settings } from "../../src/config/settings.ts";
import { fetchGateway, type FetchHandler } from "../../src/gateway/fetch.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import type { AccessRecord } from "../../src/server/connection.ts";
import { Server } from "../../src/server/server.ts";
import { connectionOptions } from "../../src/server/from-settings.ts";

export interface TestServer {
  port: number;
  url: string;
  server: Server;
  /** Every Request the app was handed, in order. */
  seen: Request[];
  /** Error-log lines. */
  logs: string[];
  access: AccessRecord[];
  close(): Promise<void>;
}

/** Starts oryx's engine in this process on 127.0.0.1:0 with `handler`; `overrides` change settings. */
export async function startServer(handler: FetchHandler, overrides: Partial<Settings> = {}): Promise<TestServer> {
  const s = { ...defaultSettings(), ...overrides };
  const logs: string[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(line));
  const seen: Request[] = [];
  const access: AccessRecord[] = [];
  const handlerSeen: FetchHandler = (req, info) => {
    seen.push(req);
    return handler(req, info);
  };
  const server = new Server({
    binds: [{ kind: "tcp", host: "127.0.0.1", port: 0 }],
    backlog: s.backlog,
    connection: { ...connectionOptions(s, fetchGateway(handlerSeen, log), log, null), onAccess: (r) => access.push(r) },
  });
  const [url] = await server.listen();
  const port = Number(new URL(url!).port);
  return { port, url: url!, server, seen, logs, access, close: () => server.close(1000) };
}
